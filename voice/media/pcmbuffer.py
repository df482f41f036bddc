"""A short queue of 8 kHz PCM from one source (a leg's PCM hook, a supervisor's microphone, a
conference participant) that a mixer takes 20 ms at a time."""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["FRAME", "RATE", "PcmBuffer"]

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz


class PcmBuffer:
    """Up to ``max_s`` of int16 audio; when more arrives the oldest is dropped down to ``keep_s``
    (default ``max_s``): a late source costs a little audio, never growing latency."""

    __slots__ = ("_chunks", "_size", "_max", "_keep")

    def __init__(self, max_s: float = 0.3, keep_s: float | None = None) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._size = 0
        self._max = int(max_s * RATE)
        self._keep = self._max if keep_s is None else min(self._max, int(keep_s * RATE))

    def push(self, pcm: np.ndarray, _ts: int = 0) -> None:
        """Usable as a :class:`~voice.media.leg.MediaLeg` PCM hook (``hook(pcm, rtp_timestamp)``)."""
        self._chunks.append(pcm)
        self._size += len(pcm)
        if self._size > self._max:
            while self._size > self._keep and self._chunks:
                self._size -= len(self._chunks.popleft())

    def take(self) -> np.ndarray | None:
        """The next 20 ms (padded with silence when short), or ``None`` when empty."""
        if not self._size:
            return None
        out = np.zeros(FRAME, dtype=np.int16)
        got = 0
        while got < FRAME and self._chunks:
            chunk = self._chunks[0]
            n = min(FRAME - got, len(chunk))
            out[got : got + n] = chunk[:n]
            got += n
            if n == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[n:]
        self._size -= got
        return out

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
