"""Fixtures of the workflow tests: the real hub on a loopback port (on SQLite; a test marked
``storage`` also runs on PostgreSQL: tests/conftest.py), without the knowledge base and SMS
components these tests do not need; and a hub on a manual clock for the SLA and work-order timing
tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bootstrap import build_app
from hub.clock import ManualClock
from tests.support.hub import InProcessHub, running_hub

LEAN = {"kb_enabled": False, "sms_enabled": False, "email_enabled": False}


@pytest.fixture
async def hub(tmp_path, database_url: str) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path / "data", database_url, **LEAN) as h:
        yield h


SHANGHAI = ZoneInfo("Asia/Shanghai")
# Friday 29 January 2027, 15:00 in Shanghai; Monday 1 February 2027 is a holiday of the test calendar.
FRIDAY_1500 = datetime(2027, 1, 29, 15, 0, tzinfo=SHANGHAI).timestamp()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_1500)


@pytest.fixture
async def clocked_hub(tmp_path, clock: ManualClock) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    """A hub whose clock only moves when the test says; its scheduler loop is stopped so timers
    fire exactly when the test calls ``scheduler.run_due()``."""
    h = InProcessHub(tmp_path / "data", session_ttl_s=60 * 86400, **LEAN)
    h.app = build_app(h.settings, clock)
    await h.start()
    await h.services.scheduler.stop()
    try:
        yield h
    finally:
        await h.stop()
