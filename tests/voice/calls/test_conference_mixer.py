"""The conference mixer's arithmetic and cost: each participant gets the others' sum (never its
own voice), clipped; a late source is padded, a flood is trimmed; one tick for three real RTP legs
stays far below the 20 ms frame."""

from __future__ import annotations

import time

import numpy as np

from voice.calls.conference import FRAME, ConferenceMixer, JitterBuffer, encode_frame, mix_minus
from voice.media.engine import MediaEngine
from voice.media.g711 import PCMA, PCMU, decode
from voice.media.recorder import CallRecorder


def frame(value: int) -> np.ndarray:
    return np.full(FRAME, value, dtype=np.int16)


def test_each_participant_hears_the_sum_of_the_others_clipped() -> None:
    a, b, c = mix_minus([frame(1000), frame(-300), frame(20000)])
    assert (a == -300 + 20000).all() and (b == 1000 + 20000).all() and (c == 1000 - 300).all()
    loud = mix_minus([frame(30000), frame(30000), frame(30000)])
    assert all((x == 32767).all() for x in loud)  # clipped, not wrapped
    silent_one = mix_minus([None, frame(5), frame(7)])
    assert (silent_one[0] == 12).all() and (silent_one[1] == 7).all() and (silent_one[2] == 5).all()


def test_jitter_buffer_pads_a_short_frame_and_trims_a_backlog() -> None:
    buf = JitterBuffer()
    assert buf.take() is None
    buf.push(frame(3)[:100])
    got = buf.take()
    assert got is not None and (got[:100] == 3).all() and (got[100:] == 0).all()
    for i in range(20):  # 400 ms arrive at once (a stalled loop): the oldest audio goes
        buf.push(frame(i))
    first = buf.take()
    assert first is not None and first[0] >= 15


async def test_three_legs_are_mixed_and_the_caller_recording_holds_the_others() -> None:
    engine = MediaEngine("127.0.0.1")
    legs = [await engine.open_leg(f"conf-{i}") for i in range(3)]
    legs[1].codec = PCMA
    rec = CallRecorder(engine.now())
    legs[0].recorder = rec
    sent: list[list[bytes]] = [[], [], []]
    for i, leg in enumerate(legs):
        leg.send_audio = lambda payload, now, i=i, orig=leg.send_audio: (sent[i].append(payload),  # type: ignore[method-assign]
                                                                          orig(payload, now))
    mixer = ConferenceMixer(legs)
    try:
        n = 500
        t0 = time.perf_counter()
        for _ in range(n):
            for value, leg in zip((1000, 2000, 4000), legs, strict=True):
                leg._publish_pcm(frame(value), 0)  # as if decoded from a received packet
            mixer.tick(engine.now())
        per_tick_ms = (time.perf_counter() - t0) / n * 1000
        print(f"conference mix of 3 legs: {per_tick_ms:.3f} ms per 20 ms tick")
        assert per_tick_ms < 2.0  # a tenth of the frame, with slack for a busy machine
        heard = [decode(sent[i][-1], legs[i].codec) for i in range(3)]
        assert abs(int(heard[0][0]) - 6000) < 200  # the caller hears agent + third party
        assert abs(int(heard[1][0]) - 5000) < 200
        assert abs(int(heard[2][0]) - 3000) < 200
        assert encode_frame(frame(0), PCMU) == bytes([0xFF]) * FRAME
        rec.stop(engine.now())
        assert rec.channel_pcm(1).max() > 5000  # the recording's "heard" channel has the mix
        legs[2].close()  # a participant hanging up leaves the mixer
        assert len(mixer.legs) == 2
    finally:
        await mixer.stop()
        await engine.stop()
