"""The durable scheduler: every timer of every component (SLA reminders and escalations, work-order
reminders, scheduled sends, callbacks) is a row in ``timers`` and fires from here.

* **Durable.** ``schedule`` writes the timer in the caller's transaction: it exists exactly when the
  business change that needs it is committed. A restart loses nothing; overdue timers fire once
  when the hub comes back (catch-up after downtime).
* **Once, across processes.** A timer is *claimed* before it fires: one statement sets a lease
  (``lease_owner``, ``lease_until``) on due, unleased rows (PostgreSQL: ``SELECT … FOR UPDATE SKIP
  LOCKED`` inside the ``UPDATE``; SQLite: the ``UPDATE`` itself, writers being serialised). Only the
  lease holder can complete it (the claim's attempt number is the fencing token), so two server
  processes sharing one database fire each timer once. If a process dies holding a lease, another
  takes the timer over when the lease expires.
* **Retries.** A handler that raises (or exceeds ``handler_timeout_s``) is retried with exponential
  backoff; after ``max_attempts`` the timer is ``failed``, logged and a ``timer.failed`` event is
  stored.
* **Timely.** The loop sleeps until the next due time, wakes at once when this process commits a
  sooner timer (the ``timer.scheduled`` signal), and polls every ``poll_interval_s`` for timers
  written by other processes and for expired leases.

Handlers get a :class:`Timer`. A handler whose effect is a database write can make the effect and
the completion one transaction with :meth:`Scheduler.complete` (then even a crash between the two
cannot fire it twice); otherwise the scheduler marks it done right after the handler returns, and
a crash in that window fires it again after the lease expires (at-least-once), so such handlers
should be idempotent (``Timer.attempts`` > 1 says it is a retry).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db.scheduler_tables import TIMER_KEY_MAX, timers
from hub.db.uow import Database, Tx
from hub.errors import ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id

log = logging.getLogger(__name__)

PENDING, DONE, CANCELLED, FAILED = "pending", "done", "cancelled", "failed"

#: Built-in kind: stores a ``timer.fired`` event in the event log when it fires. Its payload becomes
#: the event's data (``conversation_id``, ``user_id`` and ``queue_id`` go to the event's columns).
#: A scheduled entry in the audit trail; operators and tests use it to watch the scheduler work.
HUB_EVENT_KIND = "hub.event"

_C = timers.c


@dataclass(frozen=True, slots=True)
class Timer:
    """One firing of a timer. ``attempts`` is this firing's attempt number (1 the first time)."""

    id: str
    key: str | None
    kind: str
    due_at: float
    payload: dict[str, Any]
    attempts: int
    owner: str = field(default="", repr=False, compare=False)  # lease holder (fencing)


Handler = Callable[[Timer], Awaitable[None]]


@dataclass(slots=True)
class _Outcome:
    timer: Timer
    fired_at: float
    error: str | None


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _check(kind: str, due_at: float, payload: dict[str, Any], key: str | None) -> None:
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise ValidationFailed(f"timer kind must be a non-empty string of at most 64 characters, "
                               f"got {kind!r}")
    if isinstance(due_at, bool) or not isinstance(due_at, int | float) or not math.isfinite(due_at):
        raise ValidationFailed(f"timer due_at must be a finite epoch time in seconds, got {due_at!r}")
    if not isinstance(payload, dict):
        raise ValidationFailed(f"timer payload must be a JSON object, got {type(payload).__name__}")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValidationFailed(f"timer payload is not JSON: {err}") from err
    if key is not None and (not isinstance(key, str) or not key or len(key) > TIMER_KEY_MAX):
        raise ValidationFailed(f"timer key must be a non-empty string of at most {TIMER_KEY_MAX} "
                               f"characters, got {key!r}")


def _fence(timer: Timer) -> Any:
    return (_C.id == timer.id) & (_C.status == PENDING) & (_C.lease_owner == timer.owner) \
        & (_C.attempts == timer.attempts)


# Completing many fired timers in one statement (executemany), fenced like ``_fence``.
_DONE_MANY = (
    update(timers)
    .where(_C.id == bindparam("b_id"), _C.status == PENDING, _C.lease_owner == bindparam("b_owner"),
           _C.attempts == bindparam("b_attempts"))
    .values(status=DONE, fired_at=bindparam("b_fired"), lease_owner=None, lease_until=None,
            last_error=None, updated_at=bindparam("b_now"))
)


