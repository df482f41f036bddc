"""The softphone's server side with a real WebRTC peer (aiortc playing the browser, a real
Socket.IO desk connection) and a real sipp caller: ring, answer with an SDP offer, audio both
ways, hold, mute, DTMF, supervisor listen, and who may do what. The Chromium version of the
story is tests/browser/test_softphone.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from tests.support.sockets import Recorder
from tests.support.wait import eventually
from tests.voice.calls.support import Sipp, read_wav, rms, write_tone

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).with_name("caller_loops.xml")


class Browser:
    """aiortc in the browser's role: offers (optionally with a microphone), measures what it hears."""

    def __init__(self, mic: Path | None) -> None:
        self.pc = RTCPeerConnection()
        self.player = MediaPlayer(str(mic)) if mic else None
        if self.player is not None:
            self.pc.addTrack(self.player.audio)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
        self.frames: list[np.ndarray] = []
        self._task: asyncio.Task[None] | None = None

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self._task = asyncio.create_task(self._read(track))

    async def _read(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames.append(frame.to_ndarray().reshape(-1))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answered(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    def heard_rms(self, last: int = 50) -> float:
        return rms(np.concatenate(self.frames[-last:])) if self.frames else 0.0

    async def next_frames(self, n: int, within: float = 10) -> np.ndarray:
        """The next ``n`` 20 ms frames heard from now on: a window of the stream's own time, so a
        busy machine that delivers them late does not mix older audio into it."""
        start = len(self.frames)
        await eventually(lambda: len(self.frames) >= start + n, within)
        return np.concatenate(self.frames[start:start + n])

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.player is not None and self.player.audio is not None:
            self.player.audio.stop()
        await self.pc.close()


def tone_share(frames: list[np.ndarray], freq: float, rate: int = 8000) -> float:
    """Share of the energy within 25 Hz of ``freq``."""
    if not frames:
        return 0.0
    x = np.concatenate(frames).astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / rate)
    return float(power[np.abs(hz - freq) < 25].sum() / max(power.sum(), 1.0))


def looping_caller(hub: Any, tmp_path: Path, timeout_s: float = 50) -> Sipp:
    """sipp calling 5000 on the hub and talking (caller_loops.xml) until it is hung up."""
    return Sipp(tmp_path / "sipp", str(SCENARIO), f"127.0.0.1:{hub.services.ports.voice.sip_port()}",
                extra=["-s", "5000"], timeout_s=timeout_s)


async def until(predicate, within: float = 10) -> None:  # type: ignore[no-untyped-def]
    await eventually(predicate, within)  # polls state that has no event


async def test_agent_answers_in_the_browser_and_audio_flows_both_ways(voice_hub, tmp_path: Path):
    hub = voice_hub
    voice = hub.services.ports.voice.service
    agent = await hub.client("agent1")
    other = await hub.client("agent2")
    sup = await hub.client("supervisor")
    desk = await Recorder("/desk").connect(hub.base_url, cookie=agent.cookie_header)
    sup_desk = await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    # the softphone goes online (an admin, who has no desk, cannot); the agent is ready
    status = await agent.ok("POST", "/api/voice/softphone")
    assert status["online"] is True and status["lease_s"] == 60
    r = await (await hub.client("admin")).post("/api/voice/softphone")
    assert r.status_code == 403
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    tone = tmp_path / "agent-voice.wav"
    write_tone(tone, 660.0, 30.0)
    browser = Browser(tone)
    listener = Browser(None)
    beep = tmp_path / "supervisor-voice.wav"
    write_tone(beep, 1000.0, 30.0)
    barger = Browser(beep)
    sipp = looping_caller(hub, tmp_path)
    try:
        await sipp.start()
        ring = await desk.wait("softphone_ring", timeout=15)
        assert ring["caller"].startswith("+4930765432") and ring["conversation_id"]
        leg = ring["leg_id"]
        # another agent cannot answer it; a bad offer changes nothing
        r = await other.post(f"/api/voice/softphone/legs/{leg}/answer", json={"sdp": await browser.offer()})
        assert r.status_code == 404 and r.json()["code"] == "call_leg_not_found"
        r = await agent.post(f"/api/voice/softphone/legs/{leg}/answer", json={"sdp": "v=0\r\nm=video 9 RTP 96\r\n"})
        assert r.status_code == 400 and r.json()["code"] == "bad_sdp_offer"
        ans = await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/answer", {"sdp": await browser.offer()})
        assert "PCMU/8000" in ans["sdp"] and "opus" not in ans["sdp"].lower()
        await browser.answered(ans["sdp"])
        call = voice.calls[ring["call_id"]]
        await until(lambda: call.state == "bridged")
        conv = await agent.ok("GET", f"/api/conversations/{ring['conversation_id']}")
        assert conv["status"] == "assigned" and conv["assignee_id"] == agent.user["id"]
        # the caller's speech reaches the browser; the browser's tone reaches the caller
        await until(lambda: browser.heard_rms() > 300, within=10)
        await until(lambda: call.caller.media.tx_packets > 100, within=10)

        # hold: the caller hears music, the agent hears nothing; resume
        held = await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/hold", {"on": True})
        assert held["on_hold"] is True and call.caller.media.player is not None
        after = await browser.next_frames(30)
        assert rms(after[10 * 160:]) < 50  # silent once the 200 ms already on the way are played
        await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/hold", {"on": False})
        assert call.caller.media.player is None
        await until(lambda: browser.heard_rms(20) > 300, within=10)
        # mute, DTMF
        muted = await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/mute", {"on": True})
        assert muted["muted"] is True
        await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/mute", {"on": False})
        r = await agent.post(f"/api/voice/softphone/legs/{leg}/dtmf", json={"digits": "12x"})
        assert r.status_code == 422
        await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/dtmf", {"digits": "1#"})

        # the supervisor listens (an agent may not)
        r = await agent.post(f"/api/voice/monitor/calls/{call.id}", json={"sdp": await listener.offer()})
        assert r.status_code == 403
        calls = await sup.ok("GET", "/api/voice/monitor/calls")
        assert [c["id"] for c in calls["calls"]] == [call.id] and calls["calls"][0]["softphone"] is True
        mon = await sup.ok("POST", f"/api/voice/monitor/calls/{call.id}", {"sdp": listener.pc.localDescription.sdp,
                                                                           "mode": "listen"})
        await listener.answered(mon["sdp"])
        await until(lambda: listener.heard_rms() > 300, within=10)
        w = await sup.ok("PATCH", f"/api/voice/monitor/{mon['monitor']['monitor_id']}", {"mode": "whisper"})
        assert w["mode"] == "whisper"
        await sup.ok("DELETE", f"/api/voice/monitor/{mon['monitor']['monitor_id']}", status=204)
        # barge with a microphone (a 1 kHz tone): the agent's browser hears it (and the caller)
        assert tone_share(browser.frames[-25:], 1000) < 0.1
        b = await sup.ok("POST", f"/api/voice/monitor/calls/{call.id}", {"sdp": await barger.offer(),
                                                                         "mode": "barge"})
        await barger.answered(b["sdp"])
        await until(lambda: tone_share(browser.frames[-25:], 1000) > 0.2, within=10)

        # the agent hangs up in the desk: the caller gets BYE, the conversation wraps up
        await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/hangup")
        ended = await desk.wait("softphone_ended", timeout=5)
        assert ended["leg_id"] == leg
        await sup_desk.wait("monitor_ended", lambda m: m["reason"] == "call_ended", timeout=5)
        assert await sipp.wait(15) == 0, sipp.log()
    finally:
        await sipp.stop()
        await browser.close()
        await listener.close()
        await barger.close()
        await desk.close()
        await sup_desk.close()

    async def recording() -> dict[str, Any] | None:
        recs = [x for x in (await sup.ok("GET", "/api/voice/calls"))["records"] if x["recording_attachment_id"]]
        return recs[0] if recs else None

    async with asyncio.timeout(10):
        while (record := await recording()) is None:  # noqa: ASYNC110 - polls the API
            await asyncio.sleep(0.1)
    assert record["agent_id"] == agent.user["id"] and record["end_reason"] == "agent_hangup"
    samples, rate, _ = read_wav(hub.services.attachments.path_for(record["recording_attachment_id"]))
    assert rms(samples[:, 0]) > 300  # the caller
    assert rms(samples[:, 1]) > 300  # what the caller heard: the agent's browser (and the music on hold)
    assert tone_share([samples[:, 1]], 660) > 0.05  # the agent's voice
    assert tone_share([samples[:, 1]], 1000) > 0.01  # the barging supervisor
    conv = await agent.ok("GET", f"/api/conversations/{ring['conversation_id']}")
    assert conv["status"] == "closed"


async def test_a_softphone_page_that_goes_away_reconnects_and_one_that_stays_away_hangs_up(tmp_path: Path):
    """The agent's page is reloaded mid-call (its connection closes): the call waits with music on
    hold for the caller, the new page reconnects to it and the audio flows again. Then the page
    goes away for good: after ``voice_webrtc_reconnect_s`` the call is hung up as if the agent had
    (the caller gets BYE)."""
    from tests.support.hub import running_hub
    from tests.voice.calls.conftest import VOICE_SETTINGS

    async with running_hub(tmp_path / "data", **VOICE_SETTINGS, voice_webrtc_reconnect_s=3.0) as hub:
        voice = hub.services.ports.voice.service
        agent, other = await hub.client("agent1"), await hub.client("agent2")
        desk = await Recorder("/desk").connect(hub.base_url, cookie=agent.cookie_header)
        await agent.ok("POST", "/api/voice/softphone")
        await agent.ok("POST", "/api/agent/state", {"state": "ready"})
        tone = tmp_path / "agent-voice.wav"
        write_tone(tone, 660.0, 40.0)
        first, second, third, late = Browser(tone), Browser(tone), Browser(tone), Browser(None)
        sipp = looping_caller(hub, tmp_path)
        try:
            await sipp.start()
            ring = await desk.wait("softphone_ring", timeout=15)
            leg = ring["leg_id"]
            ans = await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/answer", {"sdp": await first.offer()})
            await first.answered(ans["sdp"])
            call = voice.calls[ring["call_id"]]
            await until(lambda: first.heard_rms() > 300, within=10)
            r = await agent.post(f"/api/voice/softphone/legs/{leg}/reconnect", json={"sdp": await second.offer()})
            assert r.status_code == 200  # a connected call may be taken over at any time …
            await second.answered(r.json()["sdp"])
            await until(lambda: second.heard_rms() > 300, within=10)  # … and the audio follows
            await first.close()

            # the page is reloaded: its connection closes; the call waits for the new page
            await second.close()
            await until(lambda: voice.calls[call.id].agent is not None
                        and voice.calls[call.id].agent.lost_at is not None, within=5)
            legs = (await agent.ok("GET", "/api/voice/softphone"))["legs"]
            assert [(x["leg_id"], x["state"], x["reconnecting"]) for x in legs] == [(leg, "connected", True)]
            await until(lambda: call.caller.media.player is not None, within=5)  # music on hold meanwhile
            r = await other.post(f"/api/voice/softphone/legs/{leg}/reconnect", json={"sdp": await third.offer()})
            assert r.status_code == 404  # not another agent's
            ans = await agent.ok("POST", f"/api/voice/softphone/legs/{leg}/reconnect", {"sdp": await third.offer()})
            await third.answered(ans["sdp"])
            assert ans["leg"]["reconnecting"] is False
            assert call.caller.media.player is None and ans["leg"]["on_hold"] is False  # talking again
            await asyncio.sleep(4)  # longer than the grace: a reconnected call is not hung up
            assert not call.ended and call.state == "bridged"
            await until(lambda: third.heard_rms() > 300, within=10)
            sent = call.caller.media.tx_packets
            await until(lambda: call.caller.media.tx_packets > sent + 50, within=5)  # the agent is heard

            # the page goes away for good: hung up after the grace
            await third.close()
            ended = await desk.wait("softphone_ended", timeout=10)
            assert ended["leg_id"] == leg
            assert await sipp.wait(15) == 0, sipp.log()
            r = await agent.post(f"/api/voice/softphone/legs/{leg}/reconnect", json={"sdp": await late.offer()})
            assert r.status_code == 404
        finally:
            await sipp.stop()
            for b in (first, second, third, late):
                await b.close()
            await desk.close()
