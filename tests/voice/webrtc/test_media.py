"""The pure media parts of the softphone: G.711 encoding by table, mixing, the PCM buffer, the
codec chosen from a browser's offer, and the socketless agent leg relaying like an RTP leg."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voice.media.engine import MediaEngine
from voice.media.g711 import PCMA, PCMU, decode, encode
from voice.webrtc.errors import BadOffer
from voice.webrtc.media import FRAME, PcmBuffer, WebRtcMediaLeg, agent_frame_source, encode_pcm, mix
from voice.webrtc.peer import offered_codec

CHROME_OFFER = """v=0\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r
a=rtpmap:111 opus/48000/2\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:126 telephone-event/8000\r
"""


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_table_encoding_matches_the_reference_encoder(codec: str) -> None:
    pcm = (np.random.default_rng(1).integers(-32768, 32767, 4000)).astype(np.int16)
    assert encode_pcm(pcm, codec) == encode(pcm.tobytes(), codec)


def test_mix_adds_and_clips() -> None:
    a = np.full(FRAME, 30000, np.int16)
    b = np.full(FRAME, 10000, np.int16)
    assert mix(a, b).max() == 32767
    assert list(mix(np.full(FRAME, 5, np.int16), np.full(FRAME, -2, np.int16))[:2]) == [3, 3]


def test_pcm_buffer_hands_out_20_ms_and_drops_the_oldest_beyond_its_limit() -> None:
    buf = PcmBuffer(max_s=0.1)
    assert buf.take() is None
    for i in range(20):  # 20 × 10 ms: only the last 100 ms stay
        buf.push(np.full(80, i, np.int16))
    first = buf.take()
    assert first is not None and len(first) == FRAME and list(first[::80]) == [10, 11]
    buf.clear()
    buf.push(np.arange(100, dtype=np.int16))
    out = buf.take()
    assert out is not None and list(out[:100]) == list(range(100)) and not out[100:].any()
    assert buf.take() is None


def test_the_answer_uses_pcmu_then_pcma_and_refuses_offers_without_g711() -> None:
    assert offered_codec(CHROME_OFFER) == PCMU
    assert offered_codec(CHROME_OFFER.replace("a=rtpmap:0 PCMU/8000\r\n", "")) == PCMA
    with pytest.raises(BadOffer, match="no G.711"):
        offered_codec("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
    with pytest.raises(BadOffer, match="no audio"):
        offered_codec("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")


async def test_agent_leg_relays_browser_audio_to_the_caller_and_queues_caller_audio() -> None:
    engine = MediaEngine()
    caller = await engine.open_leg("caller")
    agent = WebRtcMediaLeg(engine, "agent", PCMU)
    sent: list[bytes] = []
    caller.send_audio = lambda payload, now: sent.append(payload)  # type: ignore[method-assign]
    caller.codec = PCMA
    caller.bridge(agent)
    voice = (8000 * np.sin(np.arange(FRAME) / 5)).astype(np.int16)
    heard: list[np.ndarray] = []
    agent.subscribe_pcm(lambda pcm, ts: heard.append(pcm))
    agent.receive_pcm(voice, engine.now())
    assert sent == [encode_pcm(voice, PCMA)] and heard and np.array_equal(heard[0], voice)
    agent.muted = True  # muted: silence goes to the caller
    agent.receive_pcm(voice, engine.now())
    assert np.abs(decode(sent[-1], PCMA)).max() <= 8  # A-law's smallest step
    agent.muted = False
    agent.held = True  # on hold: nothing either way
    agent.receive_pcm(voice, engine.now())
    agent.send_audio(b"\x01" * FRAME, engine.now())
    assert len(sent) == 2 and agent.next_frame() is None
    agent.held = False
    # caller audio waits for the browser track; a whispering supervisor is mixed in
    agent.send_audio(encode_pcm(voice, PCMU), engine.now())
    source = agent_frame_source(agent)
    assert source() == encode_pcm(voice, PCMU)
    whisper = PcmBuffer()
    agent.to_agent.append(whisper)
    whisper.push(np.full(FRAME, 1000, np.int16))
    mixed = source()
    assert isinstance(mixed, np.ndarray) and (mixed == 1000).all()
    agent.close()
    caller.close()
    await engine.stop()
    await asyncio.sleep(0)
