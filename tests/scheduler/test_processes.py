"""The scheduler in real ``python server.py`` processes: a deadline that passes while the server is
down fires exactly once when it comes back, and two servers sharing one PostgreSQL fire each timer
exactly once. Timers are written by the test through the scheduler's own API on its own engine
(as another component or server would) and observed in the event log: the built-in ``hub.event``
kind stores a ``timer.fired`` event naming the process that fired it."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub.acd import Calendar
from hub.clock import SystemClock
from hub.db import tables as t
from hub.db.engine import make_engine, migrate
from hub.db.scheduler_tables import timers
from hub.db.uow import Database
from hub.events import EventBus, EventType
from hub.services.business_hours import add_business_seconds
from hub.services.scheduler import HUB_EVENT_KIND, Scheduler
from tests.scheduler.conftest import sqlite_url
from tests.support.hub import HubProcess

pytestmark = [pytest.mark.slow, pytest.mark.storage]  # SQLite and PostgreSQL (tests/conftest.py)

# Short polls; components the scheduler does not need are off so the servers start quickly.
FAST = {"HUB_SCHEDULER_POLL_INTERVAL_S": "0.5", "HUB_KB_ENABLED": "0", "HUB_SMS_ENABLED": "0",
        "HUB_EMAIL_ENABLED": "0"}
START_S = 60  # a loaded 2-core machine


async def start_server(server: HubProcess) -> HubProcess:
    return await asyncio.to_thread(server.start, START_S)


async def fired_events(db: Database) -> list[dict]:  # type: ignore[type-arg]
    async with db.read() as conn:
        rows = (await conn.execute(select(t.events.c.data)
                                   .where(t.events.c.type == str(EventType.TIMER_FIRED)))).all()
    return [r.data for r in rows]


async def wait_fired(db: Database, n: int, within_s: float) -> list[dict]:  # type: ignore[type-arg]
    """Poll the event log (written by another process) until ``n`` timers have fired."""
    deadline = time.monotonic() + within_s
    events = await fired_events(db)
    for _ in itertools.count():
        if len(events) >= n:
            break
        assert time.monotonic() < deadline, f"only {len(events)} of {n} timers fired in {within_s} s"
        await asyncio.sleep(0.2)
        events = await fired_events(db)
    return events


async def timer_row(db: Database, key: str) -> dict:  # type: ignore[type-arg]
    async with db.read() as conn:
        return dict((await conn.execute(select(timers).where(timers.c.key == key))).one()._mapping)


async def test_escalation_due_while_the_server_is_down_fires_once_on_restart(tmp_path: Path,
                                                                           database_url: str) -> None:
    data = tmp_path / "data"
    url = database_url or sqlite_url(data / "hub.db")
    server = HubProcess(data, database_url, env=FAST)
    await start_server(server)
    engine = make_engine(url)
    db = Database(engine, EventBus())
    client = Scheduler(db, SystemClock())
    try:
        due = time.time() + 4
        async with db.tx() as tx:
            await client.schedule(tx, kind=HUB_EVENT_KIND, due_at=due, key="escalate:T-1001",
                                  payload={"ticket": "T-1001", "to": "supervisors"})
        await asyncio.to_thread(server.kill)  # down at once (a crash, or the machine switched off)
        assert time.time() < due, "the server must be down before the deadline"
        await asyncio.sleep(due - time.time() + 1.5)
        assert await fired_events(db) == [], "nothing fires while the hub is down"
        assert (await timer_row(db, "escalate:T-1001"))["status"] == "pending"

        server = HubProcess(data, database_url, env=FAST)
        await start_server(server)
        await wait_fired(db, 1, 30)
        await asyncio.sleep(2)  # several poll intervals: a second firing would show up by now
        [ev] = await fired_events(db)
        assert ev["ticket"] == "T-1001" and ev["key"] == "escalate:T-1001"
        row = await timer_row(db, "escalate:T-1001")
        assert row["status"] == "done" and row["attempts"] == 1 and row["fired_at"] >= due
    finally:
        await asyncio.to_thread(server.stop)
        await engine.dispose()


async def test_business_hours_deadline_over_a_weekend_fires_on_monday_after_a_restart(
        tmp_path: Path, database_url: str) -> None:
    """The server's clock is set (``clock_start``) to Friday 16:59:50 in Berlin; a 20 business-second
    deadline falls on Monday 09:00:10. The server is stopped over the weekend and started again on
    Monday 09:00:05 (its clock): the timer fires once, at its due time, not before."""
    cal = Calendar(tz="Europe/Berlin", weekly={d: [("09:00", "17:00")] for d in range(5)})
    friday = datetime(2026, 5, 8, 16, 59, 50, tzinfo=ZoneInfo("Europe/Berlin"))
    deadline = add_business_seconds(cal, friday.timestamp(), 20)
    assert deadline == datetime(2026, 5, 11, 9, 0, 10, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    data = tmp_path / "data"
    url = database_url or sqlite_url(data / "hub.db")
    server = HubProcess(data, database_url, env={**FAST, "HUB_CLOCK_START": friday.isoformat()})
    await start_server(server)
    engine = make_engine(url)
    db = Database(engine, EventBus())
    try:
        async with db.tx() as tx:
            await Scheduler(db, SystemClock()).schedule(
                tx, kind=HUB_EVENT_KIND, due_at=deadline, key="sla:T-7:response", payload={"ticket": "T-7"})
        await asyncio.sleep(3)  # 17:00 on Friday passes on the server's clock: still not due
        await asyncio.to_thread(server.stop)
        assert await fired_events(db) == []

        monday = datetime(2026, 5, 11, 9, 0, 5, tzinfo=ZoneInfo("Europe/Berlin"))
        server = HubProcess(data, database_url, env={**FAST, "HUB_CLOCK_START": monday.isoformat()})
        await start_server(server)
        await wait_fired(db, 1, 30)
        await asyncio.sleep(1.5)
        [ev] = await fired_events(db)
        assert ev["ticket"] == "T-7"
        row = await timer_row(db, "sla:T-7:response")
        assert row["status"] == "done" and row["attempts"] == 1
        assert deadline <= row["fired_at"] < deadline + 5
    finally:
        await asyncio.to_thread(server.stop)
        await engine.dispose()


@pytest.mark.postgres
async def test_two_server_processes_on_one_postgres_fire_each_timer_once(tmp_path: Path, postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    first = HubProcess(tmp_path / "a", url, env=FAST)
    await start_server(first)
    second = HubProcess(tmp_path / "b", url, env={**FAST, "HUB_DEMO": "0"})
    engine = make_engine(url)
    try:
        await start_server(second)
        await migrate(engine)
        db = Database(engine, EventBus())
        client = Scheduler(db, SystemClock())
        n = 400
        start = time.time() + 1
        async with db.tx() as tx:
            for i in range(n):
                await client.schedule(tx, kind=HUB_EVENT_KIND, due_at=start + (i % 40) * 0.05,
                                      key=f"wo:{i}:remind", payload={"n": i})
        await wait_fired(db, n, 60)
        await asyncio.sleep(2)
        events = await fired_events(db)
        per_key = collections.Counter(ev["key"] for ev in events)
        assert len(events) == n and set(per_key.values()) == {1}, per_key.most_common(3)
        by_process = collections.Counter(ev["fired_by"] for ev in events)
        async with db.read() as conn:
            statuses = collections.Counter(r.status for r in (await conn.execute(select(timers.c.status))).all())
        assert statuses == {"done": n}
        # both servers took part (they wake at the same due times and skip each other's rows)
        assert len(by_process) == 2, by_process
    finally:
        await asyncio.to_thread(first.stop)
        await asyncio.to_thread(second.stop)
        await engine.dispose()
