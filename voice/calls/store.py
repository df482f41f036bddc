"""Storage of the call service: SIP accounts, call records, recordings (tables in
:mod:`voice.calls.tables`). Small functions over the hub's unit of work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from hub.errors import Conflict, NotFound, ValidationFailed
from hub.security import new_id
from voice.calls.registrar import Account
from voice.calls.tables import calls as t_calls
from voice.calls.tables import recordings as t_recordings
from voice.calls.tables import sip_accounts as t_accounts
from voice.sip.digest import compute_ha1

if TYPE_CHECKING:
    from hub.app import Services
    from voice.calls.call import Call

__all__ = ["t_accounts", "t_calls", "t_recordings"]

USERNAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+")


def account_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "username": row.username, "user_id": row.user_id, "kind": row.kind,
            "realm": row.realm, "created_at": row.created_at, "updated_at": row.updated_at}


async def load_accounts(services: Services) -> list[Account]:
    async with services.db.read() as conn:
        rows = (await conn.execute(select(t_accounts))).all()
    return [Account(r.id, r.username, r.user_id, r.kind, r.ha1_md5, r.ha1_sha256) for r in rows]


async def list_accounts(services: Services) -> list[dict[str, Any]]:
    async with services.db.read() as conn:
        rows = (await conn.execute(select(t_accounts).order_by(t_accounts.c.username))).all()
    return [account_public(r) for r in rows]


async def upsert_account(services: Services, *, username: str, password: str, realm: str,
                         user_id: str | None, kind: str) -> dict[str, Any]:
    """Create or replace the credentials of ``username`` (only the HA1 values are stored)."""
    if not username or len(username) > 64 or set(username) - USERNAME_OK:
        raise ValidationFailed("username must be 1-64 letters, digits or - _ . +")
    if len(password) < 8:
        raise ValidationFailed("a SIP password needs at least 8 characters")
    if kind not in ("phone", "trunk"):
        raise ValidationFailed("kind must be phone or trunk")
    if kind == "phone" and not user_id:
        raise ValidationFailed("a phone account belongs to a user (user_id)")
    if user_id:
        await services.auth.get_user(user_id)
    now = services.clock.now()
    values = {"realm": realm, "user_id": user_id, "kind": kind,
              "ha1_md5": compute_ha1("MD5", username, realm, password),
              "ha1_sha256": compute_ha1("SHA-256", username, realm, password), "updated_at": now}
    async with services.db.read() as conn:
        existing = (await conn.execute(select(t_accounts).where(t_accounts.c.username == username))).first()
        if kind == "phone":
            other = (await conn.execute(select(t_accounts.c.username).where(
                t_accounts.c.user_id == user_id, t_accounts.c.kind == "phone",
                t_accounts.c.username != username))).first()
            if other is not None:
                raise Conflict(f"this user already has the desk phone account {other.username}")
    async with services.db.tx() as tx:
        if existing is None:
            aid = new_id()
            await tx.conn.execute(t_accounts.insert().values(id=aid, username=username, created_at=now, **values))
        else:
            aid = existing.id
            await tx.conn.execute(update(t_accounts).where(t_accounts.c.id == aid).values(**values))
    async with services.db.read() as conn:
        row = (await conn.execute(select(t_accounts).where(t_accounts.c.id == aid))).one()
    return account_public(row)


async def delete_account(services: Services, username: str) -> None:
    async with services.db.tx() as tx:
        res = await tx.conn.execute(t_accounts.delete().where(t_accounts.c.username == username))
        if res.rowcount == 0:
            raise NotFound(f"SIP account {username} does not exist")


async def insert_call(services: Services, call: Call, now: float, *, ended: bool = False) -> None:
    async with services.db.tx() as tx:
        await tx.conn.execute(t_calls.insert().values(
            id=call.id, sip_call_id=call.invite.call_id[:255], direction="in", source=call.source,
            caller=call.caller_number, callee=call.callee, queue_id=call.queue_id,
            started_at=call.started_at, ended_at=now if ended else None,
            end_reason=call.end_reason if ended else None))


async def update_call(services: Services, call_id: str, **values: Any) -> None:
    async with services.db.tx() as tx:
        await tx.conn.execute(update(t_calls).where(t_calls.c.id == call_id).values(**values))


def recording_audio_url(rid: str) -> str:
    """The one route a recording's WAV is served by (its permission, its audit): the
    attachment's ``route``, so ``GET /api/attachments/{id}`` never serves it."""
    return f"/api/voice/recordings/{rid}/audio"


async def insert_recording(services: Services, call: Call, attachment_id: str, duration: float,
                           now: float, rid: str | None = None) -> str:
    rid = rid or new_id()
    async with services.db.tx() as tx:
        await tx.conn.execute(t_recordings.insert().values(
            id=rid, call_id=call.id, conversation_id=call.conversation_id, attachment_id=attachment_id,
            duration_s=duration, channels=2, sample_rate=8000, created_at=now))
    return rid
