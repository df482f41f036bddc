"""The durable scheduler on a manual clock: order, reschedule/cancel by key, retries with backoff,
failure events, leases (exactly once across schedulers, recovery after a crashed owner, fencing of
a late owner), waking early, polling for other processes' timers, and bad input. Runs on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from hub.clock import ManualClock, SystemClock
from hub.db import tables as t
from hub.db.scheduler_tables import timers
from hub.db.uow import Database
from hub.errors import ValidationFailed
from hub.events import Event, EventType
from hub.services.scheduler import HUB_EVENT_KIND, Scheduler, Timer
from tests.scheduler.conftest import OpenDb

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)


class Recorder:
    """A handler that records the timers it fires (and can be told to fail or block)."""

    def __init__(self) -> None:
        self.fired: list[Timer] = []
        self.fail_times = 0
        self.block: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self, timer: Timer) -> None:
        self.started.set()
        if self.block is not None:
            await self.block.wait()
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("SMS gateway refused the message")
        self.fired.append(timer)

    @property
    def keys(self) -> list[str | None]:
        return [x.key for x in self.fired]


async def add(s: Scheduler, db: Database, due_at: float, key: str | None = None, kind: str = "remind",
              **payload: object) -> str:
    async with db.tx() as tx:
        return await s.schedule(tx, kind=kind, due_at=due_at, payload=dict(payload), key=key)


async def row(db: Database, tid: str) -> dict:  # type: ignore[type-arg]
    async with db.read() as conn:
        return dict((await conn.execute(select(timers).where(timers.c.id == tid))).one()._mapping)


async def stored_events(db: Database, type_: EventType) -> list[dict]:  # type: ignore[type-arg]
    async with db.read() as conn:
        rows = (await conn.execute(select(t.events).where(t.events.c.type == str(type_))
                                   .order_by(t.events.c.id))).all()
    return [dict(r._mapping) for r in rows]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_timers_fire_when_due_in_due_order(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock)
    rec = Recorder()
    s.on("remind", rec)
    now = clock.now()
    for key, due in (("c", 30), ("a", 10), ("b", 20), ("d", 3600)):
        await add(s, db, now + due, key, ticket=key)
    assert await s.run_due() == 0
    clock.advance(9.9)
    assert await s.run_due() == 0
    clock.advance(20.2)
    assert await s.run_due() == 3
    assert rec.keys == ["a", "b", "c"]
    assert [x.payload for x in rec.fired] == [{"ticket": "a"}, {"ticket": "b"}, {"ticket": "c"}]
    assert all(x.attempts == 1 for x in rec.fired)
    assert await s.run_due() == 0, "a fired timer never fires again"
    done = await row(db, rec.fired[0].id)
    assert done["status"] == "done" and done["fired_at"] == clock.now() and done["lease_owner"] is None


async def test_rescheduling_by_key_moves_the_one_pending_timer(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock)
    rec = Recorder()
    s.on("remind", rec)
    first = await add(s, db, clock.now() + 10, "sla:T1:response", step=1)
    again = await add(s, db, clock.now() + 60, "sla:T1:response", step=2)
    assert again == first
    clock.advance(30)
    assert await s.run_due() == 0, "the earlier due time was replaced"
    clock.advance(31)
    assert await s.run_due() == 1
    assert rec.fired[0].payload == {"step": 2}
    # the key is free again once the timer has fired: a new timer, the old one kept as history
    third = await add(s, db, clock.now() + 5, "sla:T1:response", step=3)
    assert third != first
    assert (await row(db, first))["status"] == "done"
    assert (await s.find("sla:T1:response"))["payload"] == {"step": 3}


async def test_cancel_by_key(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock)
    rec = Recorder()
    s.on("remind", rec)
    tid = await add(s, db, clock.now() + 10, "wo:7:late")
    async with db.tx() as tx:
        assert await s.cancel(tx, "wo:7:late") is True
    async with db.tx() as tx:
        assert await s.cancel(tx, "wo:7:late") is False
        assert await s.cancel(tx, "no-such-key") is False
    clock.advance(20)
    assert await s.run_due() == 0 and rec.fired == []
    assert (await row(db, tid))["status"] == "cancelled"
    assert await s.find("wo:7:late") is None


async def test_a_timer_exists_only_if_the_callers_transaction_commits(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock)
    rec = Recorder()
    s.on("remind", rec)
    with pytest.raises(RuntimeError):
        async with db.tx() as tx:
            await s.schedule(tx, kind="remind", due_at=clock.now() + 1, payload={}, key="k")
            raise RuntimeError("ticket validation failed")
    clock.advance(5)
    assert await s.run_due() == 0
    assert await s.find("k") is None


async def test_failing_handler_is_retried_with_backoff(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock, max_attempts=5, retry_base_s=10)
    rec = Recorder()
    rec.fail_times = 2
    s.on("remind", rec)
    tid = await add(s, db, clock.now(), "notify:1")
    assert await s.run_due() == 1
    r = await row(db, tid)
    assert r["status"] == "pending" and r["attempts"] == 1
    assert r["due_at"] == pytest.approx(clock.now() + 10)
    assert "SMS gateway refused" in r["last_error"]
    clock.advance(9)
    assert await s.run_due() == 0, "not before the backoff"
    clock.advance(1)
    assert await s.run_due() == 1
    assert (await row(db, tid))["due_at"] == pytest.approx(clock.now() + 20), "backoff doubles"
    clock.advance(20)
    assert await s.run_due() == 1
    assert [x.attempts for x in rec.fired] == [3]
    r = await row(db, tid)
    assert r["status"] == "done" and r["last_error"] is None


async def test_handler_out_of_attempts_is_failed_with_an_event(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock, max_attempts=3, retry_base_s=1)
    rec = Recorder()
    rec.fail_times = 99
    s.on("remind", rec)
    tid = await add(s, db, clock.now(), "escalate:9", ticket="9")
    for _ in range(3):
        assert await s.run_due() == 1
        clock.advance(100)
    assert await s.run_due() == 0
    r = await row(db, tid)
    assert r["status"] == "failed" and r["attempts"] == 3 and "SMS gateway" in r["last_error"]
    [ev] = await stored_events(db, EventType.TIMER_FAILED)
    assert ev["data"]["key"] == "escalate:9" and ev["data"]["attempts"] == 3
    assert "SMS gateway refused" in ev["data"]["error"]


async def test_slow_handler_times_out_and_is_retried(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock, handler_timeout_s=0.2, lease_s=10)
    rec = Recorder()
    rec.block = asyncio.Event()
    s.on("remind", rec)
    tid = await add(s, db, clock.now())
    assert await s.run_due() == 1
    r = await row(db, tid)
    assert r["status"] == "pending" and "timed out" in r["last_error"] and r["lease_owner"] is None


async def test_unknown_kind_is_retried_then_failed(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock, max_attempts=2, retry_base_s=1)
    tid = await add(s, db, clock.now(), kind="nobody.handles.this")
    await s.run_due()
    clock.advance(5)
    await s.run_due()
    r = await row(db, tid)
    assert r["status"] == "failed" and "no handler" in r["last_error"]


async def test_two_schedulers_on_one_database_fire_each_timer_once(open_db: OpenDb, clock: ManualClock) -> None:
    db_a, db_b = await open_db(), await open_db()
    fired: list[tuple[str, str | None]] = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def fire(timer: Timer) -> None:
            await asyncio.sleep(0)
            fired.append((name, timer.key))
        return fire

    a = Scheduler(db_a, clock, owner="A", batch_size=25)
    b = Scheduler(db_b, clock, owner="B", batch_size=25)
    a.on("remind", handler("A"))
    b.on("remind", handler("B"))
    n = 300
    async with db_a.tx() as tx:
        for i in range(n):
            await a.schedule(tx, kind="remind", due_at=clock.now() + i % 7, payload={}, key=f"k{i}")
    clock.advance(10)

    async def drain(s: Scheduler) -> None:
        while await s.run_due(25):
            pass

    await asyncio.gather(drain(a), drain(b), drain(a), drain(b))
    keys = [k for _, k in fired]
    assert sorted(keys) == sorted(f"k{i}" for i in range(n)), "each timer exactly once"
    async with db_a.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(timers)
                                   .where(timers.c.status == "done"))).scalar() == n


async def test_a_crashed_owners_timer_is_taken_over_when_its_lease_expires(open_db: OpenDb,
                                                                           clock: ManualClock) -> None:
    db_a, db_b = await open_db(), await open_db()
    a = Scheduler(db_a, clock, owner="crashing", lease_s=120, handler_timeout_s=60)
    b = Scheduler(db_b, clock, owner="survivor", lease_s=120, handler_timeout_s=60)
    rec_a, rec_b = Recorder(), Recorder()
    rec_a.block = asyncio.Event()
    a.on("remind", rec_a)
    b.on("remind", rec_b)
    tid = await add(a, db_a, clock.now(), "escalate:42")
    crashed = asyncio.create_task(a.run_due())
    await asyncio.wait_for(rec_a.started.wait(), 10)
    assert (await row(db_b, tid))["lease_owner"] == "crashing"
    crashed.cancel()  # the process dies mid-handler: nothing is written back
    await asyncio.gather(crashed, return_exceptions=True)

    clock.advance(60)
    assert await b.run_due() == 0, "the lease still protects the timer"
    clock.advance(61)
    assert await b.run_due() == 1
    assert rec_b.keys == ["escalate:42"] and rec_b.fired[0].attempts == 2
    r = await row(db_b, tid)
    assert r["status"] == "done" and r["attempts"] == 2


async def test_an_owner_that_lost_its_lease_cannot_complete_the_timer(open_db: OpenDb,
                                                                     clock: ManualClock) -> None:
    db_a, db_b = await open_db(), await open_db()
    a = Scheduler(db_a, clock, owner="slow", lease_s=120, handler_timeout_s=100)
    b = Scheduler(db_b, clock, owner="fast", lease_s=120, handler_timeout_s=100)
    slow = Recorder()
    slow.block = asyncio.Event()
    fast = Recorder()
    fast.block = asyncio.Event()
    a.on("remind", slow)
    b.on("remind", fast)
    tid = await add(a, db_a, clock.now())
    first = asyncio.create_task(a.run_due())
    await asyncio.wait_for(slow.started.wait(), 10)
    clock.advance(121)  # e.g. the process was paused: its lease ran out
    second = asyncio.create_task(b.run_due())
    await asyncio.wait_for(fast.started.wait(), 10)
    slow.block.set()
    await first  # A finishes late: its completion is fenced off
    r = await row(db_a, tid)
    assert r["status"] == "pending" and r["lease_owner"] == "fast"
    fast.block.set()
    await second
    assert (await row(db_a, tid))["status"] == "done"


async def test_hub_event_kind_records_the_firing_once_in_the_event_log(db: Database, clock: ManualClock) -> None:
    s = Scheduler(db, clock, owner="me")
    seen: list[Event] = []

    async def listen(ev: Event) -> None:
        seen.append(ev)

    db.bus.subscribe(listen)
    await add(s, db, clock.now() + 5, "note:1", kind=HUB_EVENT_KIND, note="call the customer back",
              user_id="u1")
    clock.advance(5)
    assert await s.run_due() == 1
    [ev] = await stored_events(db, EventType.TIMER_FIRED)
    assert ev["user_id"] == "u1"
    assert ev["data"]["note"] == "call the customer back" and ev["data"]["key"] == "note:1"
    assert ev["data"]["fired_by"] == "me"
    await db.bus.settled()  # live subscribers get it after commit, in their own task
    assert [e.type for e in seen] == [EventType.TIMER_FIRED]
    clock.advance(500)
    assert await s.run_due() == 0
    assert len(await stored_events(db, EventType.TIMER_FIRED)) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "", "due_at": 1.0, "payload": {}}, "kind"),
    ({"kind": "remind", "due_at": float("nan"), "payload": {}}, "due_at"),
    ({"kind": "remind", "due_at": "tomorrow", "payload": {}}, "due_at"),
    ({"kind": "remind", "due_at": 1.0, "payload": ["x"]}, "payload"),
    ({"kind": "remind", "due_at": 1.0, "payload": {"at": object()}}, "payload"),
    ({"kind": "remind", "due_at": 1.0, "payload": {}, "key": "k" * 201}, "key"),
])
async def test_bad_timers_are_refused_and_change_nothing(db: Database, clock: ManualClock, kwargs: dict,  # type: ignore[type-arg]
                                                          message: str) -> None:
    s = Scheduler(db, clock)
    with pytest.raises(ValidationFailed, match=message):
        async with db.tx() as tx:
            await s.schedule(tx, **kwargs)
    async with db.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(timers))).scalar() == 0


async def test_running_loop_wakes_early_for_a_sooner_timer_committed_in_this_process(db: Database) -> None:
    s = Scheduler(db, SystemClock(), poll_interval_s=30)
    fired = asyncio.Event()

    async def handler(timer: Timer) -> None:
        fired.set()

    s.on("remind", handler)
    await s.start()
    try:
        await asyncio.sleep(0.3)  # the loop is asleep for up to 30 s
        begin = time.time()
        await add(s, db, begin + 0.3)
        await asyncio.wait_for(fired.wait(), 10)
        assert time.time() - begin < 5, "woken by the commit, not by the 30 s poll"
    finally:
        await s.stop()


async def test_running_loop_polls_for_timers_written_by_another_process(open_db: OpenDb) -> None:
    mine, other = await open_db(), await open_db()
    s = Scheduler(mine, SystemClock(), poll_interval_s=0.5)
    elsewhere = Scheduler(other, SystemClock())  # never started: like another server's API
    fired = asyncio.Event()

    async def handler(timer: Timer) -> None:
        fired.set()

    s.on("remind", handler)
    await s.start()
    try:
        await asyncio.sleep(0.2)
        begin = time.time()
        await add(elsewhere, other, begin)
        await asyncio.wait_for(fired.wait(), 10)
        assert time.time() - begin < 3
    finally:
        await s.stop()


async def test_stop_hands_back_the_lease_of_an_unfinished_handler(db: Database) -> None:
    s = Scheduler(db, SystemClock(), poll_interval_s=0.2, stop_grace_s=0.2)
    rec = Recorder()
    rec.block = asyncio.Event()
    s.on("remind", rec)
    tid = await add(s, db, time.time() - 1)
    await s.start()
    await asyncio.wait_for(rec.started.wait(), 10)
    await s.stop()
    r = await row(db, tid)
    assert r["status"] == "pending" and r["lease_owner"] is None and r["attempts"] == 0


async def test_two_transactions_scheduling_the_same_new_key_leave_one_timer(open_db: OpenDb,
                                                                            clock: ManualClock) -> None:
    db_a, db_b = await open_db(), await open_db()
    a, b = Scheduler(db_a, clock), Scheduler(db_b, clock)
    rec = Recorder()
    b.on("remind", rec)
    second_started = asyncio.Event()

    async def second() -> str:
        async with db_b.tx() as tx:
            second_started.set()
            return await b.schedule(tx, kind="remind", due_at=clock.now() + 20, payload={"by": "b"},
                                    key="sla:T9:resolution")

    async with db_a.tx() as tx:
        first_id = await a.schedule(tx, kind="remind", due_at=clock.now() + 10, payload={"by": "a"},
                                    key="sla:T9:resolution")
        racing = asyncio.create_task(second())
        await asyncio.wait_for(second_started.wait(), 10)
        await asyncio.sleep(0.3)  # the second one is now waiting for the first to commit
    second_id = await asyncio.wait_for(racing, 20)
    assert second_id == first_id
    async with db_a.read() as conn:
        rows = (await conn.execute(select(timers))).all()
    assert [(r.key, r.payload, r.due_at) for r in rows] == [("sla:T9:resolution", {"by": "b"}, clock.now() + 20)]
    clock.advance(30)
    assert await b.run_due() == 1 and rec.fired[0].payload == {"by": "b"}


async def test_a_handler_can_complete_and_set_up_its_next_reminder_atomically(db: Database,
                                                                             clock: ManualClock) -> None:
    s = Scheduler(db, clock)
    reminders: list[int] = []

    async def remind_every_30_min(timer: Timer) -> None:
        async with db.tx() as tx:
            if not await s.complete(tx, timer):
                return
            n = timer.payload["n"]
            reminders.append(n)
            if n < 3:
                await s.schedule(tx, kind="repeat", due_at=timer.due_at + 1800, payload={"n": n + 1},
                                 key=timer.key)

    s.on("repeat", remind_every_30_min)
    await add(s, db, clock.now() + 1800, "wo:5:progress", kind="repeat", n=1)
    for _ in range(5):
        clock.advance(1800)
        await s.run_due()
    assert reminders == [1, 2, 3]
    async with db.read() as conn:
        rows = (await conn.execute(select(timers.c.status, timers.c.key))).all()
    assert sorted(rows) == [("done", "wo:5:progress")] * 3
