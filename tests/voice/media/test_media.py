"""voice/media: RTP and RFC 4733 as values, the recorder's timeline, and real RTP legs on
loopback (relay with µ-law ↔ A-law, DTMF once per event, prompts paced at 20 ms, barge-in)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voice.audio import alaw_decode, alaw_encode, ulaw_decode
from voice.media.engine import MediaEngine
from voice.media.g711 import PCMA, PCMU, translation
from voice.media.prompts import Prompt
from voice.media.recorder import CallRecorder
from voice.media.rtp import DtmfEvent, RtpPacket


def test_rtp_packet_round_trips_and_names_what_is_wrong():
    pkt = RtpPacket(8, 65535, 4294967200, 0x1234, b"\xd5" * 160, marker=True, csrc=(7,))
    assert RtpPacket.parse(bytes(pkt)) == pkt
    with pytest.raises(ValueError, match="shorter than the 12-byte header"):
        RtpPacket.parse(b"\x80\x00")
    with pytest.raises(ValueError, match="truncated CSRC"):
        RtpPacket.parse(b"\x83\x08" + b"\x00" * 14)
    with pytest.raises(ValueError, match="version is 1"):
        RtpPacket.parse(b"\x40" + b"\x00" * 20)


def test_dtmf_event_payload():
    ev = DtmfEvent.parse(bytes.fromhex("0b8a0320"))
    assert (ev.digit, ev.end, ev.volume, ev.duration) == ("#", True, 10, 800)
    assert bytes(ev) == bytes.fromhex("0b8a0320")


def test_law_translation_matches_decode_then_encode():
    tr = translation(PCMU, PCMA)
    data = bytes(range(256))
    assert data.translate(tr) == alaw_encode(ulaw_decode(data))
    assert translation(PCMU, PCMU) is None


def test_recorder_places_caller_audio_by_rtp_timestamp_bit_exact():
    rec = CallRecorder(started_at=100.0)
    frames = [alaw_encode((np.full(160, 1000 * (i + 1), dtype="<i2")).tobytes()) for i in range(5)]
    order = [0, 2, 1, 4, 3]  # jitter reorders packets
    for i in order:
        rec.caller_audio(0xAB, 5000 + 160 * i, frames[i], PCMA, 100.0 + 0.02 * i + 0.005)
    rec.heard_audio(b"\xff" * 160, PCMU, 100.0)
    rec.stop(100.2)
    left = rec.channel_pcm(0)
    assert len(left) == 1600  # the wall-clock length of the call (0.2 s)
    start = int(0.005 * 8000)
    expected = np.frombuffer(alaw_decode(b"".join(frames)), dtype="<i2")
    assert np.array_equal(left[start:start + 800], expected)


def test_recorder_reanchors_when_the_sender_restarts_its_clock():
    rec = CallRecorder(started_at=0.0)
    rec.caller_audio(1, 1000, b"\x11" * 160, PCMU, 0.0)
    rec.caller_audio(1, 1000, b"\x22" * 160, PCMU, 5.0)  # same timestamp 5 s later (a replay)
    rec.stop(5.02)
    assert rec.duration_s == pytest.approx(5.02, abs=0.001)
    assert rec._ch[0].buf[40000:40160] == b"\x22" * 160 and rec._ch[0].buf[:160] == b"\x11" * 160


def test_recorder_corrects_an_anchor_taken_from_a_late_packet():
    rec = CallRecorder(started_at=0.0)
    for i in range(200):  # sent every 20 ms; the loop was stalled for the first second
        arrival = max(1.0, 0.02 * i) + 0.0001 * i
        rec.caller_audio(7, 160 * i, bytes([i % 200 + 1]) * 160, PCMU, arrival)
    rec.stop(4.0)
    assert rec.duration_s == pytest.approx(4.0, abs=0.12)  # not a second longer than the call
    buf = rec._ch[0].buf
    last = bytes([199 % 200 + 1]) * 160
    assert buf.rfind(last) >= len(buf) - 400  # the last packet is at the end of the call


async def test_two_legs_relay_translate_dtmf_once_and_pace_prompts():
    engine = MediaEngine()
    await engine.start()
    try:
        a, b = await engine.open_leg("a"), await engine.open_leg("b")
        peer_a, peer_b = await engine.open_leg("phone-a"), await engine.open_leg("phone-b")
        a.configure(("127.0.0.1", peer_a.local_port), 8, PCMA, 101)
        peer_a.configure(("127.0.0.1", a.local_port), 8, PCMA, 101)
        b.configure(("127.0.0.1", peer_b.local_port), 0, PCMU, 101)
        peer_b.configure(("127.0.0.1", b.local_port), 0, PCMU, 101)
        digits: list[str] = []
        a.on_dtmf = digits.append
        a.bridge(b)
        heard: list[bytes] = []
        peer_b.subscribe_pcm(lambda pcm, ts: heard.append(pcm.tobytes()))
        frame = alaw_encode(np.full(160, 3000, dtype="<i2").tobytes())
        for _ in range(5):
            peer_a.send_audio(frame, engine.now())
        ev = DtmfEvent(5, False, 10, 160)
        for end in (False, True, True, True):  # start + three end packets, one timestamp
            peer_a.send_event(bytes(DtmfEvent(ev.event, end, 10, 160)), marker=not end)
        async with asyncio.timeout(2):
            while len(heard) < 5 or not digits:  # noqa: ASYNC110 - packets on loopback
                await asyncio.sleep(0.01)
        assert digits == ["5"]
        assert heard[0] == ulaw_decode(frame.translate(translation(PCMA, PCMU)))
        # a prompt on b mutes the relay and is paced at 20 ms; stop_play is immediate (barge-in)
        prompt = Prompt("p", PCMU, tuple(b"\x7f" * 160 for _ in range(100)))
        b.play(prompt)
        sent = b.tx_packets
        await asyncio.sleep(0.5)
        paced = b.tx_packets - sent
        assert 20 <= paced <= 30
        b.stop_play()
        after = b.tx_packets
        await asyncio.sleep(0.1)
        assert b.tx_packets == after
    finally:
        await engine.stop()
