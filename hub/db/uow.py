"""Unit of work: one transaction, the events it produced persisted in it, dispatched after commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.db import tables as t
from hub.events import SIGNALS, Event, EventBus


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

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        """A write transaction. Events emitted in it are stored with it, then dispatched."""
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            async with self.engine.begin() as conn:
                tx = Tx(conn)
                yield tx
                stored = [e.row() for e in tx.events if e.type not in SIGNALS]
                if stored:
                    await conn.execute(t.events.insert(), stored)
        finally:
            if self._write_lock is not None:
                self._write_lock.release()
        if tx.events:
            await self.bus.dispatch(tx.events)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn
