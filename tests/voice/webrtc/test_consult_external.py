"""Consulting an external number from the browser softphone, through the provider trunk (a sipp
UAS standing in for the provider: 401 digest challenge, then answers and talks). A number that
does not answer brings the agent back to the caller; one that answers talks with the agent while
the caller hears music on hold; completing hands the caller over to it and closes the
conversation for the agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.support.sockets import Recorder
from tests.voice.calls.conftest import VOICE_SETTINGS
from tests.voice.calls.support import Sipp, free_udp_port, rms, write_tone
from tests.voice.webrtc.test_consult_conference import answer, heard, settle
from tests.voice.webrtc.test_softphone_peer import SCENARIO, Browser, tone_share, until

pytestmark = pytest.mark.slow

NUMBER = "+4930555123"


@pytest.fixture
def trunk_port() -> int:
    return free_udp_port()


@pytest.fixture
async def voice_hub(tmp_path: Path, trunk_port: int) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", **VOICE_SETTINGS, voice_trunk_uri=f"sip:127.0.0.1:{trunk_port}",
                           voice_trunk_username="hub", voice_trunk_password="s3cret",
                           voice_caller_id="+4930999000", voice_external_ring_s=3.0) as h:
        yield h


async def test_agent_consults_an_external_number_and_completes_the_transfer(voice_hub, trunk_port: int,
                                                                            tmp_path: Path) -> None:
    hub = voice_hub
    voice = hub.services.ports.voice.service
    port = hub.services.ports.voice.sip_port()
    a1 = await hub.client("agent1")
    desk = await Recorder("/desk").connect(hub.base_url, cookie=a1.cookie_header)
    await a1.ok("POST", "/api/voice/softphone")
    await a1.ok("POST", "/api/agent/state", {"state": "ready"})
    write_tone(tmp_path / "a1.wav", 660.0, 40.0)
    b1 = Browser(tmp_path / "a1.wav")
    caller = Sipp(tmp_path / "caller", str(SCENARIO), f"127.0.0.1:{port}", extra=["-s", "5000"], timeout_s=80)
    trunk = Sipp(tmp_path / "trunk", "trunk_answers_with_auth.xml", f"127.0.0.1:{port}", port=trunk_port,
                 timeout_s=60)
    try:
        await caller.start()
        ring = await desk.wait("softphone_ring", timeout=15)
        leg = ring["leg_id"]
        await answer(a1, b1, leg)
        call = voice.calls[ring["call_id"]]
        await until(lambda: call.state == "bridged" and rms(heard(b1)) > 300, within=10)
        targets = await a1.ok("GET", "/api/voice/softphone/consult-targets")
        assert targets["external"] is True
        r = await a1.post(f"/api/voice/softphone/legs/{leg}/consult", json={"kind": "external", "target": "12ab"})
        assert r.status_code == 422 and call.consult is None

        # nobody answers the number: the agent is back with the caller
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg}/consult", {"kind": "external", "target": NUMBER})
        assert call.caller.media.player is not None
        failed = await desk.wait("softphone_state", lambda m: m.get("consult_outcome") == "no_answer", timeout=15)
        assert failed["consult"] is None
        assert call.consult is None and call.caller.media.player is None and call.agent_id == a1.user["id"]

        # the provider answers: the agent talks with it, the caller hears music on hold
        await trunk.start()
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg}/consult", {"kind": "external", "target": NUMBER})
        await until(lambda: call.consult is not None and call.consult.state == "talking", within=15)
        assert call.caller.media.player is not None
        sent = call.caller.media.tx_packets
        await settle()
        await until(lambda: rms(heard(b1)) > 300, within=10)  # the provider's speech
        assert tone_share(b1.frames[-25:], 660) < 0.15

        # complete: the caller is handed over to the number; the agent's leg ends
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg}/consult/complete")
        await desk.wait("softphone_ended", lambda m: m["leg_id"] == leg, timeout=10)
        assert call.external == NUMBER and call.consult is None and not call.ended
        assert call.caller.media.player is None
        sent = call.caller.media.tx_packets
        await asyncio.sleep(1.0)
        assert call.caller.media.tx_packets - sent >= 25, "no audio from the provider to the caller"
        conv = await a1.ok("GET", f"/api/conversations/{call.conversation_id}")
        assert conv["status"] == "closed"
        assert any(f"external number {NUMBER}" in (m["body"] or "") for m in conv["messages"])
        assert 'username="hub"' in trunk.log()  # the trunk's digest challenge was answered
    finally:
        await caller.stop()
        await trunk.stop()
        await b1.close()
        await desk.close()
