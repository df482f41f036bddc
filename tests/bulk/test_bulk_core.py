"""The bulk-job core (``hub.services.bulk.BulkJobs``) on its own tables, with an in-process
``send_one`` (our own code path: no outside service is involved): sending in order, cancel,
resume after a restart, scheduled start by a durable timer, and watching jobs that another
worker sends (the SMS way). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, select, update

from channels.email.events import EmailEventType
from hub.clock import ManualClock
from hub.db.engine import make_engine, migrate
from hub.db.uow import Database
from hub.errors import InvalidState, ValidationFailed
from hub.events import EventBus
from hub.security import new_id
from hub.services.bulk import BulkJobs, BulkTables
from hub.services.scheduler import Scheduler
from tests.support.wait import eventually

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)

meta = MetaData()
jobs_t = Table("t_bulk_jobs", meta, Column("id", String(32), primary_key=True),
               Column("name", String(200)), Column("status", String(16)), Column("created_by", String(32)),
               Column("total", Integer), Column("scheduled_at", Float), Column("created_at", Float),
               Column("started_at", Float), Column("finished_at", Float), Column("rate_per_s", Float),
               Column("meta", JSON))
items_t = Table("t_bulk_items", meta, Column("id", String(32), primary_key=True),
                Column("job_id", String(32)), Column("seq", Integer), Column("to", String(64)),
                Column("status", String(16)), Column("updated_at", Float), Column("note", String(200)))
TABLES = BulkTables(jobs=jobs_t, items=items_t, job=items_t.c.job_id, order=items_t.c.seq)
WAIT_S = 10


def public(row: Any, counts: dict[str, int]) -> dict[str, Any]:
    return {"id": row.id, "status": row.status, "total": row.total,
            "counts": {"waiting": counts.get("pending", 0) + counts.get("queued", 0),
                       "sent": counts.get("sent", 0), "cancelled": counts.get("cancelled", 0)}}


class Sender:
    """The channel's "send one recipient": records what it sent; can be held after N sends."""

    def __init__(self, hold_after: int | None = None) -> None:
        self.sent: list[str] = []
        self.hold_after = hold_after
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, job: Any, item: Any) -> dict[str, Any]:
        if self.hold_after is not None and len(self.sent) >= self.hold_after:
            self.held.set()
            await self.release.wait()
        self.sent.append(item.to)
        return {"status": "sent", "note": f"sent to {item.to}"}


class Rig:
    def __init__(self, db: Database, clock: ManualClock) -> None:
        self.db, self.clock = db, clock
        self.scheduler = Scheduler(db, clock)
        self.pushed: list[dict[str, Any]] = []

    def core(self, send_one: Sender | None) -> BulkJobs:
        core = BulkJobs(db=self.db, clock=self.clock, scheduler=self.scheduler, tables=TABLES,
                        event=EmailEventType.BULK_CHANGED, timer_kind="test.bulk_start",
                        key_prefix="test-bulk", what="test job", public=public, send_one=send_one,
                        rate=lambda job: job.rate_per_s, push_interval_s=0.05)
        self.scheduler.on("test.bulk_start", core.on_timer)

        async def emit(job: dict[str, Any]) -> None:
            self.pushed.append(job)
        core.emit = emit
        return core

    async def create(self, core: BulkJobs, n: int, *, scheduled_at: float | None = None,
                     rate: float = 1000.0) -> str:
        plan = core.plan("Job", scheduled_at)
        items = [{"id": new_id(), "job_id": plan.job_id, "seq": i, "to": f"r{i}",
                  "status": plan.item_status, "updated_at": plan.now, "note": None}
                 for i in range(1, n + 1)]
        job = await core.create(plan, {"name": "Job", "rate_per_s": rate, "meta": {}}, items, user_id="u1")
        return str(job["id"])

    async def items(self, job_id: str) -> dict[str, str]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(items_t).where(items_t.c.job_id == job_id)
                                       .order_by(items_t.c.seq))).all()
        return {r.to: r.status for r in rows}


async def until(check: Callable[[], Awaitable[bool]], within_s: float = WAIT_S) -> None:
    await eventually(check, within_s, every=0.02)  # polls the database


@pytest.fixture
async def open_rig(tmp_path: Path, database_url: str) -> AsyncIterator[Callable[[], Awaitable[Rig]]]:
    """Opens a rig on one database (SQLite file or PostgreSQL); each call is like a new process
    (new engine, new core)."""
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}"
    engines = []
    clock = ManualClock()

    async def opener() -> Rig:
        engine = make_engine(url)
        if not engines:
            await migrate(engine)
            async with engine.begin() as conn:
                await conn.run_sync(meta.create_all)
        engines.append(engine)
        return Rig(Database(engine, EventBus()), clock)

    yield opener
    for engine in engines:
        await engine.dispose()


