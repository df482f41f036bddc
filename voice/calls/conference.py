"""Three-way (n-way) conference mixing of G.711 legs (VOICE-4).

Each participant's received audio arrives decoded through a PCM subscription on its leg (RTP
legs decode only while someone subscribed; the browser leg hands over PCM anyway) into a short
:func:`JitterBuffer`. One owned task per conference ticks every 20 ms: it takes one frame from
every buffer, sums them once (int32), and sends each participant the sum minus its own frame
(so nobody hears themselves), clipped and encoded to that leg's law through a 64 Ki-entry table
(one numpy indexing per leg). That is a handful of numpy operations on 160 samples per tick,
cheap enough for the event loop (measured in ``tests/voice/calls/test_conference_mixer.py``).

While mixing, the legs are not bridged (no relay): what a leg sends goes through
:meth:`MediaLeg.send_audio`, so the caller leg's recorder records the mix the caller hears,
and its own channel keeps recording the caller: a conference recording holds every party.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from voice.media.g711 import encode
from voice.media.leg import MediaLeg
from voice.media.pcmbuffer import PcmBuffer

__all__ = ["ConferenceMixer", "JitterBuffer", "mix_minus"]

log = logging.getLogger(__name__)

FRAME = 160  # 20 ms at 8 kHz
FRAME_S = 0.02
_MAX_BUFFER = 6 * FRAME  # more than 120 ms queued: drop the oldest (latency over completeness)
_KEEP = 2 * FRAME


@lru_cache(maxsize=2)
def _encoder(codec: str) -> np.ndarray:
    """int16 → G.711 byte for every 16-bit value: encoding a frame is one indexing."""
    linear = np.arange(-32768, 32768, dtype="<i2").tobytes()
    return np.frombuffer(encode(linear, codec), dtype=np.uint8)


def encode_frame(pcm: np.ndarray, codec: str) -> bytes:
    return _encoder(codec)[pcm.astype(np.int32) + 32768].tobytes()


def mix_minus(frames: list[np.ndarray | None]) -> list[np.ndarray]:
    """For each participant, the clipped sum of everybody else's frame (``None``: silent)."""
    acc = np.zeros(FRAME, dtype=np.int32)
    own: list[np.ndarray | None] = []
    for f in frames:
        if f is None:
            own.append(None)
            continue
        g = np.zeros(FRAME, dtype=np.int32)
        n = min(FRAME, len(f))
        g[:n] = f[:n]
        acc += g
        own.append(g)
    out = []
    for h in own:
        x = acc if h is None else acc - h
        out.append(np.clip(x, -32768, 32767).astype(np.int16))
    return out


def JitterBuffer() -> PcmBuffer:  # noqa: N802 - reads like the class it makes
    """Received PCM of one participant, taken 20 ms at a time by the mixer: over 120 ms queued,
    the oldest is dropped down to 40 ms (latency over completeness)."""
    return PcmBuffer(max_s=_MAX_BUFFER / 8000, keep_s=_KEEP / 8000)


class ConferenceMixer:
    """Mixes the given legs until :meth:`stop`; ``on_leave(leg)`` is told when a leg closes."""

    def __init__(self, legs: list[MediaLeg], on_leave: Callable[[MediaLeg], None] | None = None) -> None:
        self.legs: list[MediaLeg] = []
        self.buffers: dict[MediaLeg, PcmBuffer] = {}
        self._unsubscribe: dict[MediaLeg, Callable[[], None]] = {}  # each leg's PCM subscription
        self.on_leave = on_leave
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0
        self.busy_s = 0.0  # time spent mixing (for the figures in the docs)
        for leg in legs:
            self.add(leg)

    def add(self, leg: MediaLeg) -> None:
        leg.unbridge()
        leg.stop_play()
        buf = JitterBuffer()
        self.buffers[leg] = buf
        self.legs.append(leg)
        self._unsubscribe[leg] = leg.subscribe_pcm(buf.push)
        leg.on_close.append(lambda: self._closed(leg))

    def remove(self, leg: MediaLeg) -> None:
        buf = self.buffers.pop(leg, None)
        if buf is None:
            return
        self.legs.remove(leg)
        self._unsubscribe.pop(leg)()

    def _closed(self, leg: MediaLeg) -> None:
        if leg not in self.buffers:
            return
        self.remove(leg)
        if self.on_leave is not None:
            self.on_leave(leg)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="conference-mixer")

    async def stop(self) -> None:
        task, self._task = self._task, None
        for leg in list(self.legs):
            self.remove(leg)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def tick(self, now: float) -> None:
        legs = self.legs
        frames = [self.buffers[leg].take() for leg in legs]
        for leg, pcm in zip(legs, mix_minus(frames), strict=True):
            if leg.closed or leg.player is not None:
                continue
            leg.send_audio(encode_frame(pcm, leg.codec), now)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            n += 1
            due = start + n * FRAME_S
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # the loop stalled: resynchronise instead of bursting
                start, n = loop.time(), 0
            t0 = loop.time()
            try:
                self.tick(self.legs[0].engine.now() if self.legs else t0)
            except Exception:  # noqa: BLE001 - a bad frame must not end the conference
                log.exception("conference mixing failed")
            self.busy_s += loop.time() - t0
            self.ticks += 1
