"""The core call path with real peers: sipp calls in from the trunk, waits in the queue, a
baresip desk phone (digest-registered) auto-answers for the agent, the media is bridged and the
call is recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.support import PCAPS, Sipp, pcap_rtp, read_wav, rms, wait_for
from voice.audio import alaw_decode

pytestmark = pytest.mark.slow




async def test_queued_trunk_call_is_answered_by_the_agents_desk_phone_and_recorded(voice_hub, tmp_path: Path):
    phone, agent = await agent_phone(voice_hub, tmp_path / "phone")
    sipp = Sipp(tmp_path / "sipp", "caller_talks.xml", f"127.0.0.1:{sip_port(voice_hub)}",
                extra=["-s", "5000"])
    try:
        await sipp.start()
        established = await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        assert "+4930123456" in established.get("peeruri", ""), established
        rc = await sipp.wait(40)
        assert rc == 0, sipp.log()
        await phone.wait_event("CALL_CLOSED", timeout=10)
    finally:
        await sipp.stop()
        await phone.stop()
    # the call is a voice conversation in the inbox, handled by agent1, closed (wrap-up)
    admin = await voice_hub.client("supervisor")
    convs = (await admin.ok("GET", "/api/conversations?view=all&channel=voice"))
    items = convs["items"] if isinstance(convs, dict) else convs
    assert len(items) == 1
    conv = items[0]
    assert conv["status"] == "closed" and conv["assignee_id"] in (None, agent.user["id"])

    async def recording():
        calls = await admin.ok("GET", "/api/voice/calls")
        recs = [r for r in calls["records"] if r["recording_attachment_id"]]
        return recs[0] if recs else None

    record = await wait_for(recording)
    assert record["agent_id"] == agent.user["id"] and record["end_reason"] == "caller_hangup"
    assert record["connected_at"] and record["talk_s"] > 8
    path = voice_hub.services.attachments.path_for(record["recording_attachment_id"])
    samples, rate, channels = read_wav(path)
    assert (rate, channels) == (8000, 2)
    assert abs(len(samples) / rate - record["recording_duration_s"]) < 0.01
    # the caller's channel holds the pcap's audio bit-exact (frames located by content)
    sent = [p for p in pcap_rtp(PCAPS / "g711a.pcap") if p[0] == 8]
    expected = np.frombuffer(alaw_decode(b"".join(p[3] for p in sent)), dtype="<i2")
    left = samples[:, 0]
    frames = [np.frombuffer(alaw_decode(p[3]), dtype="<i2") for p in sent]
    k = int(np.argmax([rms(f) for f in frames]))  # a loud frame cannot match by accident
    starts = [i for i in np.flatnonzero(left == frames[k][0]) if np.array_equal(left[i:i + len(frames[k])], frames[k])]
    assert starts, "the caller's audio is not in the recording"
    offset = starts[0] - (sent[k][2] - sent[0][2])
    got = left[offset:offset + len(expected)]
    frame = len(frames[0])
    bad = sum(not np.array_equal(got[i:i + frame], expected[i:i + frame]) for i in range(0, len(expected), frame))
    assert bad <= 3, f"{bad} of {len(expected) // frame} frames differ"
    # the caller heard the agent's phone (a 440 Hz tone from baresip's ausine) while bridged
    right = samples[:, 1].astype(np.float64)
    assert rms(right) > 300


async def test_caller_hanging_up_while_the_desk_phone_rings_cancels_it(voice_hub, tmp_path: Path):
    phone, agent = await agent_phone(voice_hub, tmp_path / "phone", answermode="manual")
    sipp = Sipp(tmp_path / "sipp", "hangup_while_queued.xml", f"127.0.0.1:{sip_port(voice_hub)}",
                extra=["-s", "5000"])
    try:
        await sipp.start()
        await phone.wait_event("CALL_INCOMING", timeout=15)  # ringing, nobody picks up
        assert await sipp.wait(20) == 0, sipp.log()  # the caller gives up after 2 s
        await phone.wait_event("CALL_CLOSED", timeout=10)  # the hub CANCELled the INVITE
    finally:
        await sipp.stop()
        await phone.stop()
    assert "CANCEL sip:" in phone.log.read_text(errors="replace")
    supervisor = await voice_hub.client("supervisor")

    async def abandoned():
        convs = await supervisor.ok("GET", "/api/conversations?view=all&channel=voice")
        items = convs["items"] if isinstance(convs, dict) else convs
        return items and items[0]["status"] == "abandoned"
    await wait_for(abandoned)
    state = await agent.ok("GET", "/api/agent/state")
    assert state["state"] == "ready"  # a caller giving up is not the agent's missed call


async def test_a_call_over_tcp_is_queued_and_abandoned(voice_hub, tmp_path: Path):
    sipp = Sipp(tmp_path / "sipp", "hangup_while_queued.xml", f"127.0.0.1:{sip_port(voice_hub, 'TCP')}",
                extra=["-s", "5000", "-t", "t1"])
    try:
        await sipp.start()
        assert await sipp.wait(20) == 0, sipp.log()
    finally:
        await sipp.stop()
    supervisor = await voice_hub.client("supervisor")

    async def abandoned():
        convs = await supervisor.ok("GET", "/api/conversations?view=all&channel=voice")
        items = convs["items"] if isinstance(convs, dict) else convs
        return items and items[0]["status"] == "abandoned"
    await wait_for(abandoned)
