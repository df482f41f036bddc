"""A caller who vanishes without a BYE does not wait in the queue until ``max_wait`` (issue 18,
finding 2): no RTP for ``voice_rtp_timeout_s`` ends the call; SIP session timers (RFC 4028) are
negotiated (422 below ``voice_session_min_se_s``), a refresh the caller owes and does not send
ends the call with a BYE, one it gets keeps the call going, and the hub refreshes by UPDATE
when it is the refresher. A supervisor
ends any live call; an agent who is not on it gets 403."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import tables as t
from tests.support.wait import eventually
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.slow


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"voice_rtp_timeout_s": 1.5, "voice_session_min_se_s": 2}


async def _calls(hub: Any) -> dict[str, Any]:
    """The call records by the scenario's caller tag (``+8613900<tag><n>``)."""
    async with hub.services.db.read() as conn:
        rows = (await conn.execute(select(t_calls))).all()
    return {r.caller[8:10]: r for r in rows}


async def _statuses(hub: Any) -> set[str]:
    async with hub.services.db.read() as conn:
        return set((await conn.execute(select(t.conversations.c.status)
                                       .where(t.conversations.c.channel == "voice"))).scalars())


async def test_callers_gone_without_bye_are_hung_up_and_a_supervisor_ends_any_call(voice_hub, tmp_path: Path):
    target = f"127.0.0.1:{sip_port(voice_hub)}"
    runs = {name: Sipp(tmp_path / name, f"{name}.xml", target, timeout_s=20)
            for name in ("caller_goes_silent", "session_timer_not_refreshed", "session_timer_hub_refreshes",
                         "session_timer_caller_refreshes", "caller_waits_for_bye")}
    svc = voice_hub.services.ports.voice.service
    supervisor, agent = await voice_hub.client("supervisor"), await voice_hub.client("agent1")
    try:
        for sipp in runs.values():
            await sipp.start()
        waiting = await eventually(lambda: [c for c in svc.active_calls()
                                            if c["caller"].startswith("+861390042") and c["state"] == "queued"],
                                   within=10, what="the waiting caller is queued")
        call_id = waiting[0]["id"]
        # an agent who is not on the call may not end it; a supervisor ends it (the caller gets a BYE)
        r = await agent.http.post(f"/api/voice/calls/{call_id}/end")
        assert r.status_code == 403 and r.json()["code"] == "not_on_call"
        await supervisor.ok("POST", f"/api/voice/calls/{call_id}/end", status=204)
        for name, sipp in runs.items():
            assert await sipp.wait() == 0, (name, sipp.log())
    finally:
        for sipp in runs.values():
            await sipp.stop()

    calls = await eventually(lambda: _calls(voice_hub), until=lambda c: len(c) == 5 and all(
        r.ended_at for r in c.values()), what="the five calls ended")
    silent, expired, refreshed, ended = calls["41"], calls["43"], calls["44"], calls["42"]
    assert silent.end_reason == "rtp_timeout" and 1.5 <= silent.ended_at - silent.answered_at < 5
    # BYE a third of the 3 s interval before it runs out (RFC 4028 section 10); RTP kept flowing
    assert expired.end_reason == "session_expired" and 1.8 <= expired.ended_at - expired.answered_at < 3
    assert refreshed.end_reason == "caller_hangup"  # two UPDATEs answered: the call lived on
    # the caller's UPDATEs every 0.8 s kept its 2 s session going for longer than 2 s
    refreshing = calls["45"]
    assert refreshing.end_reason == "caller_hangup" and refreshing.ended_at - refreshing.answered_at > 2.2
    assert ended.end_reason == "ended_by_supervisor"
    assert await _statuses(voice_hub) <= {"closed", "abandoned"}  # nobody is left waiting
    assert svc.active_calls() == []

    audit = await (await voice_hub.client("admin")).ok("GET", "/api/audit")
    [entry] = [e for e in audit if e["type"] == "voice.call_ended_by_user"]
    assert entry["user_id"] == supervisor.user["id"] and entry["data"]["call_id"] == call_id
    r = await supervisor.http.post(f"/api/voice/calls/{call_id}/end")
    assert r.status_code == 404 and r.json()["code"] == "call_not_found"
