"""The email channel's records (``email_messages``, EMAIL-1): per email that entered or left a
conversation its Message-ID (threading), the sanitised HTML and, for outbound mail, the delivery
state.

An inbound mail's row is written in the same transaction as its message: the channel hands
``rows_for(email)`` to ``ConversationService.open``/``add_message`` as ``extra_rows``, inside
``deduplicated(email)``, which turns a conflict on the row's unique ``dedupe_key`` (a re-delivered
mail) into ``DuplicateEmail``: the caller answers with the stored message, nothing is stored twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import ColumnElement, Executable, Insert, desc, exists, select, update
from sqlalchemy.exc import IntegrityError

from channels.email.tables import email_messages
from hub.clock import Clock
from hub.db.uow import Database
from hub.errors import Conflict
from hub.security import new_id
from hub.services.conversations import ExtraRows

E = email_messages.c


class DuplicateEmail(Conflict):
    """The email (same ``dedupe_key``) is already stored: a re-delivery, answered as success."""

    code = "duplicate_email"


class EmailStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- writing --------------------------------------------------------------------------------
    def insert(self, cid: str, message_id: str | None, email: dict[str, Any],
               eid: str | None = None) -> Insert:
        """The insert of one email row (``eid``: its id, new when not given)."""
        return email_messages.insert().values(
            id=eid or new_id(), conversation_id=cid, message_id=message_id,
            direction=email.get("direction", "in"), rfc_message_id=email["rfc_message_id"],
            mid_hash=email["mid_hash"], dedupe_key=email["dedupe_key"],
            subject=email.get("subject"), from_addr=email.get("from_addr"),
            to_addrs=list(email.get("to_addrs") or []), html=email.get("html"),
            meta=dict(email.get("meta") or {}), status=email.get("status", "received"),
            attempts=int(email.get("attempts", 0)), created_at=self.clock.now())

    def rows_for(self, cid: str, email: dict[str, Any]) -> ExtraRows:
        """``extra_rows`` for the conversation service: the email's row in conversation ``cid``,
        linked to the new message (a conversation ``open`` creates: the id chosen ahead and passed
        to it as ``conversation_id``)."""
        def rows(message_id: str) -> Sequence[Executable]:
            return (self.insert(cid, message_id, email),)
        return rows

    @asynccontextmanager
    async def deduplicated(self, email: dict[str, Any]) -> AsyncIterator[None]:
        """Around a write that stores ``email``: a unique-key conflict there, with this email's
        ``dedupe_key`` already stored, raises ``DuplicateEmail``; any other conflict propagates."""
        try:
            yield
        except IntegrityError as err:
            if await self.by_dedupe(email["dedupe_key"]) is not None:
                raise DuplicateEmail(f"email {email['rfc_message_id']} is already stored") from err
            raise

    async def record(self, cid: str, message_id: str | None, email: dict[str, Any]) -> str:
        """Store an email row on its own (an agent's reply recorded after its message)."""
        eid = new_id()
        async with self.db.tx() as tx:
            await tx.conn.execute(self.insert(cid, message_id, email, eid))
        return eid

    async def update(self, eid: str, **values: Any) -> None:
        async with self.db.tx() as tx:
            await tx.conn.execute(update(email_messages).where(E.id == eid).values(**values))

    # --- reading --------------------------------------------------------------------------------
    async def by_dedupe(self, dedupe_key: str) -> Any | None:
        query = select(email_messages).where(E.dedupe_key == dedupe_key)
        return await self.db.read_sync(lambda conn: conn.execute(query).first())

    async def thread_conversation(self, mid_hashes: list[str]) -> str | None:
        """The newest conversation holding an email whose Message-ID hash is one of these."""
        if not mid_hashes:
            return None
        query = (select(E.conversation_id).where(E.mid_hash.in_(mid_hashes))
                 .order_by(desc(E.created_at)).limit(1))
        return await self.db.read_sync(lambda conn: conn.execute(query).scalar())

    async def rows(self, cid: str) -> list[Any]:
        """A conversation's emails, oldest first."""
        async with self.db.read() as conn:
            return list((await conn.execute(select(email_messages).where(
                E.conversation_id == cid).order_by(E.created_at, E.id))).all())

    async def for_message(self, message_id: str) -> Any | None:
        async with self.db.read() as conn:
            return (await conn.execute(select(email_messages).where(E.message_id == message_id))).first()

    async def outbound(self, status: str) -> list[Any]:
        async with self.db.read() as conn:
            return list((await conn.execute(select(email_messages).where(
                E.direction == "out", E.status == status).order_by(E.created_at))).all())

    @staticmethod
    def reply_recorded(message_id: Any) -> ColumnElement[bool]:
        """True where the agent's message already has its outbound email (``OutboundReplies``)."""
        return exists().where(E.message_id == message_id, E.direction == "out")
