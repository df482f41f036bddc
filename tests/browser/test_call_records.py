"""A call's page (issue 18, item 7): a supervisor whose browser speaks Chinese opens a call from a
recording and reads what happened — the queue, hold, the consultation and the transfer, with whom
and how long — in Chinese; the record is stored as the call service writes it at the end of a call
(the real call path: tests/voice/calls/test_call_records.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.browser.steps import go_to, log_in
from tests.support.hub import ThreadedHub
from tests.voice.calls.recording_seed import seed_recording_sync
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.browser


def test_supervisor_reads_a_calls_history_on_its_page_in_chinese(hub: ThreadedHub, person: Callable[..., Page],
                                                                 admin_api: httpx.Client) -> None:
    users = {u["username"]: u["id"] for u in admin_api.get("/api/users").json()}
    a1, a2 = users["agent1"], users["agent2"]
    t0 = time.time() - 600
    seeded = seed_recording_sync(hub.data_dir, caller="+8613911112222", agent_id=a2, started_at=t0, duration=60.0)

    def seg(kind: str, start: float, end: float, agent: str | None = None, **kw: str) -> dict[str, object]:
        return {"kind": kind, "agent_id": agent, "queue_id": "general", "party": kw.get("party"),
                "reason": kw.get("reason"), "started_at": t0 + start, "ended_at": t0 + end}

    history = [seg("ivr", 0, 1), seg("queued", 1, 5), seg("talk", 5, 20, a1),
               seg("hold", 20, 23, a1, reason="agent_hold"), seg("consult", 23, 30, a1, party="Bob Li"),
               seg("talk", 30, 65, a2, reason="consult_transfer")]
    engine = sa.create_engine(f"sqlite:///{(hub.data_dir / 'hub.db').resolve()}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(t_calls).where(t_calls.c.id == seeded.call["id"]).values(
                segments=history, wait_s=4.0, talk_s=50.0, hold_s=10.0))
    finally:
        engine.dispose()

    page = person("supervisor", "zh-CN")
    log_in(page, "supervisor")
    go_to(page, "nav-recordings")
    page.get_by_test_id("rec-row-play").first.click()
    page.get_by_test_id("rec-call").click()
    expect(page.get_by_test_id("call-page")).to_be_visible()
    expect(page.get_by_test_id("call-agents")).to_have_text("Alice Chen → Bob Li")
    expect(page.get_by_test_id("call-talk")).to_have_text("0:50")
    expect(page.get_by_test_id("call-hold")).to_have_text("0:10")
    rows = page.get_by_test_id("call-segment")
    expect(rows).to_have_count(6)
    expect(rows.get_by_test_id("call-segment-kind")).to_have_text(
        ["语音菜单", "排队等待", "通话中", "保持", "保持（坐席咨询中）", "通话中"])
    expect(rows.nth(4).get_by_test_id("call-segment-who")).to_have_text("Alice Chen，咨询 Bob Li")
    expect(rows.nth(5).get_by_test_id("call-segment-who")).to_have_text("Bob Li")
    expect(rows.nth(5).get_by_test_id("call-segment-why")).to_have_text("咨询后转接")
    expect(rows.nth(3).get_by_test_id("call-segment-why")).to_have_text("坐席保持客户")
