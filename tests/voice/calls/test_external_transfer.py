"""Transfer to an external number through the provider trunk: the agent's baresip desk phone
REFERs the caller to ``+4930555123``; the hub rings it through the trunk (a sipp UAS standing in
for the provider: it challenges with 401 digest, then answers and talks), bridges the caller to
it, ends the agent's leg and closes the conversation for the agent with a note; the caller's
hang-up ends the trunk leg with BYE."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.support import Sipp, free_udp_port
from tests.voice.calls.test_hold_transfer import active, caller_phone, until

pytestmark = pytest.mark.slow


@pytest.fixture
def trunk_port() -> int:
    return free_udp_port()


@pytest.fixture
def voice_settings(trunk_port: int) -> dict[str, Any]:
    return {"voice_trunk_uri": f"sip:127.0.0.1:{trunk_port}", "voice_trunk_username": "hub",
            "voice_trunk_password": "s3cret", "voice_caller_id": "+4930999000",
            "voice_external_ring_s": 4.0}


async def test_agent_desk_phone_transfers_the_caller_to_an_external_number(voice_hub, trunk_port: int,
                                                                           tmp_path: Path) -> None:
    port = sip_port(voice_hub)
    trunk = await Sipp(tmp_path / "trunk", "trunk_answers_with_auth.xml", f"127.0.0.1:{port}",
                       port=trunk_port, timeout_s=60).start()
    phone, agent = await agent_phone(voice_hub, tmp_path / "agent1")
    caller = await caller_phone(voice_hub, tmp_path / "caller")
    try:
        await caller.command("dial", f"sip:5000@127.0.0.1:{port}")
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        call = next(iter(active(voice_hub).values()))
        await until(lambda: call.state == "bridged" and call.agent_id == agent.user["id"])
        reply = await phone.command("transfer", f"sip:+4930555123@127.0.0.1:{port}")
        assert reply.get("ok"), reply
        await phone.wait_event("CALL_CLOSED", timeout=15)  # the agent's leg ends after the NOTIFY
        await until(lambda: call.external == "+4930555123", within=15)
        # the provider's speech reaches the caller through the bridge
        sent = call.caller.media.tx_packets
        await asyncio.sleep(1.0)
        assert call.caller.media.tx_packets - sent >= 25, "no audio from the trunk to the caller"
        conv = await agent.ok("GET", f"/api/conversations/{call.conversation_id}")
        assert conv["status"] == "closed"
        assert any("external number +4930555123" in (m["body"] or "") for m in conv["messages"])
        await caller.command("hangup")
        assert await trunk.wait(20) == 0, trunk.log()  # BYE reached the trunk; auth was accepted
        await until(lambda: not active(voice_hub), within=10)
        log = trunk.log()
        assert "Authorization: Digest" in log and 'username="hub"' in log
        assert "From: <sip:+4930999000@" in log or "sip:+4930999000@" in log  # the configured caller id
    finally:
        await caller.stop()
        await phone.stop()
        await trunk.stop()


async def test_an_external_number_that_does_not_answer_puts_the_caller_back_in_the_queue(
        voice_hub, trunk_port: int, tmp_path: Path) -> None:
    # nothing listens on trunk_port: the hub's NOTIFY says the transfer failed; baresip, as the
    # transferor, hangs up anyway, so the caller goes back to the queue (music on hold) to be
    # offered again instead of being cut off
    port = sip_port(voice_hub)
    phone, agent = await agent_phone(voice_hub, tmp_path / "agent1")
    caller = await caller_phone(voice_hub, tmp_path / "caller")
    try:
        await caller.command("dial", f"sip:5000@127.0.0.1:{port}")
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        call = next(iter(active(voice_hub).values()))
        await until(lambda: call.state == "bridged")
        await agent.ok("POST", "/api/agent/state", {"state": "not_ready"})  # no second offer yet
        reply = await phone.command("transfer", f"sip:+4930555123@127.0.0.1:{port}")
        assert reply.get("ok"), reply
        await phone.wait_event("TRANSFER_FAILED", timeout=15)
        async with asyncio.timeout(10):
            while (conv := await agent.ok("GET", f"/api/conversations/{call.conversation_id}"))["status"] \
                    != "queued":  # noqa: ASYNC110 - polling the API like a client
                await asyncio.sleep(0.1)
        assert any("did not answer" in (m["body"] or "") for m in conv["messages"])
        assert call.state == "queued" and call.agent is None and call.external is None
        assert not call.ended and call.caller.media.player is not None  # music on hold, still connected
        await caller.command("hangup")
        await until(lambda: call.ended, within=10)
    finally:
        await caller.stop()
        await phone.stop()
