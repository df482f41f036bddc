"""The bulk-job core: one implementation of the job life cycle that bulk SMS and bulk email share.

A bulk job is a row in the channel's job table and one row per recipient in the channel's item
table (the channels keep their own tables; :class:`BulkTables` names them). This module owns
everything that is the same for every channel:

* **States.** A job is ``scheduled`` (items ``pending``, a durable ``services.scheduler`` timer
  waits for its time), ``running`` (items ``queued``), then ``done`` when no item is left waiting,
  or ``cancelled``. An item ends in a channel status (``sent``, ``failed``, ``delivered``,
  ``skipped`` …) or ``cancelled``.
* **Create** stores the job, its items and its timer in one transaction, or nothing.
* **Start** when the timer fires or on "send now"; **cancel** turns every item not sent yet into
  ``cancelled`` and drops the timer. Each change is an event of the channel's type.
* **Sending.** A channel that gives a ``send_one`` function has its queued items sent here, one job
  at a time, in item order, paced by the job's rate limit; ``send_one`` returns the values the
  item ends with. A channel without one (SMS: its outbound queue sends the items, between agents'
  replies) only has its jobs watched and finished here.
* **Restart.** Items stay ``queued`` until they are sent, so a restarted hub resumes a running
  job where it stopped (at least once: an item in flight during a crash is sent again).
* **Progress.** Counts by item status; the channel's JSON view of a job is pushed (``emit``) when
  it changes, at most every ``push_interval_s`` per job, and at once when the job's state changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import Column, Table, func, select, update

from hub.errors import InvalidState, NotFound, ValidationFailed
from hub.events import Event
from hub.security import new_id
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from hub.clock import Clock
    from hub.db.uow import Database, Tx
    from hub.services.scheduler import Scheduler, Timer

log = logging.getLogger(__name__)

WAITING = ("pending", "queued")
ACTIVE = ("scheduled", "running")
INSERT_BATCH = 500
MAX_ERRORS_LISTED = 20

#: ``send_one(job_row, item_row)`` sends one recipient and returns the values its item row ends
#: with (at least ``status``: ``sent`` or ``failed``).
SendOne = Callable[[Any, Any], Awaitable[dict[str, Any]]]
#: The channel's JSON view of a job: ``public(job_row, counts_by_item_status)``.
PublicView = Callable[[Any, dict[str, int]], dict[str, Any]]
Emit = Callable[[dict[str, Any]], Awaitable[None]]


def refuse_rows(errors: list[dict[str, Any]], total: int,
                exc: type[ValidationFailed] = ValidationFailed) -> NoReturn:
    """Refuse a job with bad recipients: every bad row counted, the first ones listed by row."""
    errors = sorted(errors, key=lambda e: e["row"])
    first = errors[0]
    raise exc(f"{len(errors)} of {total} recipients are not valid; nothing was stored "
              f"(row {first['row']}: {first['msg']})",
              details={"errors": errors[:MAX_ERRORS_LISTED], "error_count": len(errors)})


@dataclass(frozen=True)
class BulkTables:
    """The channel's tables. ``jobs`` has the columns ``id``, ``status``, ``created_at``,
    ``started_at``, ``finished_at``; ``items`` has ``id``, ``status``, ``updated_at``,
    ``job`` (the column naming the job) and ``order`` (sending order)."""

    jobs: Table
    items: Table
    job: Column[Any]
    order: Column[Any]


@dataclass(frozen=True)
class BulkPlan:
    """What :meth:`BulkJobs.plan` decided for a new job; the channel builds its rows from it."""

    job_id: str
    now: float
    start_now: bool
    scheduled_at: float | None

    @property
    def job_status(self) -> str:
        return "running" if self.start_now else "scheduled"

    @property
    def item_status(self) -> str:
        return "queued" if self.start_now else "pending"


class BulkJobs:
    """The job state machine, counting, progress, cancel and resume of one channel's bulk jobs."""

    def __init__(self, *, db: Database, clock: Clock, scheduler: Scheduler, tables: BulkTables,
                 event: str, timer_kind: str, key_prefix: str, what: str, public: PublicView,
                 send_one: SendOne | None = None, rate: Callable[[Any], float] | None = None,
                 watch_finished_s: float = 0.0, push_interval_s: float = 0.5,
                 idle_poll_s: float = 30.0) -> None:
        self.db = db
        self.clock = clock
        self.scheduler = scheduler
        self.t = tables
        self.event = event
        self.timer_kind = timer_kind
        self.key_prefix = key_prefix  # timer keys: f"{key_prefix}:{job_id}"
        self.what = what  # "bulk SMS job": for messages
        self.public = public
        self.send_one = send_one
        self.rate = rate
        self.watch_finished_s = watch_finished_s  # keep pushing progress this long after the end
        self.push_interval_s = push_interval_s
        self.idle_poll_s = idle_poll_s
        self.emit: Emit | None = None
        self.on_started: Callable[[], None] | None = None  # e.g. wake the channel's own queue
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._cancelled: set[str] = set()
        self._last: dict[str, tuple[Any, ...]] = {}
        self._last_push: dict[str, float] = {}

    def timer_key(self, job_id: str) -> str:
        return f"{self.key_prefix}:{job_id}"

    # --- creating ----------------------------------------------------------------------------
    def plan(self, name: str, scheduled_at: float | None) -> BulkPlan:
        """Check what every job needs (a name, a time not in the past) and decide its start."""
        if not name.strip() or len(name.strip()) > 200:
            raise ValidationFailed("the job needs a name of 1..200 characters")
        now = self.clock.now()
        if scheduled_at is not None and scheduled_at < now - 60:
            raise ValidationFailed("the scheduled time is in the past")
        return BulkPlan(new_id(), now, scheduled_at is None or scheduled_at <= now, scheduled_at)

    async def create(self, plan: BulkPlan, job: dict[str, Any], items: list[dict[str, Any]], *,
                     user_id: str | None, event_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Store the job (``job`` holds the channel's columns), its items and its timer in one
        transaction; returns the job's view."""
        values = {"id": plan.job_id, "status": plan.job_status, "created_by": user_id,
                  "total": len(items), "scheduled_at": plan.scheduled_at, "created_at": plan.now,
                  "started_at": plan.now if plan.start_now else None, "finished_at": None, **job}
        async with self.db.tx() as tx:
            await tx.conn.execute(self.t.jobs.insert().values(**values))
            for i in range(0, len(items), INSERT_BATCH):
                await tx.conn.execute(self.t.items.insert(), items[i:i + INSERT_BATCH])
            if not plan.start_now:
                assert plan.scheduled_at is not None
                await self.scheduler.schedule(tx, kind=self.timer_kind, due_at=plan.scheduled_at,
                                              payload={"job_id": plan.job_id},
                                              key=self.timer_key(plan.job_id))
            tx.emit(Event(self.event, plan.now, user_id=user_id, data={
                "job_id": plan.job_id, "status": plan.job_status, "total": len(items),
                **(event_data or {})}))
        if plan.start_now:
            self._started()
        return await self.get(plan.job_id)

    # --- state changes -------------------------------------------------------------------------
    async def on_timer(self, timer: Timer) -> None:
        async with self.db.tx() as tx:
            if not await self.scheduler.complete(tx, timer):
                return
            started = await self._start(tx, timer.payload.get("job_id"), self.clock.now())
        if started:
            self._started()

    async def _start(self, tx: Tx, job_id: Any, now: float) -> bool:
        j, i = self.t.jobs.c, self.t.items.c
        r = await tx.conn.execute(update(self.t.jobs).where(j.id == job_id, j.status == "scheduled")
                                  .values(status="running", started_at=now))
        if not r.rowcount:
            return False
        await tx.conn.execute(update(self.t.items).where(self.t.job == job_id, i.status == "pending")
                              .values(status="queued", updated_at=now))
        tx.emit(Event(self.event, now, data={"job_id": job_id, "status": "running"}))
        return True

    def _started(self) -> None:
        if self.on_started is not None:
            self.on_started()
        self.wake()

    async def start_now(self, job_id: str, user_id: str | None = None) -> dict[str, Any]:
        await self.get(job_id)
        async with self.db.tx() as tx:
            if not await self._start(tx, job_id, self.clock.now()):
                raise InvalidState("only a scheduled job can be started")
            await self.scheduler.cancel(tx, self.timer_key(job_id))
        self._started()
        job = await self.get(job_id)
        await self._push(job, force=True)
        return job

    async def cancel(self, job_id: str, user_id: str | None = None) -> dict[str, Any]:
        """Items not sent yet become ``cancelled``; an item in flight still leaves."""
        job = await self.get(job_id)
        if job["status"] not in ACTIVE:
            raise InvalidState(f"the job is {job['status']}")
        now = self.clock.now()
        j, i = self.t.jobs.c, self.t.items.c
        async with self.db.tx() as tx:
            r = await tx.conn.execute(update(self.t.jobs).where(j.id == job_id, j.status.in_(ACTIVE))
                                      .values(status="cancelled", finished_at=now))
            if not r.rowcount:
                raise InvalidState("the job has just finished")
            await tx.conn.execute(update(self.t.items).where(self.t.job == job_id, i.status.in_(WAITING))
                                  .values(status="cancelled", updated_at=now))
            await self.scheduler.cancel(tx, self.timer_key(job_id))
            tx.emit(Event(self.event, now, user_id=user_id, data={"job_id": job_id, "status": "cancelled"}))
        self._cancelled.add(job_id)
        job = await self.get(job_id)
        await self._push(job, force=True)
        self.wake()
        return job

    async def finish_if_empty(self, job_id: str) -> bool:
        """A running job with no item left waiting is ``done``; True when it became so now."""
        c = (await self.counts([job_id]))[job_id]
        if any(c.get(s) for s in WAITING):
            return False
        now = self.clock.now()
        j = self.t.jobs.c
        async with self.db.tx() as tx:
            r = await tx.conn.execute(update(self.t.jobs).where(j.id == job_id, j.status == "running")
                                      .values(status="done", finished_at=now))
            if r.rowcount:
                tx.emit(Event(self.event, now, data={"job_id": job_id, "status": "done", "counts": c}))
        if r.rowcount:
            await self._push(await self.get(job_id), force=True)
        return bool(r.rowcount)

    # --- reading -------------------------------------------------------------------------------
    async def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        """Items by status, per job."""
        if not job_ids:
            return {}
        i = self.t.items.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(self.t.job, i.status, func.count()).where(
                self.t.job.in_(job_ids)).group_by(self.t.job, i.status))).all()
        out: dict[str, dict[str, int]] = {jid: {} for jid in job_ids}
        for jid, status, n in rows:
            out[jid][status] = int(n)
        return out

    async def row(self, job_id: str) -> Any:
        async with self.db.read() as conn:
            row = (await conn.execute(select(self.t.jobs).where(self.t.jobs.c.id == job_id))).first()
        if row is None:
            raise NotFound(f"{self.what} {job_id} does not exist")
        return row

    async def get(self, job_id: str) -> dict[str, Any]:
        row = await self.row(job_id)
        return self.public(row, (await self.counts([job_id]))[job_id])

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(self.t.jobs).order_by(
                self.t.jobs.c.created_at.desc()).limit(limit))).all()
        counts = await self.counts([r.id for r in rows])
        return [self.public(r, counts[r.id]) for r in rows]

    # --- the worker ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the owned worker task; it resumes the jobs that were running."""
        self._task = asyncio.create_task(self._loop(), name=f"{self.timer_kind}-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            watching = False
            try:
                watching = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the rows are safe in the database; try again
                log.exception("%s: bulk worker failed; retrying", self.timer_kind)
                await asyncio.sleep(1)
                continue
            try:
                # while jobs are watched, look again soon (their items change elsewhere); else
                # sleep until woken, and look now and then (other processes, missed wakes)
                async with asyncio.timeout(self.push_interval_s if watching else self.idle_poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def step(self) -> bool:
        """One pass: send what running jobs have queued (one job at a time, oldest first), finish
        jobs with nothing left, push changed progress. True while some job is still watched."""
        j = self.t.jobs.c
        now = self.clock.now()
        cond = j.status == "running"
        if self.watch_finished_s:
            cond = cond | (j.finished_at > now - self.watch_finished_s)
        if self._last:
            cond = cond | j.id.in_(list(self._last))
        async with self.db.read() as conn:
            jobs = (await conn.execute(select(self.t.jobs).where(cond)
                                       .order_by(j.started_at, j.id))).all()
        for job in jobs:
            if job.status == "running":
                if self.send_one is not None:
                    await self._run_job(job)
                await self.finish_if_empty(job.id)
            await self._push(await self.get(job.id))
            if job.status not in ACTIVE and (job.finished_at or 0) <= now - self.watch_finished_s:
                self._last.pop(job.id, None)
                self._last_push.pop(job.id, None)
        self._cancelled.intersection_update(x.id for x in jobs if x.status in ACTIVE)
        return any(job.status == "running" for job in jobs) or bool(self.watch_finished_s and jobs)

    async def _run_job(self, job: Any) -> None:
        assert self.send_one is not None
        i = self.t.items.c
        interval = 1.0 / max(self.rate(job) if self.rate else 1000.0, 0.001)
        next_at = time.monotonic()
        while True:
            async with self.db.read() as conn:
                status = (await conn.execute(select(self.t.jobs.c.status).where(
                    self.t.jobs.c.id == job.id))).scalar()
                batch = [] if status != "running" else (await conn.execute(
                    select(self.t.items).where(self.t.job == job.id, i.status == "queued")
                    .order_by(self.t.order).limit(50))).all()
            if not batch:
                return
            for n, item in enumerate(batch):
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + interval, time.monotonic() - interval)
                # a cancel in this process is seen at once; one from elsewhere within 10 items
                if job.id in self._cancelled or (n % 10 == 9 and not await self._still_running(job.id)):
                    return
                await self._mark(item.id, await self.send_one(job, item))
                if self._push_due(job.id):
                    await self._push(await self.get(job.id))

    async def _still_running(self, job_id: str) -> bool:
        return (await self.row(job_id)).status == "running"

    async def _mark(self, item_id: Any, values: dict[str, Any]) -> None:
        i = self.t.items.c
        # only an item still queued: a cancel in the meantime wins for items not yet sent (an
        # item that did leave is recorded as sent even when the job was cancelled meanwhile)
        allowed = ("queued", "cancelled") if values.get("status") == "sent" else ("queued",)
        async with self.db.tx() as tx:
            await tx.conn.execute(update(self.t.items).where(i.id == item_id, i.status.in_(allowed))
                                  .values(**values, updated_at=self.clock.now()))

    # --- progress ------------------------------------------------------------------------------
    def _push_due(self, job_id: str) -> bool:
        return time.monotonic() - self._last_push.get(job_id, 0.0) >= self.push_interval_s

    async def _push(self, job: dict[str, Any], force: bool = False) -> None:
        """Push the job's view when it changed (at most every ``push_interval_s`` unless forced)."""
        key = (job["status"], *sorted(job["counts"].items()))
        if self._last.get(job["id"]) == key and not force:
            return
        if not force and not self._push_due(job["id"]):
            return
        self._last[job["id"]] = key
        self._last_push[job["id"]] = time.monotonic()
        if self.emit is None:
            return
        try:
            await self.emit(job)
        except Exception:  # noqa: BLE001 - progress is best effort; polling still works
            log.exception("%s: could not push bulk progress", self.timer_kind)


class BulkChannelService:
    """Base of a channel's bulk service: what the channel's adapter uses of its core (``jobs``,
    set by the subclass) besides creating, starting and cancelling, which take channel arguments."""

    jobs: BulkJobs

    @property
    def emit_progress(self) -> Emit | None:
        return self.jobs.emit

    @emit_progress.setter
    def emit_progress(self, fn: Emit | None) -> None:
        self.jobs.emit = fn

    async def on_timer(self, timer: Timer) -> None:
        await self.jobs.on_timer(timer)

    async def get(self, job_id: str) -> dict[str, Any]:
        return await self.jobs.get(job_id)

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self.jobs.list(limit)

    def start(self) -> None:
        self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()

    def wake(self) -> None:
        self.jobs.wake()
