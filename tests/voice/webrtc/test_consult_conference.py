"""Consulted transfer (to an agent, to a queue) and three-way conference from the browser
softphone, with a real sipp caller (speech from the pcap) and two agents' browsers played by
aiortc (agent 1 says a 660 Hz tone, agent 2 a 1 kHz tone): who hears whom is measured on the
audio each peer receives and on the call recording."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.sockets import Recorder
from tests.voice.calls.support import read_wav, rms, write_tone
from tests.voice.calls.test_hold_transfer import caller_phone
from tests.voice.webrtc.test_softphone_peer import Browser, looping_caller, tone_share, until

pytestmark = pytest.mark.slow


def heard(b: Browser, last: int = 25) -> np.ndarray:
    return np.concatenate(b.frames[-last:]) if b.frames else np.zeros(1)


async def settle(s: float = 0.6) -> None:
    await asyncio.sleep(s)  # let fresh audio replace what was buffered before the switch


async def answer(client: Any, browser: Browser, leg: str) -> dict[str, Any]:
    ans = await client.ok("POST", f"/api/voice/softphone/legs/{leg}/answer", {"sdp": await browser.offer()})
    await browser.answered(ans["sdp"])
    return ans["leg"]


async def test_agent_consults_a_colleague_cancels_then_conferences_and_leaves(voice_hub, tmp_path: Path):
    hub = voice_hub
    voice = hub.services.ports.voice.service
    a1, a2 = await hub.client("agent1"), await hub.client("agent2")
    desk1 = await Recorder("/desk").connect(hub.base_url, cookie=a1.cookie_header)
    desk2 = await Recorder("/desk").connect(hub.base_url, cookie=a2.cookie_header)
    await a1.ok("POST", "/api/voice/softphone")
    await a2.ok("POST", "/api/voice/softphone")
    await a1.ok("POST", "/api/agent/state", {"state": "ready"})  # agent2 not yet: the call rings agent1
    write_tone(tmp_path / "a1.wav", 660.0, 40.0)
    write_tone(tmp_path / "a2.wav", 1000.0, 40.0)
    b1, b2 = Browser(tmp_path / "a1.wav"), Browser(tmp_path / "a2.wav")
    sipp = looping_caller(hub, tmp_path, timeout_s=80)
    try:
        await sipp.start()
        ring = await desk1.wait("softphone_ring", timeout=15)
        leg1 = ring["leg_id"]
        await answer(a1, b1, leg1)
        call = voice.calls[ring["call_id"]]
        await until(lambda: call.state == "bridged")
        await until(lambda: rms(heard(b1)) > 300, within=10)
        await a2.ok("POST", "/api/agent/state", {"state": "ready"})  # takes the conversation on transfer

        # who can be consulted; bad requests change nothing
        targets = await a1.ok("GET", "/api/voice/softphone/consult-targets")
        t2 = next(a for a in targets["agents"] if a["id"] == a2.user["id"])
        assert t2["reachable"] == "softphone" and t2["busy"] is False
        assert not any(a["id"] == a1.user["id"] for a in targets["agents"])
        assert any(q["id"] == "general" for q in targets["queues"])
        r = await a1.post(f"/api/voice/softphone/legs/{leg1}/consult", json={"kind": "agent", "target": a1.user["id"]})
        assert r.status_code == 422
        r = await a1.post(f"/api/voice/softphone/legs/{leg1}/consult", json={"kind": "robot", "target": "x"})
        assert r.status_code == 422
        r = await a2.post(f"/api/voice/softphone/legs/{leg1}/consult", json={"kind": "agent", "target": a1.user["id"]})
        assert r.status_code == 404 and r.json()["code"] == "call_leg_not_found"
        r = await a1.post(f"/api/voice/softphone/legs/{leg1}/consult/complete")
        assert r.status_code == 409 and r.json()["code"] == "no_consultation"
        r = await a1.post(f"/api/voice/softphone/legs/{leg1}/consult",
                          json={"kind": "external", "target": "+4930555"})
        assert r.status_code == 409  # no trunk configured
        assert call.consult is None and call.caller.media.player is None

        # consult agent2: the caller hears music on hold; agent1 and agent2 hear each other
        started = await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult",
                              {"kind": "agent", "target": a2.user["id"]})
        assert started["consult"]["state"] == "ringing" and started["consult"]["label"]
        assert call.caller.media.player is not None  # music on hold
        ring2 = await desk2.wait("softphone_ring", timeout=10)
        assert ring2["consulted_by"] == a1.user["id"] and ring2["call_id"] == call.id
        r = await a1.post(f"/api/voice/softphone/legs/{leg1}/hold", json={"on": True})
        assert r.status_code == 409  # hold is not a consult control
        await answer(a2, b2, ring2["leg_id"])
        await desk1.wait("softphone_state", lambda m: (m.get("consult") or {}).get("state") == "talking", timeout=10)
        # the ACD counts agent2's voice slot as taken while they are consulted: no queued call is offered
        occupied = lambda: hub.services.routing.agent_state(a2.user["id"])["occupied"]  # noqa: E731
        await until(lambda: occupied() == [f"consult:{call.consult.id}"], within=5)
        await until(lambda: tone_share(b1.frames[-25:], 1000) > 0.3, within=10)
        await until(lambda: tone_share(b2.frames[-25:], 660) > 0.3, within=10)
        assert call.caller.media.player is not None  # still on hold

        # cancel: agent2 is hung up, agent1 is back with the caller
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult/cancel")
        ended = await desk2.wait("softphone_ended", timeout=10)
        assert ended["leg_id"] == ring2["leg_id"]
        await until(lambda: call.consult is None and call.caller.media.player is None, within=5)
        await until(lambda: occupied() == [], within=5)  # free again once their leg closed
        await settle()
        await until(lambda: rms(heard(b1)) > 300 and tone_share(b1.frames[-25:], 1000) < 0.05, within=10)

        # consult the queue (agent2 is its one ready agent), then conference: everybody hears the others
        await b2.close()
        b2 = Browser(tmp_path / "a2.wav")
        queued = await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult",
                             {"kind": "queue", "target": "general"})
        assert queued["consult"]["kind"] == "queue"
        first = ring2["leg_id"]
        ring2 = await desk2.wait("softphone_ring", lambda m: m["leg_id"] != first, timeout=10)
        await answer(a2, b2, ring2["leg_id"])
        await until(lambda: call.consult is not None and call.consult.state == "talking", within=10)
        assert call.consult.party_agent_id == a2.user["id"]
        conf = await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult/conference")
        assert conf["consult"]["state"] == "conference"
        assert call.caller.media.player is None
        await settle()
        await until(lambda: tone_share(b1.frames[-25:], 1000) > 0.05, within=10)  # agent1 hears agent2 …
        await until(lambda: tone_share(b1.frames[-25:], 1000) < 0.9, within=10)  # … and the caller
        await until(lambda: tone_share(b2.frames[-25:], 660) > 0.05, within=10)  # agent2 hears agent1 …
        await until(lambda: tone_share(b2.frames[-25:], 660) < 0.9, within=10)  # … and the caller
        assert tone_share(b1.frames[-25:], 660) < 0.15  # nobody hears themselves (speech has a little)
        assert tone_share(b2.frames[-25:], 1000) < 0.15

        # agent1 leaves: the caller and agent2 stay connected; the conversation is agent2's
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/hangup")
        await desk1.wait("softphone_ended", lambda m: m["leg_id"] == leg1, timeout=10)
        await until(lambda: call.agent_id == a2.user["id"] and call.consult is None, within=10)
        async with asyncio.timeout(10):
            while (await a2.ok("GET", f"/api/conversations/{call.conversation_id}"))["assignee_id"] \
                    != a2.user["id"]:  # noqa: ASYNC110 - polling the API like a client
                await asyncio.sleep(0.1)
        await settle()
        await until(lambda: rms(heard(b2)) > 300 and tone_share(b2.frames[-25:], 660) < 0.05, within=10)
        assert not call.ended and call.state == "bridged"
        # agent2's softphone controls now reach the call
        held = await a2.ok("POST", f"/api/voice/softphone/legs/{ring2['leg_id']}/hold", {"on": True})
        assert held["on_hold"] is True
        await a2.ok("POST", f"/api/voice/softphone/legs/{ring2['leg_id']}/hold", {"on": False})
        await a2.ok("POST", f"/api/voice/softphone/legs/{ring2['leg_id']}/hangup")
        assert await sipp.wait(15) == 0, sipp.log()
        await until(lambda: occupied() == [], within=5)
    finally:
        await sipp.stop()
        await b1.close()
        await b2.close()
        await desk1.close()
        await desk2.close()

    sup = await hub.client("supervisor")

    async def recording() -> dict[str, Any] | None:
        recs = [x for x in (await sup.ok("GET", "/api/voice/calls"))["records"] if x["recording_attachment_id"]]
        return recs[0] if recs else None

    async with asyncio.timeout(10):
        while (record := await recording()) is None:  # noqa: ASYNC110 - polls the API
            await asyncio.sleep(0.1)
    assert record["agent_id"] == a2.user["id"]
    samples, _, _ = read_wav(hub.services.attachments.path_for(record["recording_attachment_id"]))
    assert rms(samples[:, 0]) > 300  # the caller
    assert tone_share([samples[:, 1]], 660) > 0.02  # agent1, heard by the caller
    assert tone_share([samples[:, 1]], 1000) > 0.02  # agent2 (conference, then alone)
    conv = await a2.ok("GET", f"/api/conversations/{call.conversation_id}")
    bodies = " ".join(m["body"] or "" for m in conv["messages"])
    assert "Conference" in bodies and "transferred after a consultation" in bodies


async def test_when_the_caller_leaves_a_conference_agent_and_third_party_stay_connected(voice_hub,
                                                                                       tmp_path: Path):
    hub = voice_hub
    voice = hub.services.ports.voice.service
    a1, a2 = await hub.client("agent1"), await hub.client("agent2")
    desk1 = await Recorder("/desk").connect(hub.base_url, cookie=a1.cookie_header)
    desk2 = await Recorder("/desk").connect(hub.base_url, cookie=a2.cookie_header)
    await a1.ok("POST", "/api/voice/softphone")
    await a2.ok("POST", "/api/voice/softphone")
    await a1.ok("POST", "/api/agent/state", {"state": "ready"})
    write_tone(tmp_path / "a1.wav", 660.0, 40.0)
    write_tone(tmp_path / "a2.wav", 1000.0, 40.0)
    b1, b2 = Browser(tmp_path / "a1.wav"), Browser(tmp_path / "a2.wav")
    caller = await caller_phone(hub, tmp_path / "caller")  # baresip: says 440 Hz, hangs up on command
    try:
        await caller.command("dial", f"sip:5000@127.0.0.1:{hub.services.ports.voice.sip_port()}")
        ring = await desk1.wait("softphone_ring", timeout=15)
        leg1 = ring["leg_id"]
        await answer(a1, b1, ring["leg_id"])
        call = voice.calls[ring["call_id"]]
        await until(lambda: call.state == "bridged", within=10)
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult", {"kind": "agent", "target": a2.user["id"]})
        ring2 = await desk2.wait("softphone_ring", timeout=10)
        await answer(a2, b2, ring2["leg_id"])
        await until(lambda: call.consult is not None and call.consult.state == "talking", within=10)
        await a1.ok("POST", f"/api/voice/softphone/legs/{leg1}/consult/conference")
        await settle()
        await until(lambda: tone_share(b1.frames[-25:], 440) > 0.05, within=10)  # agent1 hears the caller

        await caller.command("hangup")
        await until(lambda: call.ended, within=10)
        async with asyncio.timeout(10):  # the call and its conversation end
            while (await a1.ok("GET", f"/api/conversations/{call.conversation_id}"))["status"] \
                    != "closed":  # noqa: ASYNC110 - polling the API like a client
                await asyncio.sleep(0.1)
        await settle()
        # the two agents still hear each other, and no longer the caller
        await until(lambda: tone_share(b1.frames[-25:], 1000) > 0.3 and tone_share(b1.frames[-25:], 440) < 0.05,
                    within=10)
        await until(lambda: tone_share(b2.frames[-25:], 660) > 0.3, within=10)
        assert not any(e["leg_id"] == leg1 for e in desk1.received("softphone_ended"))
        # one hangs up: the other's leg ends too
        await a2.ok("POST", f"/api/voice/softphone/legs/{ring2['leg_id']}/hangup")
        await desk1.wait("softphone_ended", lambda m: m["leg_id"] == leg1, timeout=10)
    finally:
        await caller.stop()
        await b1.close()
        await b2.close()
        await desk1.close()
        await desk2.close()
