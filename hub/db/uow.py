"""Unit of work: one transaction, the events it produced stored in it, published after commit.

Publishing only queues the events for the subscribers (``hub/events.py``): nothing a subscriber
does runs inside the transaction, the caller's locks or the request that made the change.

Event ids are in commit order (durable consumers rely on it: a checkpoint is "every event up to
this id"): on SQLite every writer is serialised by one lock; on PostgreSQL the events are inserted
at the end of the transaction under a transaction-level advisory lock (so two processes' commits
cannot interleave their ids), and within this process the insert, commit and publish run under
one lock (so events are published in id order)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.db import tables as t
from hub.events import CAUSE, SIGNALS, Event, EventBus, with_id

#: the PostgreSQL advisory lock key that orders event ids across hub processes
EVENT_ORDER_LOCK = 7_246_105_373


@dataclass
class Tx:
    conn: AsyncConnection
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event)


class Database:
    def __init__(self, engine: AsyncEngine, bus: EventBus) -> None:
        self.engine = engine
        self.bus = bus
        # SQLite has one writer; serialising writers in-process avoids SQLITE_BUSY upgrades.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        # PostgreSQL: insert events → commit → publish, one transaction at a time in this process.
        self._publish_lock = asyncio.Lock() if self._write_lock is None else None
        #: several processes (``hub/db/fanout.py``): each transaction that stored events notifies
        #: this PostgreSQL channel with its highest event id, delivered at commit
        self.notify_channel: str | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        """A write transaction. Events emitted in it are stored with it, then published."""
        if self._write_lock is not None:
            await self._write_lock.acquire()
        ordering = False
        try:
            published: list[Event] = []
            async with self.engine.begin() as conn:
                tx = Tx(conn)
                yield tx
                if tx.events:
                    if self._publish_lock is not None:
                        await self._publish_lock.acquire()
                        ordering = True
                        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_ORDER_LOCK})
                    published = await _store(conn, tx.events)
                    ids = [e.id for e in published if e.id is not None]
                    if ids and self.bus.local_ids is not None:
                        self.bus.local_ids.update(ids)  # before commit: the fan-out may see it first
                    if ids and self.notify_channel is not None and ordering:
                        await conn.execute(text("SELECT pg_notify(:c, :p)"),
                                           {"c": self.notify_channel, "p": str(max(ids))})
            # committed: publish (synchronous, before any other writer of this process can commit)
            if published:
                self.bus.publish(published)
        finally:
            if ordering and self._publish_lock is not None:
                self._publish_lock.release()
            if self._write_lock is not None:
                self._write_lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn


async def _store(conn: AsyncConnection, events: list[Event]) -> list[Event]:
    cause = CAUSE.get()
    events = [e if e.cause is not None or cause is None else with_id(e, 0, cause) for e in events]
    rows = [e.row() for e in events if e.type not in SIGNALS]
    ids: list[int] = []
    if rows:
        result = await conn.execute(t.events.insert().returning(t.events.c.id, sort_by_parameter_order=True), rows)
        ids = [int(r[0]) for r in result]
    out: list[Event] = []
    it = iter(ids)
    for e in events:
        out.append(e if e.type in SIGNALS else with_id(e, next(it), e.cause))
    return out