class Scheduler:
    def __init__(self, db: Database, clock: Clock, *, owner: str | None = None,
                 poll_interval_s: float = 1.0, lease_s: float = 120.0,
                 handler_timeout_s: float = 60.0, max_attempts: int = 5,
                 retry_base_s: float = 10.0, retry_max_s: float = 3600.0,
                 batch_size: int = 500, concurrency: int = 100,
                 keep_finished_s: float = 7 * 86400, stop_grace_s: float = 5.0) -> None:
        if poll_interval_s <= 0 or lease_s <= 0 or handler_timeout_s <= 0:
            raise ValueError("poll_interval_s, lease_s and handler_timeout_s must be positive")
        if lease_s <= handler_timeout_s:
            raise ValueError("lease_s must be longer than handler_timeout_s (a running handler "
                             "must never outlive its lease)")
        if max_attempts < 1 or batch_size < 1 or concurrency < 1:
            raise ValueError("max_attempts, batch_size and concurrency must be at least 1")
        self.db = db
        self.clock = clock
        self.owner = owner or default_owner()
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        self.handler_timeout_s = handler_timeout_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.keep_finished_s = keep_finished_s
        self.stop_grace_s = stop_grace_s
        self.stats = {"claimed": 0, "fired": 0, "retried": 0, "failed": 0}
        self._handlers: dict[str, Handler] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._results: list[_Outcome] = []
        self._results_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._stopping = False
        # Clock time the sleeping loop will look next; +inf while it is awake (every commit wakes
        # it), -inf when it is not running (nobody to wake).
        self._next_wake_at = -math.inf
        self._next_purge_at = 0.0
        db.bus.subscribe(self._on_event, types=(EventType.TIMER_SCHEDULED,), name="scheduler.wake")
        self.on(HUB_EVENT_KIND, self._fire_hub_event)

    # --- registering and scheduling --------------------------------------------------------------

    def on(self, kind: str, handler: Handler) -> None:
        """Register the handler of a timer kind (one per kind; components register in ``start``)."""
        if kind in self._handlers:
            raise ValueError(f"a handler for timer kind {kind!r} is already registered")
        self._handlers[kind] = handler

    async def schedule(self, tx: Tx, *, kind: str, due_at: float, payload: dict[str, Any],
                       key: str | None = None) -> str:
        """Store a timer in the caller's transaction and return its id. A pending timer with the
        same ``key`` is rescheduled instead (new kind, due time and payload; attempts reset; a
        firing in progress can no longer complete it), and its id is returned."""
        _check(kind, due_at, payload, key)
        now = self.clock.now()
        values = {"kind": kind, "due_at": float(due_at), "payload": payload, "status": PENDING,
                  "attempts": 0, "lease_owner": None, "lease_until": None, "fired_at": None,
                  "last_error": None, "updated_at": now}
        tid = await self._reschedule(tx, key, values) if key is not None else None
        if tid is None:
            tid = new_id()
            insert = timers.insert().values(id=tid, key=key, created_at=now, **values)
            if key is not None and tx.conn.dialect.name != "sqlite":
                # Two transactions may insert the same new key at once: the loser updates instead.
                try:
                    async with tx.conn.begin_nested():
                        await tx.conn.execute(insert)
                except IntegrityError:
                    tid = await self._reschedule(tx, key, values)
                    if tid is None:
                        raise
            else:
                await tx.conn.execute(insert)
        if due_at < self._next_wake_at:
            tx.emit(Event(EventType.TIMER_SCHEDULED, now, data={"due_at": float(due_at)}))
        return tid

    @staticmethod
    async def _reschedule(tx: Tx, key: str, values: dict[str, Any]) -> str | None:
        row = (await tx.conn.execute(
            update(timers).where(_C.key == key, _C.status == PENDING).values(**values)
            .returning(_C.id))).first()
        return None if row is None else row.id

    async def cancel(self, tx: Tx, key: str) -> bool:
        """Cancel the pending timer with this key (in the caller's transaction). False if none."""
        r = await tx.conn.execute(update(timers).where(_C.key == key, _C.status == PENDING)
                                  .values(status=CANCELLED, lease_owner=None, lease_until=None,
                                          updated_at=self.clock.now()))
        return bool(r.rowcount)

    async def complete(self, tx: Tx, timer: Timer) -> bool:
        """Mark a firing timer done inside the handler's own transaction, so its effect and its
        completion commit together. False when this firing no longer holds the timer (it was
        rescheduled, cancelled, or its lease expired and another process took it over): the handler
        should then do nothing. A handler that sets up the next timer under the same key (a repeating
        reminder) completes first, then schedules: the key is free once the timer is done."""
        now = self.clock.now()
        r = await tx.conn.execute(update(timers).where(_fence(timer)).values(
            status=DONE, fired_at=now, lease_owner=None, lease_until=None, last_error=None,
            updated_at=now))
        return bool(r.rowcount)

    async def find(self, key: str) -> dict[str, Any] | None:
        """The pending timer with this key, or None (for countdowns and diagnostics)."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(timers).where(_C.key == key, _C.status == PENDING))).first()
        return None if row is None else dict(row._mapping)

    # --- running -----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        self._stopping = False
        self._next_wake_at = math.inf
        self._flush_task = asyncio.create_task(self._flush_loop(), name="scheduler-flush")
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler")
        log.info("scheduler %s started (poll %.1f s, lease %.0f s)", self.owner,
                 self.poll_interval_s, self.lease_s)

    async def stop(self) -> None:
        """Stop claiming, give running handlers ``stop_grace_s`` to finish, record what finished and
        hand back the leases of what did not (so another process or the next start fires it)."""
        self._stopping = True
        self._next_wake_at = -math.inf
        self._wake.set()
        self._slot_free.set()
        if self._loop_task is not None:
            # Let the loop finish its step (a claim cut in half would leave leases behind).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s + 10):
                    await asyncio.shield(self._loop_task)
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._inflight:
            _done, pending = await asyncio.wait(list(self._inflight.values()),
                                                timeout=self.stop_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
            self._flush_task = None
        try:
            await self._flush()
            # What this process still holds did not fire to the end: hand it back, uncounted.
            async with self.db.tx() as tx:
                await tx.conn.execute(
                    update(timers).where(_C.status == PENDING, _C.lease_owner == self.owner)
                    .values(lease_owner=None, lease_until=None, attempts=_C.attempts - 1))
        except Exception:  # noqa: BLE001 - leases then expire on their own
            log.exception("scheduler %s: could not record the last results at stop", self.owner)

    async def run_due(self, limit: int = 500) -> int:
        """Claim what is due now (up to ``limit``), fire it, record the outcomes; return how many
        fired. The loop's step, and what tests call on a manual clock."""
        claimed = await self._claim(limit)
        tasks = [self._spawn(t) for t in claimed]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush()
        return len(claimed)

    async def _loop(self) -> None:
        # One read says when the next timer is due; the claim (a write) runs only when one is.
        while not self._stopping:
            self._next_wake_at = math.inf
            self._wake.clear()
            delay = self.poll_interval_s
            try:
                free = self.concurrency - len(self._inflight)
                if free <= 0:
                    await self._wait_slot()
                    continue
                delay = await self._delay()
                if delay <= 0:
                    want = min(self.batch_size, free)
                    claimed = await self._claim(want)
                    for timer in claimed:
                        self._spawn(timer)
                    if len(claimed) == want == free:
                        await self._wait_slot()
                    if claimed:
                        continue  # more may be due right now
                    # due rows are being claimed by another process at this instant
                    delay = min(self.poll_interval_s, 0.05)
                await self._purge()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be briefly away; keep polling
                log.exception("scheduler %s: claiming timers failed; retrying", self.owner)
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        self._next_wake_at = self.clock.now() + delay
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def _wait_slot(self) -> None:
        self._slot_free.clear()
        if len(self._inflight) < self.concurrency:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_interval_s):
                await self._slot_free.wait()

    async def _on_event(self, ev: Event) -> None:
        if ev.type is EventType.TIMER_SCHEDULED and ev.data.get("due_at", math.inf) < self._next_wake_at:
            self._wake.set()

    async def _delay(self) -> float:
        """Seconds until the next unleased pending timer is due, at most the poll interval."""
        now = self.clock.now()
        async with self.db.read() as conn:
            nxt = (await conn.execute(
                select(_C.due_at).where(_C.status == PENDING,
                                        or_(_C.lease_until.is_(None), _C.lease_until < now))
                .order_by(_C.due_at).limit(1))).scalar()
        if nxt is None:
            return self.poll_interval_s
        return max(0.0, min(self.poll_interval_s, nxt - now))

    async def _claim(self, limit: int) -> list[Timer]:
        now = self.clock.now()
        due = (select(_C.id)
               .where(_C.status == PENDING, _C.due_at <= now,
                      or_(_C.lease_until.is_(None), _C.lease_until < now))
               .order_by(_C.due_at).limit(limit))
        if self.db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        stmt = (update(timers).where(_C.id.in_(due))
                .values(lease_owner=self.owner, lease_until=now + self.lease_s,
                        attempts=_C.attempts + 1, updated_at=now)
                .returning(_C.id, _C.key, _C.kind, _C.due_at, _C.payload, _C.attempts))
        async with self.db.tx() as tx:
            rows = (await tx.conn.execute(stmt)).all()
        claimed = sorted((Timer(r.id, r.key, r.kind, r.due_at, r.payload or {}, r.attempts,
                                self.owner) for r in rows), key=lambda t: (t.due_at, t.id))
        self.stats["claimed"] += len(claimed)
        return claimed

    def _spawn(self, timer: Timer) -> asyncio.Task[None]:
        task = asyncio.create_task(self._fire(timer), name=f"timer-{timer.kind}-{timer.id}")
        self._inflight[timer.id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._inflight.pop(timer.id, None)
            self._slot_free.set()

        task.add_done_callback(done)
        return task

    async def _fire(self, timer: Timer) -> None:
        fired_at = self.clock.now()
        handler = self._handlers.get(timer.kind)
        error: str | None = None
        if handler is None:
            error = f"no handler is registered for timer kind {timer.kind!r}"
        else:
            try:
                async with asyncio.timeout(self.handler_timeout_s):
                    await handler(timer)
            except TimeoutError:
                error = f"handler timed out after {self.handler_timeout_s:g} s"
            except Exception as err:  # noqa: BLE001 - a handler failure is retried, never fatal
                error = f"{type(err).__name__}: {err}"[:2000]
                log.warning("timer %s (%s, key %s) attempt %d failed: %s", timer.id, timer.kind,
                            timer.key, timer.attempts, error, exc_info=True)
        self._results.append(_Outcome(timer, fired_at, error))
        self._results_ready.set()

    def backoff(self, attempts: int) -> float:
        """Delay before retry after the ``attempts``-th failed attempt."""
        return min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1))

    async def _flush_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - kept and retried: outcomes are not dropped
                log.exception("scheduler %s: recording timer outcomes failed; retrying", self.owner)
                await asyncio.sleep(self.poll_interval_s)

    async def _flush(self) -> None:
        async with self._flush_lock:
            batch, self._results = self._results, []
            self._results_ready.clear()
            if not batch:
                return
            try:
                await self._record(batch)
            except BaseException:
                self._results[:0] = batch
                self._results_ready.set()
                raise

    async def _record(self, batch: list[_Outcome]) -> None:
        now = self.clock.now()
        ok = [o for o in batch if o.error is None]
        failed_events = 0
        async with self.db.tx() as tx:
            if ok:
                await tx.conn.execute(_DONE_MANY, [
                    {"b_id": o.timer.id, "b_owner": o.timer.owner, "b_attempts": o.timer.attempts,
                     "b_fired": o.fired_at, "b_now": now} for o in ok])
            for o in batch:
                if o.error is None:
                    continue
                t = o.timer
                if t.attempts >= self.max_attempts:
                    r = await tx.conn.execute(update(timers).where(_fence(t)).values(
                        status=FAILED, fired_at=o.fired_at, lease_owner=None, lease_until=None,
                        last_error=o.error, updated_at=now))
                    if r.rowcount:
                        failed_events += 1
                        log.error("timer %s (%s, key %s) failed after %d attempts: %s", t.id,
                                  t.kind, t.key, t.attempts, o.error)
                        tx.emit(Event(EventType.TIMER_FAILED, now, data={
                            "timer_id": t.id, "key": t.key, "kind": t.kind, "due_at": t.due_at,
                            "attempts": t.attempts, "error": o.error}))
                else:
                    await tx.conn.execute(update(timers).where(_fence(t)).values(
                        due_at=now + self.backoff(t.attempts), lease_owner=None, lease_until=None,
                        last_error=o.error, updated_at=now))
                    self.stats["retried"] += 1
        self.stats["fired"] += len(ok)
        self.stats["failed"] += failed_events

    async def _purge(self) -> None:
        """Forget done and cancelled timers older than ``keep_finished_s`` (hourly)."""
        now = self.clock.now()
        if now < self._next_purge_at:
            return
        self._next_purge_at = now + 3600
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(timers).where(_C.status.in_((DONE, CANCELLED)),
                                                       _C.updated_at < now - self.keep_finished_s))

    # --- built-in kinds ----------------------------------------------------------------------------

    async def _fire_hub_event(self, timer: Timer) -> None:
        data = dict(timer.payload)
        ids = {k: data.pop(k, None) for k in ("conversation_id", "user_id", "queue_id")}
        async with self.db.tx() as tx:
            if not await self.complete(tx, timer):
                return
            tx.emit(Event(EventType.TIMER_FIRED, self.clock.now(), **ids, data={
                **data, "timer_id": timer.id, "key": timer.key, "due_at": timer.due_at,
                "attempt": timer.attempts, "fired_by": self.owner}))
