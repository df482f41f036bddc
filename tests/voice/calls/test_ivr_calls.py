"""Calls through an IVR flow (``voice/ivr`` published for the dialled number): sipp navigates the
menu with RFC 4733 events from the sip-tester pcaps and with SIP INFO, lands in the queue it chose,
and (RFC 4733 case) is answered by the agent's desk phone with the caller's audio recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import tables as t
from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.support import Sipp
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.slow


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"ivr_prerender_tts": False}


async def publish_menu(hub, number: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    admin = await hub.client("admin")
    agent1 = await hub.client("agent1")
    assert agent1.user is not None
    second = await admin.ok("POST", "/api/queues", {"name": "Second line", "strategy": "longest_idle",
                                                          "members": [agent1.user["id"]]}, status=201)
    definition = {
        "name": "Test menu", "start": "menu",
        "nodes": {
            "menu": {"type": "menu", "prompt": [{"text": "For enquiries press 1, for the second line press 2."}],
                     "options": {"1": "general", "2": "second"}, "timeout_s": 10, "default": "general"},
            "general": {"type": "queue", "queue_id": "general", "music": [{"builtin": "moh"}]},
            "second": {"type": "queue", "queue_id": second["id"], "music": [{"builtin": "moh"}]},
        },
    }
    flow = await admin.ok("POST", "/api/ivr/flows", {"name": "Test menu", "definition": definition}, status=201)
    await admin.ok("POST", f"/api/ivr/flows/{flow['id']}/publish", {})
    await admin.ok("PUT", f"/api/ivr/numbers/{number}", {"flow_id": flow["id"]})
    assert hub.services.ports.ivr.flow_for_number(number) is not None
    return {"general": "general", "second": second["id"]}


async def voice_conversation(hub):  # type: ignore[no-untyped-def]
    async with hub.services.db.read() as conn:
        return (await conn.execute(select(t.conversations).where(t.conversations.c.channel == "voice"))).all()


async def test_caller_presses_1_with_rfc4733_and_is_answered_in_the_chosen_queue(voice_hub, tmp_path: Path):
    await publish_menu(voice_hub, "6100")
    phone, agent = await agent_phone(voice_hub, tmp_path / "phone")
    sipp = Sipp(tmp_path / "sipp", "ivr_dtmf_rfc4733.xml", f"127.0.0.1:{sip_port(voice_hub)}", extra=["-s", "6100"])
    try:
        await sipp.start()
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        call = next(iter(voice_hub.services.ports.voice.service.calls.values()))
        assert call.ivr is not None and call.ivr.digits == ["1"]  # one digit per RFC 4733 event
        assert call.caller.media.rx_dtmf == 1
        assert await sipp.wait(40) == 0, sipp.log()
        await phone.wait_event("CALL_CLOSED", timeout=10)
    finally:
        await sipp.stop()
        await phone.stop()
    (conv,) = await voice_conversation(voice_hub)
    assert conv.queue_id == "general" and conv.last_agent_id == agent.user["id"]
    async with asyncio.timeout(10):
        while True:
            async with voice_hub.services.db.read() as conn:
                rec = (await conn.execute(select(t_calls))).one()
            if rec.recording_id:
                break
            await asyncio.sleep(0.1)
    assert rec.end_reason == "caller_hangup" and rec.agent_id == agent.user["id"]


async def test_caller_presses_2_with_sip_info_and_waits_in_the_second_queue(voice_hub, tmp_path: Path):
    queues = await publish_menu(voice_hub, "6100")
    sipp = Sipp(tmp_path / "sipp", "ivr_dtmf_info.xml", f"127.0.0.1:{sip_port(voice_hub)}", extra=["-s", "6100"])
    try:
        await sipp.start()
        async with asyncio.timeout(10):
            while True:
                convs = await voice_conversation(voice_hub)
                if convs and convs[0].status == "queued":
                    break
                await asyncio.sleep(0.05)
        assert convs[0].queue_id == queues["second"]
        call = next(iter(voice_hub.services.ports.voice.service.calls.values()))
        assert call.ivr.digits == ["2"] and call.caller.media.player is not None  # music while queued
        assert await sipp.wait(30) == 0, sipp.log()
    finally:
        await sipp.stop()
    async with asyncio.timeout(10):
        while (await voice_conversation(voice_hub))[0].status != "abandoned":  # noqa: ASYNC110
            await asyncio.sleep(0.05)
