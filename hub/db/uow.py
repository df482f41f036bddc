"""Unit of work: one transaction, the events it produced stored in it, published after commit.

Publishing only queues the events for the subscribers (``hub/events.py``): nothing a subscriber
does runs inside the transaction, the caller's locks or the request that made the change.

Event ids are in commit order (durable consumers rely on it: a checkpoint is "every event up to
this id"): on SQLite every writer is serialised by one lock; on PostgreSQL the events are inserted
at the end of the transaction under a transaction-level advisory lock (so two processes' commits
cannot interleave their ids), and within this process the insert, commit and publish run under
one lock (so events are published in id order).

``write(work)`` is the short path for a hot, simple write (a chat message): ``work`` is plain
synchronous SQLAlchemy Core on a synchronous connection. On SQLite it runs in the one writer
thread, statements and commit in a single hop from the event loop, so the write lock is held for
one thread round trip instead of one event-loop turn per statement (under load each turn waits
for every other ready task). The writes that queue up while one runs are committed together
(group commit: up to ``MAX_GROUP`` works, in order, in one transaction and one hop; if one of them
raises, the others run again each in its own transaction, so a failure is only its caller's).
On PostgreSQL it runs in an ordinary ``tx()``.

``read_sync(work)`` is the same for the hottest reads (a conversation's row on every event pushed
to the desks, a widget's token): ``work`` runs synchronous statements, on SQLite in a small pool
of reader threads in one hop (an ``aiosqlite`` read costs a thread round trip for the cursor, the
statement, the rows, closing the cursor and resetting the connection), on PostgreSQL on an
ordinary connection."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.db import tables as t
from hub.events import CAUSE, SIGNALS, Event, EventBus, with_id

#: the PostgreSQL advisory lock key that orders event ids across hub processes
EVENT_ORDER_LOCK = 7_246_105_373

T = TypeVar("T")
#: ``write``'s unit of work: synchronous statements on ``conn``; ``emit`` adds an event to it
SyncWork = Callable[[Connection, Callable[[Event], None]], T]
#: ``read_sync``'s work: synchronous reads on ``conn``
SyncRead = Callable[[Connection], T]
#: SQLite: threads (and connections) of ``read_sync``
READER_THREADS = 2
#: SQLite: most ``write``s committed together (group commit)
MAX_GROUP = 32


class WriterStopped(Exception):
    """The SQLite writer stopped (the hub is shutting down) before this write ran."""


@dataclass(eq=False)
class _Write:
    work: SyncWork[Any]
    cause: dict[str, Any] | None
    done: asyncio.Future[Any]


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
        self._writer: ThreadPoolExecutor | None = None  # SQLite: ``write``'s thread, made on first use
        self._writes: deque[_Write] = deque()  # SQLite: ``write``s waiting for the next group
        self._drainer: asyncio.Task[None] | None = None
        self._sync_engine: Engine | None = None
        self._readers: ThreadPoolExecutor | None = None  # SQLite: ``read_sync``'s threads
        self._read_engine: Engine | None = None

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

    async def write(self, work: SyncWork[T]) -> T:
        """Run ``work`` as one transaction (see the module docstring); its events are stored with
        it and published after commit, like ``tx()``'s."""
        if self._write_lock is None:
            async with self.tx() as tx:
                return await tx.conn.run_sync(lambda conn: work(conn, tx.emit))
        loop = asyncio.get_running_loop()
        item = _Write(work, CAUSE.get(), loop.create_future())
        self._writes.append(item)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain_writes(), name="sqlite-group-commit")
        result: T = await item.done
        return result

    async def _drain_writes(self) -> None:
        """SQLite: the queued ``write``s, in order, up to ``MAX_GROUP`` per transaction (group
        commit: one thread hop and one commit for all the writers that queued up meanwhile). The
        write lock is taken per group, so a ``tx()`` waiting for it goes between two groups."""
        loop = asyncio.get_running_loop()
        assert self._write_lock is not None
        while self._writes:
            async with self._write_lock:
                group: list[_Write] = []
                while self._writes and len(group) < MAX_GROUP:
                    item = self._writes.popleft()
                    if not item.done.done():  # a caller cancelled before its turn: skip it
                        group.append(item)
                if not group:
                    continue
                try:
                    outcomes = await loop.run_in_executor(self._writer_thread(), self._run_group, group)
                except BaseException as err:  # the executor itself failed, or we are cancelled
                    for item in group:
                        if not item.done.done():
                            item.done.set_exception(err if isinstance(err, Exception) else WriterStopped())
                    raise
                for item, (error, result, published) in zip(group, outcomes, strict=True):
                    if published:
                        self.bus.publish(published)  # before another writer of this process commits
                    if item.done.done():
                        continue
                    if error is not None:
                        item.done.set_exception(error)
                    else:
                        item.done.set_result(result)

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._writer is None:
            from hub.db.engine import _sqlite_pragmas

            self._sync_engine = create_engine(self.engine.url.set(drivername="sqlite"),
                                              connect_args={"timeout": 30}, pool_size=1, max_overflow=0)
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        return self._writer

    def _run_group(self, group: list[_Write]) -> list[tuple[Exception | None, Any, list[Event]]]:
        """In the writer thread: the group in one transaction. If any work raises, that
        transaction is rolled back and each work runs again in its own, so only the failing one
        fails (works are plain statements on ``conn``: running one again after a rollback is
        running it for the first time)."""
        assert self._sync_engine is not None
        if len(group) > 1:
            try:
                outcomes: list[tuple[Exception | None, Any, list[Event]]] = []
                with self._sync_engine.begin() as conn:
                    for item in group:
                        events: list[Event] = []
                        result = item.work(conn, events.append)
                        outcomes.append((None, result, _store_sync(conn, events, item.cause) if events else []))
                return outcomes
            except Exception:  # noqa: BLE001 - told apart below, one work at a time
                pass
        outcomes = []
        for item in group:
            try:
                outcomes.append((None, *self._run_write(item.work, item.cause)))
            except Exception as err:  # noqa: BLE001 - handed to that work's caller
                outcomes.append((err, None, []))
        return outcomes

    def _run_write(self, work: SyncWork[Any], cause: dict[str, Any] | None) -> tuple[Any, list[Event]]:
        assert self._sync_engine is not None
        events: list[Event] = []
        with self._sync_engine.begin() as conn:
            result = work(conn, events.append)
            published = _store_sync(conn, events, cause) if events else []
        return result, published

    async def read_sync(self, work: SyncRead[T]) -> T:
        """Run ``work`` (synchronous reads on one connection, outside any transaction of ours) in
        one hop; see the module docstring."""
        if self._write_lock is None:
            async with self.read() as conn:
                return await conn.run_sync(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads(), self._run_read, work)

    def _reader_threads(self) -> ThreadPoolExecutor:
        if self._readers is None:
            from hub.db.engine import _sqlite_pragmas

            # one connection per thread at most; a connection may serve either thread
            self._read_engine = create_engine(
                self.engine.url.set(drivername="sqlite"),
                connect_args={"timeout": 30, "check_same_thread": False},
                pool_size=READER_THREADS, max_overflow=0)
            event.listen(self._read_engine, "connect", _sqlite_pragmas)
            self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="sqlite-reader")
        return self._readers

    def _run_read(self, work: SyncRead[T]) -> T:
        assert self._read_engine is not None
        with self._read_engine.connect() as conn:
            return work(conn)

    async def close(self) -> None:
        """Stop the writer and reader threads (if started) and close the engines."""
        if self._drainer is not None and not self._drainer.done():
            await asyncio.wait({self._drainer}, timeout=10)  # the writes already accepted
        for pool in (self._writer, self._readers):
            if pool is not None:
                pool.shutdown(wait=True)
        self._writer = self._readers = None
        for engine in (self._sync_engine, self._read_engine):
            if engine is not None:
                engine.dispose()
        self._sync_engine = self._read_engine = None
        await self.engine.dispose()

    @asynccontextmanager
    async def read(self, tx: Tx | None = None) -> AsyncIterator[AsyncConnection]:
        """A connection to read with; inside ``tx`` (its connection) when one is given, so a
        service's read sees what the caller's transaction wrote so far."""
        if tx is not None:
            yield tx.conn
            return
        async with self.engine.connect() as conn:
            yield conn


_INSERT_EVENTS = t.events.insert().returning(t.events.c.id, sort_by_parameter_order=True)


def _caused(events: list[Event], cause: dict[str, Any] | None) -> tuple[list[Event], list[dict[str, Any]]]:
    events = [e if e.cause is not None or cause is None else with_id(e, 0, cause) for e in events]
    return events, [e.row() for e in events if e.type not in SIGNALS]


def _with_ids(events: list[Event], ids: list[int]) -> list[Event]:
    it = iter(ids)
    return [e if e.type in SIGNALS else with_id(e, next(it), e.cause) for e in events]


async def _store(conn: AsyncConnection, events: list[Event]) -> list[Event]:
    events, rows = _caused(events, CAUSE.get())
    ids = [int(r[0]) for r in await conn.execute(_INSERT_EVENTS, rows)] if rows else []
    return _with_ids(events, ids)


def _store_sync(conn: Connection, events: list[Event], cause: dict[str, Any] | None) -> list[Event]:
    events, rows = _caused(events, cause)
    ids = [int(r[0]) for r in conn.execute(_INSERT_EVENTS, rows)] if rows else []
    return _with_ids(events, ids)
