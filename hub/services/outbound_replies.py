"""Agent replies that a channel sends back out (SMS, fax, email): durable end to end.

A channel records an agent's reply in its own outbound store (a row of a channel's own table, a
document with its job) when it sees the committed ``MESSAGE_CREATED`` event. The event is
dispatched after the message's commit, so a crash in between would lose the outbound copy (never
the message). ``OutboundReplies`` closes that window: it subscribes the channel to agent replies in
its conversations and, on every start, RECONCILES: agent messages of the last
``outbound_reply_window_s`` seconds in the channel's conversations that have neither an outbound
record nor an "unsent" note are handed to the channel again.

Exactly once: the channel's ``send`` must be idempotent per message id (a unique key on the message
id in its outbound table), because the live event and the reconcile may both see a message. A
reply the channel cannot send (a ``HubError``: no number, too long …) gets a system note keyed by
the message (``client_id = unsent:<channel>:<message id>``): written once, and it marks the
message as handled so a later reconcile does not try again.

The hub knows no channel protocol here: a channel passes its name, the label of its notes, an
EXISTS condition over its own table (``recorded``) and its ``send``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, literal, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from hub.db import tables as t
from hub.errors import HubError
from hub.events import Event, EventType
from hub.services.attachments import attachment_public
from hub.services.conversations import message_public

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

#: ``send(message, conversation_row)``: record the reply in the channel's outbound store, once per
#: message id (a repeat is a no-op); raise a ``HubError`` when it cannot be sent at all.
Send = Callable[[dict[str, Any], Any], Awaitable[Any]]
#: ``recorded(message_id_column)``: an EXISTS condition, true when the channel has an outbound
#: record for that message.
Recorded = Callable[[ColumnElement[Any]], ColumnElement[bool]]

RECONCILE_BATCH = 200


def unsent_key(channel: str, message_id: str) -> str:
    """The ``client_id`` of the note saying a reply was not sent (unique per conversation)."""
    return f"unsent:{channel}:{message_id}"


class OutboundReplies:
    def __init__(self, services: Services, channel: str, *, label: str, recorded: Recorded,
                 send: Send, unsent_text: str = "This reply was not sent by {label}: {detail}") -> None:
        self.s = services
        self.channel = channel
        self.label = label
        self.recorded = recorded
        self.send = send
        self.unsent_text = unsent_text
        self.window_s = services.settings.outbound_reply_window_s
        self._running = False
        self._subscribed = False
        self._task: asyncio.Task[int] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe to agent replies, then reconcile in the background (the live path and the
        reconcile may meet on one message: ``send`` is idempotent)."""
        self._running = True
        if not self._subscribed:  # once per instance
            # a durable consumer: a reply committed just before a crash is handed over after restart
            self.s.bus.consume(f"{self.channel}.replies", self.on_hub_event, types=(EventType.MESSAGE_CREATED,))
            self._subscribed = True
        self._task = asyncio.create_task(self._reconcile_logged(),
                                         name=f"{self.channel}-reply-reconcile")

    async def stop(self) -> None:
        self._running = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def reconciled(self, within_s: float = 60) -> int:
        """Wait for the start-up reconcile; returns how many replies it handed to the channel."""
        assert self._task is not None, "not started"
        async with asyncio.timeout(within_s):
            return await asyncio.shield(self._task)

    # --- the live path ---------------------------------------------------------------------
    async def on_hub_event(self, ev: Event) -> None:
        if not self._running or ev.type is not EventType.MESSAGE_CREATED or not ev.conversation_id:
            return
        msg: dict[str, Any] = ev.data["message"]
        if msg["sender"] != "agent" or msg["kind"] != "message":
            return
        row = await self.s.conversations.row(ev.conversation_id)
        if row.channel != self.channel:
            return
        await self.handle(msg, row)

    async def handle(self, msg: dict[str, Any], row: Any) -> None:
        try:
            await self.send(msg, row)
        except HubError as err:  # cannot be sent at all: say so once, and do not retry
            await self._note(row.id, self.unsent_text.format(label=self.label, detail=err.detail),
                             client_id=unsent_key(self.channel, msg["id"]))
        except Exception as err:  # noqa: BLE001 - never lose a reply silently; retried on start
            log.exception("%s: could not queue the reply %s", self.channel, msg["id"])
            await self._note(row.id, f"This reply could not be queued for sending by {self.label} "
                                     f"({err}); it is tried again when the channel restarts.")

    async def _note(self, cid: str, text: str, client_id: str | None = None) -> None:
        conv = self.s.conversations
        try:
            await conv.add_message(cid, sender="system", kind="system", body=text[:2000],
                                   sender_name=self.label, client_id=client_id)
        except HubError:  # e.g. closed meanwhile: a note is still allowed
            await conv.add_message(cid, sender="system", kind="note", body=text[:2000],
                                   sender_name=self.label, client_id=client_id)

    # --- the reconcile ---------------------------------------------------------------------
    async def _reconcile_logged(self) -> int:
        try:
            return await self.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the live path still works; the next start tries again
            log.exception("%s: reconciling agent replies failed", self.channel)
            return 0

    async def pending(self, limit: int = RECONCILE_BATCH, after: tuple[float, str] | None = None
                      ) -> list[tuple[dict[str, Any], Any]]:
        """Agent messages in this channel's conversations, within the window, with neither an
        outbound record nor an "unsent" note: (message, conversation row), oldest first."""
        m, c = t.messages.c, t.conversations.c
        note = aliased(t.messages)
        since = self.s.clock.now() - self.window_s
        cond = [c.channel == self.channel, m.sender == "agent", m.kind == "message",
                m.created_at >= since, ~self.recorded(m.id),
                ~exists().where(note.c.conversation_id == m.conversation_id,
                                note.c.client_id == literal(f"unsent:{self.channel}:") + m.id)]
        if after is not None:
            cond.append((m.created_at > after[0]) | and_(m.created_at == after[0], m.id > after[1]))
        query = (select(t.messages, t.conversations.c.id.label("conv_id"))
                 .select_from(t.messages.join(t.conversations, c.id == m.conversation_id))
                 .where(*cond).order_by(m.created_at, m.id).limit(limit))
        async with self.s.db.read() as conn:
            rows = (await conn.execute(query)).all()
            ids = [r.id for r in rows]
            arows = (await conn.execute(select(t.attachments).where(
                t.attachments.c.message_id.in_(ids)))).all() if ids else []
        by_msg: dict[str, list[dict[str, Any]]] = {}
        for a in arows:
            by_msg.setdefault(a.message_id, []).append(attachment_public(a))
        out = []
        for r in rows:
            out.append((message_public(r, by_msg.get(r.id)), await self.s.conversations.row(r.conv_id)))
        return out

    async def reconcile(self) -> int:
        """Hand every pending reply to the channel; returns how many."""
        count = 0
        after: tuple[float, str] | None = None
        while True:
            batch = await self.pending(after=after)
            for msg, row in batch:
                await self.handle(msg, row)
                count += 1
            if len(batch) < RECONCILE_BATCH:
                break
            after = (batch[-1][0]["created_at"], batch[-1][0]["id"])
        if count:
            log.info("%s: %d agent repl%s recovered on start", self.channel, count,
                     "y" if count == 1 else "ies")
        return count
