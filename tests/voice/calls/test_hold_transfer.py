"""Mid-call SIP with real baresip phones: a baresip caller puts the call on hold and resumes it by
re-INVITE (the agent hears music on hold meanwhile), and the agent's desk phone blind-transfers
the caller to a colleague's phone with REFER."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.wait import eventually
from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.support import Baresip

pytestmark = pytest.mark.slow


def active(hub):  # type: ignore[no-untyped-def]
    return hub.services.ports.voice.service.calls


async def until(predicate, within: float = 10) -> None:  # type: ignore[no-untyped-def]
    await eventually(predicate, within)  # polls the call's state


async def caller_phone(hub, workdir: Path) -> Baresip:  # type: ignore[no-untyped-def]
    port = sip_port(hub)
    phone = Baresip(workdir, answermode="manual",
                    account=f"<sip:+8613911112222@127.0.0.1:{port}>;regint=0")
    return await phone.start()


async def test_baresip_caller_holds_and_resumes_by_reinvite(voice_hub, tmp_path: Path):
    agent, _ = await agent_phone(voice_hub, tmp_path / "agent")
    caller = await caller_phone(voice_hub, tmp_path / "caller")
    try:
        await caller.command("dial", f"sip:5000@127.0.0.1:{sip_port(voice_hub)}")
        await agent.wait_event("CALL_ESTABLISHED", timeout=15)
        await caller.wait_event("CALL_ESTABLISHED", timeout=5)
        call = next(iter(active(voice_hub).values()))
        await until(lambda: call.state == "bridged")
        assert not call.caller.held_by_remote and call.agent.media.player is None
        await caller.command("hold")
        await until(lambda: call.caller.held_by_remote)
        await until(lambda: call.agent.media.player is not None)  # music on hold to the agent
        sent = call.agent.media.tx_packets
        await asyncio.sleep(0.5)
        assert call.agent.media.tx_packets - sent >= 15  # paced at 20 ms
        await caller.command("resume")
        await until(lambda: not call.caller.held_by_remote)
        await until(lambda: call.agent.media.player is None)
        assert call.state == "bridged"
        await caller.command("hangup")
        await agent.wait_event("CALL_CLOSED", timeout=10)
    finally:
        await caller.stop()
        await agent.stop()


async def test_agent_desk_phone_blind_transfers_the_caller_with_refer(voice_hub, tmp_path: Path):
    phone1, agent1 = await agent_phone(voice_hub, tmp_path / "agent1")
    phone2, agent2 = await agent_phone(voice_hub, tmp_path / "agent2", "agent2", ready=False)
    caller = await caller_phone(voice_hub, tmp_path / "caller")
    try:
        await caller.command("dial", f"sip:5000@127.0.0.1:{sip_port(voice_hub)}")
        await phone1.wait_event("CALL_ESTABLISHED", timeout=15)
        call = next(iter(active(voice_hub).values()))
        await until(lambda: call.state == "bridged" and call.agent_id == agent1.user["id"])
        await agent2.ok("POST", "/api/agent/state", {"state": "ready"})
        reply = await phone1.command("transfer", f"sip:agent2@127.0.0.1:{sip_port(voice_hub)}")
        assert reply.get("ok"), reply
        await phone1.wait_event("CALL_CLOSED", timeout=10)
        await phone2.wait_event("CALL_ESTABLISHED", timeout=15)
        await until(lambda: call.state == "bridged" and call.agent_id == agent2.user["id"])
        conv = await agent2.ok("GET", f"/api/conversations/{call.conversation_id}")
        assert conv["assignee_id"] == agent2.user["id"]
        assert any("transferred" in m["body"] for m in conv["messages"])
        await caller.command("hangup")
        await phone2.wait_event("CALL_CLOSED", timeout=10)
    finally:
        await caller.stop()
        await phone1.stop()
        await phone2.stop()
