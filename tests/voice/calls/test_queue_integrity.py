"""The queue tells the truth after an INVITE flood (issue 18, finding 1): callers who hang up
while the hub is still putting them in the queue leave no phantom behind — nothing waits without a
live call, no Ready agent is offered a dead call, an agent logging out brings no abandoned
conversation back, and the hub, the wallboard and the call records count the same abandons. The
same races step by step at the level of the hub's services: a conversation closed before it is
enqueued never reaches the ACD, an offer or a requeue never reopens an ended conversation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db import tables as t
from hub.errors import InvalidState
from tests.support.wait import eventually
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.slow

CALLS = 60


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    """Every flood call is let in (no 503 push-back, tests/voice/calls/test_overload.py): what
    happens to calls that reach the queue is under test here."""
    return {"voice_max_setups": 0, "voice_max_setup_rate": 0}


async def _statuses(hub: Any) -> dict[str, int]:
    c = t.conversations.c
    async with hub.services.db.read() as conn:
        rows = (await conn.execute(select(c.status, func.count()).where(c.channel == "voice")
                                   .group_by(c.status))).all()
    return {r[0]: r[1] for r in rows}


async def _cdr(hub: Any) -> list[Any]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t_calls))).all())


async def _open(hub: Any) -> Any:
    return await hub.services.conversations.open(
        channel="voice", queue_id="general", identity={"phone": "+8613800138000", "name": "Caller"},
        subject="Call", meta={}, status="pending")


async def _events(hub: Any, cid: str) -> list[str]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t.events.c.type).where(t.events.c.conversation_id == cid))).scalars())


async def test_an_invite_flood_leaves_no_phantom_in_the_queue_and_the_counts_agree(voice_hub, tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch):
    svc = voice_hub.services.ports.voice.service
    sipp = Sipp(tmp_path / "sipp", "flood_caller.xml", f"127.0.0.1:{sip_port(voice_hub)}",
                calls=CALLS, rate=20, timeout_s=30, extra=["-s", "5000"])
    supervisor = await voice_hub.client("supervisor")
    # the first calls' RTP ports take a while (a loaded host): they are still being set up, their
    # caller leg has no media yet
    opening, ports_free = asyncio.Event(), asyncio.Event()
    open_leg = svc.engine.open_leg

    async def slow_open_leg(name: str) -> Any:
        opening.set()
        await ports_free.wait()
        return await open_leg(name)
    monkeypatch.setattr(svc.engine, "open_leg", slow_open_leg)
    await sipp.start()
    try:
        await eventually(opening.is_set, within=5)
        # a supervisor looking at the live calls meanwhile sees them (issue 18, finding 8)
        live = await supervisor.ok("GET", "/api/voice/calls")
        assert {c["state"] for c in live["active"]} == {"setup"}, live["active"]
        assert all(c["rx_packets"] == 0 and c["quality"]["caller"] is None for c in live["active"])
        ports_free.set()
        rc = await sipp.wait()
    finally:
        await sipp.stop()
    assert rc == 0, sipp.log()

    async def all_ended() -> bool:
        rows = await _cdr(voice_hub)
        return len(rows) == CALLS and all(r.ended_at for r in rows) and not svc.active_calls()
    await eventually(all_ended, within=15, what="every flood call ended and recorded")

    # nothing is left waiting without a live call: not in the database, not in the ACD
    statuses = await _statuses(voice_hub)
    assert set(statuses) <= {"closed", "abandoned"}, statuses
    board = await supervisor.ok("GET", "/api/wallboard")
    general = next(q for q in board["queues"] if q["id"] == "general")
    assert general["waiting"] == 0, general

    # the hub, the wallboard and the call records count the same abandoned calls
    cdr_abandoned = sum(1 for r in await _cdr(voice_hub) if r.queued_at and not r.connected_at)
    abandoned = statuses.get("abandoned", 0)
    assert abandoned > 0, statuses  # the flood did reach the queue
    assert svc.stats["abandoned"] == abandoned
    assert general["abandoned_today"] == abandoned, general
    assert general["offered_today"] == abandoned, general  # every queued call was abandoned
    assert cdr_abandoned == abandoned

    # an agent who gets ready is offered nothing; logging out brings nothing back to the queue
    agent = await voice_hub.client("agent1")
    assert agent.user is not None
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    assert voice_hub.services.routing.offers_for(agent.user["id"]) == []
    await agent.ok("POST", "/api/agent/state", {"state": "logged_out"})
    assert await _statuses(voice_hub) == statuses

    # the same races, step by step at the level of the hub's services
    s = voice_hub.services
    # the caller hung up while the call was being queued: closed first, enqueued after
    gone = await _open(voice_hub)
    await s.conversations.close(gone.id, by=None, reason="customer")
    assert await s.routing.enqueue(gone, status="queued", queue_id="general") is False
    assert s.routing.engine.contact_location(gone.id) is None
    assert (await s.conversations.row(gone.id)).status == "closed"
    assert "conversation.queued" not in await _events(voice_hub, gone.id)
    with pytest.raises(InvalidState) as err:
        await s.conversations.set_status(gone.id, "queued")
    assert err.value.code == "conversation_ended"

    # offered to a Ready agent, then abandoned before the ACD let go of it: her logging out (the
    # offer withdrawn, the contact requeued) and logging in again (a new offer) leave it abandoned
    agent_id = agent.user["id"]
    await s.routing.set_agent_state(agent_id, "ready")
    waiting = await _open(voice_hub)
    assert await s.routing.enqueue(waiting, status="queued") is True
    assert [cid for cid, _ in s.routing.offers_for(agent_id)] == [waiting.id]
    assert (await s.conversations.close(waiting.id, by=None, reason="customer")).status == "abandoned"
    await s.routing.set_agent_state(agent_id, "logged_out")
    assert (await s.conversations.row(waiting.id)).status == "abandoned"
    await s.routing.set_agent_state(agent_id, "ready")
    assert (await s.conversations.row(waiting.id)).status == "abandoned"
    await s.routing.release(waiting.id)
    assert s.routing.engine.contact_location(waiting.id) is None
    assert s.routing.offers_for(agent_id) == []
