"""A chat customer's identity (issue #16, item 7): what they typed in the pre-chat form is a claim,
not a proof.

A web chat whose pre-chat email or phone matches an existing contact is opened with that contact as
its ``claimed_contact_id`` and no ``contact_id``: nothing that follows a conversation's contact
(VIP priority and owner routing, history, automation rules on ``contact.*``, the customer's own
name on their messages) applies to it. The desk sees the candidate, marked ``verified: false``.

The claim becomes the conversation's contact when it is proven:

* by a one-time code sent to the contact's own address (email or SMS, through the channels' public
  ports: the web chat channel asks for the code here and sends it). A code is six digits, lives
  ``identity_code_ttl_s``, is used once, and only its salted hash is stored; each conversation has
  ``identity_code_max_attempts`` wrong entries in all (a new code does not reset them), after
  which only an agent can confirm;
* or by the handling agent (or a supervisor) confirming "this is …" (``verify_identity``
  permission), audited (``conversation.identity_verified``).

Verified, the conversation is linked (``conversation.contact_linked`` with ``verified: true``) and a
VIP's priority applies from then: raised in the database and, while it waits, in the ACD."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, desc, func, select, update

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database
from hub.errors import HubError, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.auth import User

METHODS = ("email", "sms")
CODE_DIGITS = 6
#: what the desk and the audit trail call each way of proving an identity
VERIFIED_BY = ("email_code", "sms_code", "agent")
#: a VIP's priority raise (as ``ConversationService.open`` gives a known VIP)
VIP_PRIORITY = 10


class IdentityError(HubError):
    code, status, title = "identity_error", 409, "Identity not verified"


class NothingToVerify(IdentityError):
    code, status, title = "identity_nothing_to_verify", 409, "Nothing to verify"


class VerificationLocked(IdentityError):
    code, status, title = "identity_verification_locked", 423, "Verification locked"


class CodeExpired(IdentityError):
    code, status, title = "identity_code_expired", 410, "Code expired"


class CodeInvalid(IdentityError):
    code, status, title = "identity_code_invalid", 422, "Wrong code"


@dataclass(frozen=True)
class IssuedCode:
    """A new code and where it goes (the claimed contact's own address)."""

    code: str
    method: str
    address: str
    masked: str
    expires_at: float
    contact_id: str


def code_hash(code: str, salt: str | None = None) -> str:
    """``salt$sha256(salt + code)`` (hex); compare with :func:`code_matches`."""
    salt = salt or secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + code).encode()).hexdigest()}"


def code_matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(code_hash(code.strip(), salt), stored)


def mask_address(address: str) -> str:
    """What the customer is told about where the code went: ``l***@example.com``, ``*** 2222``."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    digits = "".join(ch for ch in address if ch.isdigit())
    return f"*** {digits[-4:]}"


def identity_state(row: Any) -> dict[str, Any]:
    """How the conversation's contact link stands: ``{contact_id, verified}`` (contact_id None: no
    contact at all)."""
    if row.contact_id:
        return {"contact_id": row.contact_id, "verified": True}
    return {"contact_id": row.claimed_contact_id, "verified": False}


class IdentityService:
    def __init__(self, db: Database, clock: Clock, *, code_ttl_s: float, max_attempts: int) -> None:
        self.db = db
        self.clock = clock
        self.code_ttl_s = code_ttl_s
        self.max_attempts = max_attempts

    # --- one-time codes --------------------------------------------------------------------
    async def issue_code(self, cid: str, method: str) -> IssuedCode:
        """A new code for the conversation's claim, sent (by the caller, after this commits) to the
        claimed contact's ``method`` address; an earlier unused code stops working."""
        if method not in METHODS:
            raise ValidationFailed(f"method must be one of {', '.join(METHODS)}")
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        now = self.clock.now()
        c = t.identity_codes.c

        def work(conn: Connection, _emit: Callable[[Event], None]) -> IssuedCode:
            row = self._claim_row(conn, cid)
            self._check_unlocked(conn, cid)
            contact = conn.execute(select(t.contacts).where(t.contacts.c.id == row.claimed_contact_id)).first()
            if contact is None:
                raise NothingToVerify("the claimed contact no longer exists")
            address = contact.email if method == "email" else contact.phone
            if not address:
                what = "email address" if method == "email" else "phone number"
                raise ValidationFailed(f"this contact has no {what}", code="identity_method_unavailable")
            conn.execute(update(t.identity_codes).where(
                c.conversation_id == cid, c.used_at.is_(None), c.expires_at > now).values(expires_at=now))
            expires = now + self.code_ttl_s
            conn.execute(t.identity_codes.insert().values(
                id=new_id(), conversation_id=cid, contact_id=contact.id, method=method,
                code_hash=code_hash(code), created_at=now, expires_at=expires, attempts=0))
            return IssuedCode(code, method, address, mask_address(address), expires, contact.id)

        return await self.db.write(work)

    async def methods(self, cid: str) -> dict[str, Any]:
        """Which ways the customer can prove the claim (the contact has an email / phone), and
        whether self-verification is locked."""
        def work(conn: Connection) -> dict[str, Any]:
            row = conn.execute(select(t.conversations).where(t.conversations.c.id == cid)).first()
            if row is None:
                raise NotFound(f"conversation {cid} does not exist")
            state = identity_state(row)
            out: dict[str, Any] = {"verified": state["verified"], "claimed": not state["verified"]
                                   and row.claimed_contact_id is not None,
                                   "methods": [], "locked": self._failures(conn, cid) >= self.max_attempts}
            if out["claimed"]:
                contact = conn.execute(select(t.contacts.c.email, t.contacts.c.phone).where(
                    t.contacts.c.id == row.claimed_contact_id)).first()
                if contact is not None:
                    out["methods"] = [m for m, a in (("email", contact.email), ("sms", contact.phone)) if a]
            return out
        return await self.db.read_sync(work)

    async def confirm_code(self, cid: str, code: str) -> Any:
        """The customer enters a code: right, the claim is verified (returns the stored row);
        wrong, one attempt is used (``CodeInvalid`` with ``attempts_left``), and with none left
        the conversation is locked (``VerificationLocked``)."""
        now = self.clock.now()
        c = t.identity_codes.c

        def work(conn: Connection, emit: Callable[[Event], None]) -> tuple[str, Any]:
            row = self._claim_row(conn, cid)
            self._check_unlocked(conn, cid)
            live = conn.execute(select(t.identity_codes).where(
                c.conversation_id == cid, c.used_at.is_(None), c.expires_at > now)
                .order_by(desc(c.created_at)).limit(1)).first()
            if live is None:
                return "expired", None
            if not code_matches(code, live.code_hash):
                conn.execute(update(t.identity_codes).where(c.id == live.id)
                             .values(attempts=live.attempts + 1))
                return "wrong", self.max_attempts - self._failures(conn, cid)
            conn.execute(update(t.identity_codes).where(c.id == live.id).values(used_at=now))
            return "ok", self._link(conn, emit, row, live.contact_id, f"{live.method}_code", None)

        outcome, value = await self.db.write(work)
        if outcome == "expired":
            raise CodeExpired("there is no valid code: ask for a new one")
        if outcome == "wrong":
            if value <= 0:
                raise VerificationLocked("too many wrong codes: an agent can confirm who you are",
                                         details={"attempts_left": 0})
            raise CodeInvalid("the code is not right", details={"attempts_left": value})
        return value

    # --- the agent -------------------------------------------------------------------------
    async def confirm_by_agent(self, cid: str, user: User, contact_id: str | None = None) -> Any:
        """The agent says "this is …": the claimed contact (or ``contact_id``, another one the
        agent recognised) becomes the conversation's, verified, audited. The caller checks that
        ``user`` may (``verify_identity``, handling the conversation)."""
        def work(conn: Connection, emit: Callable[[Event], None]) -> Any:
            row = conn.execute(select(t.conversations).where(t.conversations.c.id == cid)
                               .with_for_update()).first()
            if row is None:
                raise NotFound(f"conversation {cid} does not exist")
            target = contact_id or row.claimed_contact_id
            if target is None:
                raise NothingToVerify("the customer claimed no contact: give contact_id")
            if row.contact_id == target:
                raise NothingToVerify("the conversation is already linked to this contact")
            return self._link(conn, emit, row, target, "agent", user.id)

        return await self.db.write(work)

    # --- shared steps ----------------------------------------------------------------------
    @staticmethod
    def _claim_row(conn: Connection, cid: str) -> Any:
        row = conn.execute(select(t.conversations).where(t.conversations.c.id == cid)
                           .with_for_update()).first()
        if row is None:
            raise NotFound(f"conversation {cid} does not exist")
        if row.claimed_contact_id is None:
            raise NothingToVerify("there is no claimed identity to verify")
        if row.status in ("closed", "abandoned"):
            raise NothingToVerify("the chat has ended")
        return row

    def _failures(self, conn: Connection, cid: str) -> int:
        c = t.identity_codes.c
        return int(conn.execute(select(func.coalesce(func.sum(c.attempts), 0))
                                .where(c.conversation_id == cid)).scalar() or 0)

    def _check_unlocked(self, conn: Connection, cid: str) -> None:
        if self._failures(conn, cid) >= self.max_attempts:
            raise VerificationLocked("too many wrong codes: an agent can confirm who you are",
                                     details={"attempts_left": 0})

    def _link(self, conn: Connection, emit: Callable[[Event], None], row: Any, contact_id: str,
              method: str, user_id: str | None) -> Any:
        """Make ``contact_id`` the conversation's contact, verified by ``method``: a VIP's
        priority (and the ACD's VIP flag and owner) from now on; returns the stored row."""
        contact = conn.execute(select(t.contacts).where(t.contacts.c.id == contact_id)).first()
        if contact is None:
            raise NotFound(f"contact {contact_id} does not exist")
        now = self.clock.now()
        meta = {**(row.meta or {}), "identity": {"verified": True, "method": method, "at": now,
                                                  "by": user_id, "contact_id": contact_id}}
        waiting = row.status in ("bot", "queued", "offered", "pending")
        priority = row.priority
        if waiting:
            meta["vip"] = bool(contact.vip)
            meta["owner_agent_id"] = contact.owner_agent_id
            if contact.vip and not (row.meta or {}).get("vip"):
                priority += VIP_PRIORITY
        conn.execute(update(t.conversations).where(t.conversations.c.id == row.id).values(
            contact_id=contact_id, claimed_contact_id=None, priority=priority, meta=meta,
            updated_at=now))
        emit(Event(EventType.CONVERSATION_CONTACT_LINKED, now, conversation_id=row.id, user_id=user_id,
                   queue_id=row.queue_id, data={"contact_id": contact_id, "assignee_id": row.assignee_id,
                                                "verified": True, "method": method}))
        emit(Event(EventType.CONVERSATION_IDENTITY_VERIFIED, now, conversation_id=row.id,
                   user_id=user_id, queue_id=row.queue_id,
                   data={"contact_id": contact_id, "claimed_contact_id": row.claimed_contact_id,
                         "method": method, "priority": priority}))
        return conn.execute(select(t.conversations).where(t.conversations.c.id == row.id)).one()