async def test_a_job_sends_every_recipient_in_order_and_ends_done(open_rig) -> None:
    rig = await open_rig()
    send = Sender()
    core = rig.core(send)
    job_id = await rig.create(core, 5)
    core.start()
    try:
        await until(lambda: _status(core, job_id, "done"))
        await until(lambda: _pushed_status(rig, "done"))  # pushed right after the commit
    finally:
        await core.stop()
    assert send.sent == ["r1", "r2", "r3", "r4", "r5"]
    assert set((await rig.items(job_id)).values()) == {"sent"}
    assert rig.pushed[-1]["status"] == "done" and rig.pushed[-1]["counts"]["sent"] == 5


async def test_cancel_stops_the_rest_and_keeps_what_was_sent(open_rig) -> None:
    rig = await open_rig()
    send = Sender(hold_after=3)
    core = rig.core(send)
    job_id = await rig.create(core, 8)
    core.start()
    try:
        async with asyncio.timeout(WAIT_S):
            await send.held.wait()  # r4 is in flight
        job = await core.cancel(job_id, "u1")
        assert job["status"] == "cancelled" and job["counts"]["cancelled"] == 5
        send.release.set()  # the mail in flight still leaves, nothing after it
        await until(lambda: _item(rig, job_id, "r4", "sent"))
        await asyncio.sleep(0.2)
    finally:
        await core.stop()
    assert send.sent == ["r1", "r2", "r3", "r4"]
    assert await rig.items(job_id) == {"r1": "sent", "r2": "sent", "r3": "sent", "r4": "sent",
                                       "r5": "cancelled", "r6": "cancelled", "r7": "cancelled",
                                       "r8": "cancelled"}
    assert (await core.get(job_id))["status"] == "cancelled"
    assert any(p["status"] == "cancelled" for p in rig.pushed)
    with pytest.raises(InvalidState, match="cancelled"):
        await core.cancel(job_id, "u1")


async def test_a_restart_resumes_a_running_job_where_it_stopped(open_rig) -> None:
    first = await open_rig()
    send1 = Sender(hold_after=3)
    core1 = first.core(send1)
    job_id = await first.create(core1, 7, rate=500)
    core1.start()
    async with asyncio.timeout(WAIT_S):
        await send1.held.wait()
    await core1.stop()  # the process dies with r4 in flight

    second = await open_rig()  # a new process on the same database
    assert (await second.items(job_id))["r4"] == "queued"
    send2 = Sender()
    core2 = second.core(send2)
    core2.start()
    try:
        await until(lambda: _status(core2, job_id, "done"))
    finally:
        await core2.stop()
    assert send1.sent == ["r1", "r2", "r3"]
    assert send2.sent == ["r4", "r5", "r6", "r7"]  # nothing sent twice that was recorded as sent
    assert set((await second.items(job_id)).values()) == {"sent"}


async def test_a_scheduled_job_waits_for_its_durable_timer(open_rig) -> None:
    rig = await open_rig()
    send = Sender()
    core = rig.core(send)
    job_id = await rig.create(core, 3, scheduled_at=rig.clock.now() + 3600)
    assert (await core.get(job_id))["status"] == "scheduled"
    assert set((await rig.items(job_id)).values()) == {"pending"}
    core.start()
    try:
        assert await rig.scheduler.run_due() == 0
        rig.clock.advance(3601)
        assert await rig.scheduler.run_due() == 1  # the timer fires once and starts the job
        await until(lambda: _status(core, job_id, "done"))
        # start now / cancel of a scheduled job drop its timer
        other = await rig.create(core, 2, scheduled_at=rig.clock.now() + 60)
        assert await rig.scheduler.find(core.timer_key(other)) is not None
        await core.cancel(other, "u1")
        assert await rig.scheduler.find(core.timer_key(other)) is None  # no pending timer left
        with pytest.raises(InvalidState):
            await core.start_now(other)
    finally:
        await core.stop()
    assert send.sent == ["r1", "r2", "r3"]
    with pytest.raises(ValidationFailed, match="past"):
        core.plan("Late", rig.clock.now() - 3600)
    with pytest.raises(ValidationFailed, match="name"):
        core.plan("  ", None)


async def test_jobs_sent_by_another_worker_are_watched_and_finished(open_rig) -> None:
    """The SMS way: the channel's own queue sends the items; the core counts and finishes."""
    rig = await open_rig()
    core = rig.core(None)
    job_id = await rig.create(core, 3)
    core.start()
    try:
        for n, to in enumerate(("r1", "r2", "r3"), start=1):
            async with rig.db.tx() as tx:
                await tx.conn.execute(update(items_t).where(items_t.c.to == to).values(status="sent"))
            await until(lambda n=n: _pushed_sent(rig, n))
        await until(lambda: _status(core, job_id, "done"))
    finally:
        await core.stop()
    assert rig.pushed[-1]["status"] == "done"


async def _status(core: BulkJobs, job_id: str, status: str) -> bool:
    return (await core.get(job_id))["status"] == status


async def _item(rig: Rig, job_id: str, to: str, status: str) -> bool:
    return (await rig.items(job_id)).get(to) == status


async def _pushed_status(rig: Rig, status: str) -> bool:
    return bool(rig.pushed) and rig.pushed[-1]["status"] == status


async def _pushed_sent(rig: Rig, n: int) -> bool:
    return any(p["counts"]["sent"] == n for p in rig.pushed)
