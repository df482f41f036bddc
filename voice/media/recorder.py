"""A call recording on one timeline, two channels: what the caller said (left) and what the caller
heard — prompts, music, the agent (right).

The caller channel keeps the received G.711 bytes exactly, placed by RTP timestamp (so jitter
does not move audio around and the decoded samples are bit-exact with what the caller sent);
the heard channel is placed by a write cursor that follows the wall clock. Gaps are silence.
Storage is the G.711 bytes (8 kB/s per channel); :meth:`CallRecorder.write_wav` decodes and
interleaves once at the end (run it in a thread).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voice.media.g711 import SILENCE, table, translation

__all__ = ["CallRecorder"]

RATE = 8000
CALLER, HEARD = 0, 1
_MAX_AHEAD = 2 * RATE  # an RTP timestamp more than 2 s off the clock (either way) re-anchors
_MAX_DRIFT = RATE // 5  # the heard cursor snaps to the clock beyond 200 ms of drift
_MAX_EARLY = RATE // 10  # caller audio mapped more than 100 ms ahead of the clock moves the anchor


class _Channel:
    __slots__ = ("buf", "codec", "ssrc", "ts0", "anchor", "cursor")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.codec: str | None = None
        self.ssrc: int | None = None
        self.ts0 = 0
        self.anchor = 0
        self.cursor = 0

    def write(self, pos: int, data: bytes, codec: str) -> None:
        if self.codec is None:
            self.codec = codec
        elif codec != self.codec:
            tr = translation(codec, self.codec)
            if tr is not None:
                data = data.translate(tr)
        buf = self.buf
        if pos > len(buf):
            buf.extend(bytes([SILENCE[self.codec]]) * (pos - len(buf)))
        buf[pos : pos + len(data)] = data


class CallRecorder:
    """Collects both channels of one call; ``now`` values are the media clock (seconds)."""

    def __init__(self, started_at: float) -> None:
        self.started_at = started_at
        self.ended_at: float | None = None
        self._ch = (_Channel(), _Channel())

    def _clock_pos(self, now: float) -> int:
        return max(0, round((now - self.started_at) * RATE))

    def caller_audio(self, ssrc: int, timestamp: int, payload: bytes, codec: str, now: float) -> None:
        if self.ended_at is not None:
            return  # stopped: what the legs still carry while the call is hung up is not the call's
        ch = self._ch[CALLER]
        if ch.ssrc != ssrc:
            ch.ssrc, ch.ts0, ch.anchor = ssrc, timestamp, self._clock_pos(now)
        delta = (timestamp - ch.ts0) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        pos = ch.anchor + delta
        clock = self._clock_pos(now)
        if pos < 0 or pos > clock + _MAX_AHEAD or pos < clock - _MAX_AHEAD:
            ch.ts0, ch.anchor = timestamp, clock  # a jump in the sender's clock
            pos = clock
        elif pos > clock + _MAX_EARLY:
            # Audio cannot arrive before it was sent: the anchor was taken from a packet that
            # arrived late (a stalled loop). Move the mapping back; at most the last 100 ms are
            # rewritten, and the recording keeps the call's real length.
            ch.anchor -= pos - clock
            pos = clock
        ch.write(pos, payload, codec)

    def heard_audio(self, payload: bytes, codec: str, now: float) -> None:
        if self.ended_at is not None:
            return
        ch = self._ch[HEARD]
        clock = self._clock_pos(now)
        pos = ch.cursor if abs(clock - ch.cursor) <= _MAX_DRIFT else clock
        ch.write(pos, payload, codec)
        ch.cursor = pos + len(payload)

    def stop(self, now: float) -> None:
        if self.ended_at is None:
            self.ended_at = now

    @property
    def duration_s(self) -> float:
        return self.samples / RATE

    @property
    def samples(self) -> int:
        end = self.ended_at if self.ended_at is not None else self.started_at
        return max(self._clock_pos(end), *(len(c.buf) for c in self._ch))

    def channel_pcm(self, which: int) -> np.ndarray:
        """Decoded int16 samples of one channel, padded with silence to :attr:`samples`."""
        ch = self._ch[which]
        n = self.samples
        out = np.zeros(n, dtype="<i2")
        if ch.codec is not None and ch.buf:
            data = np.frombuffer(bytes(ch.buf[:n]), dtype=np.uint8)
            out[: len(data)] = table(ch.codec)[data]
        return out

    def write_wav(self, path: Path) -> float:
        """Write the stereo WAV (left: caller, right: heard by the caller); return seconds."""
        left, right = self.channel_pcm(CALLER), self.channel_pcm(HEARD)
        stereo = np.empty(2 * len(left), dtype="<i2")
        stereo[0::2], stereo[1::2] = left, right
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(stereo.tobytes())
        return len(left) / RATE
