"""Retention of call recordings on a manual clock: the daily durable purge deletes recordings older
than ``voice_recording_retention_days`` (row, attachment, WAV file), keeps the call record, counts
what it did in the audit trail and sets itself up for the next day; 0 keeps everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.clock import ManualClock
from hub.db import tables as t
from tests.support.hub import InProcessHub, clocked_hub
from tests.voice.calls.recording_seed import seed_recording
from voice.calls.recordings import DAY_S, PURGE_KEY
from voice.calls.tables import calls as t_calls

START = 1_790_000_000.0


async def clocked(tmp_path: Path, clock: ManualClock, **settings) -> InProcessHub:
    return await clocked_hub(tmp_path / "data", clock, **settings)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def hub(tmp_path: Path, clock: ManualClock) -> AsyncIterator[InProcessHub]:
    h = await clocked(tmp_path, clock, voice_recording_retention_days=30)
    try:
        yield h
    finally:
        await h.stop()


async def test_daily_purge_deletes_old_recordings_keeps_the_calls_and_reschedules(hub, clock):
    s = hub.services
    sup = await hub.client("supervisor")
    old = await seed_recording(s, caller="+4930100", agent_id=None, started_at=START - 41 * DAY_S,
                               duration=2.0, created_at=START - 40 * DAY_S)
    recent = await seed_recording(s, caller="+4930200", agent_id=None, started_at=START - 11 * DAY_S,
                                  duration=2.0, created_at=START - 10 * DAY_S)
    timer = await s.scheduler.find(PURGE_KEY)
    # the first purge is due at start-up (the scheduler loop may have run it, finding nothing yet)
    assert timer is not None and timer["due_at"] in (START, START + DAY_S)
    clock.advance(timer["due_at"] - clock.now())
    assert await s.scheduler.run_due() == 1
    page = await sup.ok("GET", "/api/voice/recordings")
    assert [r["id"] for r in page["items"]] == [recent.recording["id"]]
    assert not old.path.exists() and recent.path.exists()
    async with s.db.read() as conn:
        cdr = (await conn.execute(select(t_calls).where(t_calls.c.id == old.call["id"]))).one()
        att = (await conn.execute(select(t.attachments).where(t.attachments.c.id == old.attachment["id"]))).first()
    assert cdr.caller == "+4930100" and cdr.recording_id is None and att is None  # the CDR stays
    admin = await hub.client("admin")
    purged = [e for e in await admin.ok("GET", "/api/audit") if e["type"] == "voice.recordings_purged"]
    assert [(e["data"]["deleted"], e["data"]["bytes"]) for e in purged] == [(1, len(old.wav))]
    nxt = await s.scheduler.find(PURGE_KEY)
    assert nxt is not None and nxt["due_at"] == clock.now() + DAY_S

    clock.advance(DAY_S - 1)
    assert await s.scheduler.run_due() == 0  # daily, not sooner
    clock.advance(20 * DAY_S + 1)  # the recent one is now over 30 days old; catch-up fires once
    assert await s.scheduler.run_due() == 1
    assert (await sup.ok("GET", "/api/voice/recordings"))["items"] == []
    assert not recent.path.exists()
    assert (await s.scheduler.find(PURGE_KEY))["due_at"] == clock.now() + DAY_S


async def test_retention_zero_keeps_recordings_forever(tmp_path: Path, clock: ManualClock):
    h = await clocked(tmp_path, clock)
    try:
        s = h.services
        seeded = await seed_recording(s, caller="+4930100", agent_id=None, started_at=START - 900 * DAY_S,
                                      duration=1.0, created_at=START - 900 * DAY_S)
        assert await s.scheduler.find(PURGE_KEY) is None  # nothing to purge, no timer
        clock.advance(2 * DAY_S)
        await s.scheduler.run_due()
        sup = await h.client("supervisor")
        assert len((await sup.ok("GET", "/api/voice/recordings"))["items"]) == 1 and seeded.path.exists()
    finally:
        await h.stop()
