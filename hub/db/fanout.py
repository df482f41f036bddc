"""Committed events of every hub process, for every hub process (several processes on one
PostgreSQL database: docs/SCALING.md).

Each transaction that stored events also runs ``pg_notify('hub_events', '<its highest id>')``
(``Database.notify_channel``), delivered at commit. Every process LISTENs on a dedicated asyncpg
connection (reconnecting when it fails) and, on a notification or at least every ``poll_s``,
reads the events after the last id it has seen from the ``events`` table (the catch-up log) and
hands the ones another process committed to ``EventBus.publish_remote``. Event ids are in global
commit order (``hub/db/uow.py``), so reading "after the last id seen" never skips an event.

Only used with several processes (``redis_url`` set): one process keeps its in-memory path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from hub.events import ConsumerStore, EventBus

log = logging.getLogger(__name__)

CHANNEL = "hub_events"


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://…``) as a libpq DSN for asyncpg."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class EventFanout:
    def __init__(self, dsn: str, bus: EventBus, store: ConsumerStore, *, poll_s: float = 1.0,
                 batch: int = 1000) -> None:
        self.dsn = dsn
        self.bus = bus
        self.store = store
        self.poll_s = poll_s
        self.batch = batch
        self.last_seen = 0
        self.remote_published = 0  # events of other processes handed to the bus (stats)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None

    async def start(self) -> None:
        """From the log's head on: earlier events are the durable consumers' (replayed from their
        checkpoints), live subscribers only get what is committed from now on."""
        self.last_seen = max(await self.store.head(), self.bus.published_id)
        if self.bus.local_ids is None:
            self.bus.local_ids = set()
        self._task = asyncio.create_task(self._run(), name="events:fanout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close_conn()

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    def _notified(self, *args: Any) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        conn = await asyncio.wait_for(asyncpg.connect(self.dsn), 10)
        try:
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        self._conn = conn

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close_conn()
                    await self._listen()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect and read on; the log keeps everything
                log.warning("event fan-out: listening or reading failed; retrying", exc_info=True)
                await self._close_conn()
                await asyncio.sleep(0.5)

    async def catch_up(self) -> None:
        """Read the log after the last id seen; publish what other processes committed."""
        while True:
            events = await self.store.read_after(self.last_seen, None, self.batch)
            if not events:
                return
            local = self.bus.local_ids if self.bus.local_ids is not None else set()
            remote = [e for e in events if e.id not in local]
            self.last_seen = max(e.id for e in events if e.id is not None)
            # our own ids up to here are passed: forget them (the set stays small)
            if local:
                for i in [i for i in local if i <= self.last_seen]:
                    local.discard(i)
            if remote:
                self.remote_published += len(remote)
                self.bus.publish_remote(remote)
            if len(events) < self.batch:
                return
