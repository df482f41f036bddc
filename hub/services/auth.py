"""Users, roles, permissions and sessions (ADMIN-1)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, select, update

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database
from hub.errors import (
    Conflict,
    DemoPasswordRefused,
    Forbidden,
    InvalidCredentials,
    NotFound,
    ValidationFailed,
)
from hub.events import Event, EventType
from hub.ratelimit import LoginGuard
from hub.security import (
    DEFAULT_SCRYPT,
    ScryptParams,
    hash_password,
    needs_rehash,
    new_id,
    new_token,
    token_hash,
    verify_password,
)

#: the languages of the web UI (web/src/i18n/locales)
LANGUAGES = ("zh-CN", "en")

ROLES = ("agent", "supervisor", "dispatcher", "department", "knowledge_manager", "admin")

# kb: read/search the FAQ and send feedback; kb_edit: write drafts, import/export; kb_publish:
# publish/archive/restore. tickets: create and work tickets and work orders; dispatch: the dispatch
# centre's work-order queue; department: a repair department's own work orders; automation: rules,
# SLA policies, IVR flows; bulk_send: bulk and scheduled email/SMS/fax. contacts_manage: the
# destructive or privileged CRM actions (deleting and merging contacts, setting VIP or the owner).
# privacy: a contact's data-subject export and erasure.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset({"desk", "contacts", "kb", "tickets", "verify_identity"}),
    "supervisor": frozenset({"desk", "wallboard", "supervise", "contacts", "contacts_import",
                             "contacts_manage", "kb", "tickets", "dispatch", "reports", "bulk_send",
                             "verify_identity"}),
    "dispatcher": frozenset({"contacts", "kb", "tickets", "dispatch", "reports"}),
    "department": frozenset({"department"}),
    "knowledge_manager": frozenset({"contacts", "kb", "kb_edit", "kb_publish"}),
    "admin": frozenset({"admin", "privacy", "wallboard", "supervise", "contacts", "contacts_import",
                        "contacts_manage", "kb", "kb_edit", "automation", "reports", "bulk_send",
                        "tickets", "dispatch"}),
}

_T = TypeVar("_T")

DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "email": 5, "sms": 5, "fax": 5}

#: the password of the demo users (hub/demo.py), published in the README: refused at login when
#: demo data is off, and never accepted as a new password
DEMO_PASSWORD = "demo"
MIN_PASSWORD_LENGTH = 10


def check_password_policy(password: str, username: str) -> None:
    """A new or changed password: at least :data:`MIN_PASSWORD_LENGTH` characters, not the
    username, not the demo password (ValidationFailed with a code per rule)."""
    def refuse(message: str, code: str) -> ValidationFailed:
        return ValidationFailed(message, code=code, details={
            "errors": [{"loc": ["body", "password"], "msg": message, "type": code}]})

    if password.strip().lower() == DEMO_PASSWORD:
        raise refuse("the published demo password cannot be used; choose another password",
                     "password_is_demo")
    if password.strip().lower() == username.strip().lower():
        raise refuse("the password cannot be the username", "password_is_username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long",
                     "password_too_short")


@dataclass(frozen=True)
class Client:
    """Where a request came from, as the audit trail records it: the client's IP address
    (``hub.api.http.client_ip``) and its user agent."""

    ip: str | None = None
    user_agent: str | None = None

    def audit(self) -> dict[str, str | None]:
        """The fields an audited event's data carries."""
        return {"ip": (self.ip or None) and self.ip[:64],
                "user_agent": (self.user_agent or None) and self.user_agent[:200]}


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    skills: dict[str, int] = field(default_factory=dict)
    capacity: dict[str, int] = field(default_factory=dict)
    active: bool = True
    #: the web UI's language (one of :data:`LANGUAGES`); None: the browser's
    language: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        perms: set[str] = set()
        for role in self.roles:
            perms |= ROLE_PERMISSIONS.get(role, frozenset())
        return frozenset(perms)

    @property
    def is_agent(self) -> bool:
        return "agent" in self.roles or "supervisor" in self.roles

    def require(self, permission: str) -> None:
        if permission not in self.permissions:
            raise Forbidden(f"this needs the {permission!r} permission")

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "username": self.username, "display_name": self.display_name,
            "roles": list(self.roles), "permissions": sorted(self.permissions),
            "skills": dict(self.skills), "capacity": dict(self.capacity), "active": self.active,
            "language": self.language,
        }


def _user(row: Any) -> User:
    return User(id=row.id, username=row.username, display_name=row.display_name,
                roles=tuple(row.roles), skills=dict(row.skills or {}),
                capacity=dict(row.capacity or {}), active=row.active, language=row.language)


def _check_user_fields(data: dict[str, Any]) -> None:
    roles = data.get("roles")
    if roles is not None:
        bad = [r for r in roles if r not in ROLES]
        if bad or not roles:
            raise ValidationFailed(f"roles must be a non-empty subset of {', '.join(ROLES)}",
                                   details={"errors": [{"loc": ["body", "roles"],
                                                        "msg": f"unknown roles {bad}"}]})
    for key in ("skills", "capacity"):
        for name, level in (data.get(key) or {}).items():
            if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
                raise ValidationFailed(f"{key}.{name} must be an integer 0..100")
    cap = data.get("capacity") or {}
    unknown = set(cap) - set(DEFAULT_CAPACITY)
    if unknown:
        raise ValidationFailed(f"capacity has unknown channels {sorted(unknown)}")


class AuthService:
    def __init__(self, db: Database, clock: Clock, session_ttl_s: int,
                 max_failures: int = 10, failure_window_s: float = 300, *,
                 scrypt: ScryptParams = DEFAULT_SCRYPT, demo: bool = False) -> None:
        self.db = db
        self.clock = clock
        self.session_ttl_s = session_ttl_s
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        #: failed logins per (client IP, username): an attacker elsewhere cannot lock a user out
        self.guard = LoginGuard(max_failures, failure_window_s)
        self._dummy_hash: str | None = None
        #: parameters of new password hashes; a login with an older hash stores a new one
        self.scrypt = scrypt
        #: demo data on: the demo password (DEMO_PASSWORD) may log in
        self.demo = demo
        self._hashing = asyncio.Semaphore(2)

    async def _scrypt(self, fn: Callable[..., _T], *args: Any) -> _T:
        """A password hash or check in a worker thread (scrypt releases the GIL): at OWASP's cost
        one takes a few hundred milliseconds and 128 MiB, which the event loop must not wait for;
        at most two at a time bound the memory."""
        async with self._hashing:
            return await asyncio.to_thread(fn, *args)

    # --- sessions -------------------------------------------------------------------------
    # A session is a row keyed by the hash of its cookie's token; its public id (``session_id``) is
    # the first 16 hex digits of that hash (neither is a credential: the cookie carries the token).
    # Ending sessions (logout, an administrator's or the user's own "end", deactivation, a new
    # password) deletes the rows and emits ``user.access_changed``, on which every process closes
    # the sockets opened with them (hub/realtime.py); a change of roles closes the user's sockets
    # too, so they reconnect with the rooms their new roles allow.
    async def login(self, username: str, password: str, *, ip: str | None = None,
                    user_agent: str | None = None) -> tuple[str, User]:
        now = self.clock.now()
        client = ip or "-"
        seen = Client(ip, user_agent).audit()  # what each login event records about the client
        self.guard.check(client, username)
        if not self.demo and password == DEMO_PASSWORD:
            # the demo users' password is published: without demo data it opens no account
            self.guard.failed(client, username)
            async with self.db.tx() as tx:
                tx.emit(Event(EventType.USER_LOGIN_FAILED, now,
                              data={"username": username[:64], "reason": "demo_password", **seen}))
            raise DemoPasswordRefused(
                "The demo password is not accepted because demo data is off. Ask an administrator "
                "to set a new password for this account (a first administrator is created with "
                "'python server.py create-admin').")
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.users).where(t.users.c.username == username))).first()
        # an unknown user costs the same hash as a known one: the answer's timing tells nothing
        stored = row.password_hash if row is not None else await self._dummy()
        if not await self._scrypt(verify_password, password, stored) or row is None or not row.active:
            self.guard.failed(client, username)
            async with self.db.tx() as tx:
                tx.emit(Event(EventType.USER_LOGIN_FAILED, now,
                              data={"username": username[:64], **seen}))
            raise InvalidCredentials()
        self.guard.succeeded(client, username)
        token = new_token()
        # a hash made with older (weaker) parameters is replaced now that the password is known
        rehashed = (await self._scrypt(hash_password, password, self.scrypt)
                    if needs_rehash(row.password_hash, self.scrypt) else None)
        async with self.db.tx() as tx:
            if rehashed is not None:
                await tx.conn.execute(update(t.users).where(
                    t.users.c.id == row.id, t.users.c.password_hash == row.password_hash)
                    .values(password_hash=rehashed))
            await tx.conn.execute(t.sessions.insert().values(
                token_hash=token_hash(token), user_id=row.id, created_at=now,
                expires_at=now + self.session_ttl_s, ip=(ip or None) and ip[:64],
                user_agent=(user_agent or None) and user_agent[:200]))
            tx.emit(Event(EventType.USER_LOGIN, now, user_id=row.id, data=seen))
        return token, _user(row)

    async def _dummy(self) -> str:
        """A hash with the current parameters that no password matches (made once)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self._scrypt(hash_password, new_token(), self.scrypt)
        return self._dummy_hash

    async def logout(self, token: str, client: Client | None = None) -> None:
        hashed = token_hash(token)
        async with self.db.tx() as tx:
            res = await tx.conn.execute(
                delete(t.sessions).where(t.sessions.c.token_hash == hashed)
                .returning(t.sessions.c.user_id))
            uid = res.scalar()
            if uid:
                now = self.clock.now()
                tx.emit(Event(EventType.USER_LOGOUT, now, user_id=uid,
                              data=(client or Client()).audit()))
                tx.emit(_access_changed(now, uid, [hashed], "logout"))

    async def session_for_token(self, token: str | None) -> tuple[User, str, float] | None:
        """The user, session hash and expiry time behind a cookie's token (None: no valid session)."""
        if not token:
            return None
        hashed = token_hash(token)
        query = (select(t.users, t.sessions.c.expires_at)
                 .join(t.sessions, t.sessions.c.user_id == t.users.c.id)
                 .where(t.sessions.c.token_hash == hashed))
        row = await self.db.read_sync(lambda conn: conn.execute(query).first())
        if row is None or row.expires_at < self.clock.now() or not row.active:
            return None
        return _user(row), hashed, float(row.expires_at)

    async def sessions(self, user_id: str, current_token: str | None = None) -> list[dict[str, Any]]:
        """The user's sessions that have not expired, newest first (``current``: the caller's)."""
        s = t.sessions.c
        current = token_hash(current_token) if current_token else None
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.sessions).where(
                s.user_id == user_id, s.expires_at >= self.clock.now())
                .order_by(s.created_at.desc()))).all()
        return [{"id": session_id(r.token_hash), "created_at": r.created_at, "expires_at": r.expires_at,
                 "ip": r.ip, "user_agent": r.user_agent, "current": r.token_hash == current}
                for r in rows]

    async def end_sessions(self, user_id: str, *, actor: User, session: str | None = None,
                           reason: str) -> int:
        """End one of the user's sessions (by its id) or all of them; returns how many ended.
        Ending one that does not exist (or is not the user's) is a NotFound."""
        s = t.sessions.c
        cond = [s.user_id == user_id]
        if session is not None:
            if not _SESSION_ID.fullmatch(session):
                raise NotFound(f"session {session} does not exist")
            cond.append(s.token_hash.startswith(session))
        now = self.clock.now()
        async with self.db.tx() as tx:
            hashes = list((await tx.conn.execute(delete(t.sessions).where(*cond)
                                                 .returning(s.token_hash))).scalars())
            if session is not None and not hashes:
                raise NotFound(f"session {session} does not exist")
            if hashes:
                tx.emit(_access_changed(now, user_id, hashes if session is not None else None, reason))
                tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id, data={
                    "entity": "session", "id": user_id, "action": "end",
                    "sessions": [session_id(h) for h in hashes], "reason": reason}))
        return len(hashes)

    async def user_for_token(self, token: str | None) -> User | None:
        if not token:
            return None
        query = (select(t.users, t.sessions.c.expires_at)
                 .join(t.sessions, t.sessions.c.user_id == t.users.c.id)
                 .where(t.sessions.c.token_hash == token_hash(token)))
        row = await self.db.read_sync(lambda conn: conn.execute(query).first())
        if row is None or row.expires_at < self.clock.now() or not row.active:
            return None
        return _user(row)

    async def user_for_token_id(self, user_id: str | None) -> User | None:
        """The user behind an authenticated socket, re-read so a deactivation takes effect."""
        if not user_id:
            return None
        try:
            user = await self.get_user(user_id)
        except NotFound:
            return None
        return user if user.active else None

    # --- users ----------------------------------------------------------------------------
    async def list_users(self) -> list[User]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.users).order_by(t.users.c.username))).all()
        return [_user(r) for r in rows]

    async def user_by_username(self, username: str) -> User:
        return await self._one_user(t.users.c.username == username, f"no user is called {username!r}")

    async def get_user(self, user_id: str) -> User:
        return await self._one_user(t.users.c.id == user_id, f"user {user_id} does not exist")

    async def _one_user(self, where: ColumnElement[bool], missing: str) -> User:
        query = select(t.users).where(where)
        row = await self.db.read_sync(lambda conn: conn.execute(query).first())
        if row is None:
            raise NotFound(missing)
        return _user(row)

    async def create_user(self, data: dict[str, Any], actor: User | None = None, *,
                          password_hash: str | None = None) -> User:
        """A new user. ``password_hash`` (internal: demo seeding) is a ready scrypt hash of
        ``data["password"]``, so seeding eleven demo users does not hash "demo" eleven times;
        without it the password must meet :func:`check_password_policy`."""
        _check_user_fields(data)
        if not data.get("password"):
            raise ValidationFailed("password is required for a new user")
        if password_hash is None:
            check_password_policy(data["password"], data["username"])
        uid = new_id()
        now = self.clock.now()
        async with self.db.read() as conn:
            if (await conn.execute(select(t.users.c.id)
                                   .where(t.users.c.username == data["username"]))).first():
                raise Conflict(f"username {data['username']!r} is taken")
        async with self.db.tx() as tx:
            await tx.conn.execute(t.users.insert().values(
                id=uid, username=data["username"],
                display_name=data.get("display_name") or data["username"],
                password_hash=password_hash or await self._scrypt(hash_password, data["password"],
                                                                  self.scrypt),
                roles=list(data.get("roles") or ["agent"]), skills=dict(data.get("skills") or {}),
                capacity={**DEFAULT_CAPACITY, **(data.get("capacity") or {})},
                active=data.get("active", True), language=data.get("language"), created_at=now))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id if actor else None,
                          data={"entity": "user", "id": uid, "action": "create"}))
        return await self.get_user(uid)

    async def update_user(self, user_id: str, data: dict[str, Any], actor: User) -> User:
        _check_user_fields(data)
        before = await self.get_user(user_id)
        values = {k: v for k, v in data.items()
                  if k in {"display_name", "roles", "skills", "capacity", "active", "language"} and v is not None}
        if data.get("password"):
            check_password_policy(data["password"], before.username)
            values["password_hash"] = await self._scrypt(hash_password, data["password"], self.scrypt)
        if "capacity" in values:
            values["capacity"] = {**DEFAULT_CAPACITY, **values["capacity"]}
        now = self.clock.now()
        async with self.db.tx() as tx:
            if values:
                await tx.conn.execute(update(t.users).where(t.users.c.id == user_id).values(**values))
            # deactivated or given a new password: every session ends (someone else's reset
            # password must not leave the old holder logged in); new roles: sockets reconnect
            reason = "deactivated" if values.get("active") is False else \
                "password_changed" if "password_hash" in values else \
                "roles_changed" if "roles" in values and sorted(values["roles"]) != sorted(before.roles) else None
            if reason in ("deactivated", "password_changed"):
                await tx.conn.execute(delete(t.sessions).where(t.sessions.c.user_id == user_id))
            if reason is not None:
                tx.emit(_access_changed(now, user_id, None, reason))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id,
                          data={"entity": "user", "id": user_id, "action": "update",
                                "fields": sorted(values)}))
        return await self.get_user(user_id)

    async def set_language(self, user: User, language: str | None) -> User:
        """The user's own choice of UI language (None: follow the browser)."""
        if language is not None and language not in LANGUAGES:
            raise ValidationFailed(f"language must be one of {', '.join(LANGUAGES)}", code="unsupported_language",
                                   details={"errors": [{"loc": ["body", "language"], "msg": "unsupported language",
                                                        "type": "unsupported_language"}]})
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.users).where(t.users.c.id == user.id).values(language=language))
        return await self.get_user(user.id)

    async def delete_user(self, user_id: str, actor: User) -> None:
        if user_id == actor.id:
            raise Conflict("you cannot delete yourself")
        await self.get_user(user_id)
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.users).where(t.users.c.id == user_id)
                                  .values(active=False))
            await tx.conn.execute(delete(t.sessions).where(t.sessions.c.user_id == user_id))
            now = self.clock.now()
            tx.emit(_access_changed(now, user_id, None, "deactivated"))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id,
                          data={"entity": "user", "id": user_id, "action": "deactivate"}))


_SESSION_ID = re.compile(r"[0-9a-f]{16}")


def session_id(hashed: str) -> str:
    """A session's public id: the start of its token's hash."""
    return hashed[:16]


def _access_changed(at: float, user_id: str, sessions: list[str] | None, reason: str) -> Event:
    return Event(EventType.USER_ACCESS_CHANGED, at, user_id=user_id,
                 data={"sessions": sessions, "reason": reason})
