"""How many 8 kHz streams this machine decodes in real time: measured once when live transcription
starts (``voice_asr_max_streams = 0``), so calls beyond it are not transcribed instead of every
transcript falling behind (issue #18: 150 of 156 segments late when all calls were transcribed).

The probe decodes a few seconds of a voiced, syllable-paced synthetic signal (a buzzing 110-190 Hz
harmonic series under a 4 Hz envelope: the decoder searches it as hard as speech, usually harder)
on one recogniser and scales the measured real-time factor by the decoding threads and a headroom
for the rest of the hub (RTP, recording, the API).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from voice.asr.base import RecognizerPool

RATE = 8000
PROBE_S = 2.0
HEADROOM = 0.6  # share of the decoding cores given to transcription


def probe_audio(seconds: float = PROBE_S, rate: int = RATE) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pitch = 150 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    pcm = 6000 * voiced * envelope / np.max(np.abs(voiced))
    return pcm.astype(np.int16).tobytes()


def realtime_factor(pool: RecognizerPool, seconds: float = PROBE_S) -> float:
    """Decode wall time / audio time of one 8 kHz recogniser (blocking: run it in a thread)."""
    audio = probe_audio(seconds)
    rec = pool.acquire(RATE)
    try:
        start = time.perf_counter()
        step = RATE // 5 * 2  # 200 ms batches, as the call transcription feeds them
        for at in range(0, len(audio), step):
            rec.accept(audio[at:at + step])
        rec.flush()
        return (time.perf_counter() - start) / seconds
    finally:
        pool.release(rec)


def realtime_streams(rtf: float, workers: int, floor: int = 2) -> int:
    """Concurrent streams ``workers`` decoding threads keep in real time at ``rtf``; never below
    ``floor`` (one answered call: its two legs, transcribed late rather than never on a slow box)."""
    cores = max(1, min(workers, os.cpu_count() or 1))
    return max(floor, math.floor(cores * HEADROOM / max(rtf, 1e-3)))
