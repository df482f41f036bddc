"""Media for browser legs: the agent's softphone leg as a :class:`~voice.media.leg.MediaLeg`, and
the paced audio sources aiortc sends to a browser.

aiortc is imported here (this package is loaded only when the softphone is on). The tracks
hand aiortc ``av.Packet`` objects of pre-encoded G.711, which its ``PcmEncoder.pack`` sends
unchanged: no resampling or re-encoding on the way to the browser.

- :class:`WebRtcMediaLeg` is the agent's side of the call bridge. What the caller leg relays to it
  (G.711 payloads, through :meth:`send_audio`) goes into a short queue; the browser's decoded
  microphone audio comes in through :meth:`receive_pcm` and is relayed to the caller exactly
  like a desk phone's RTP (so the caller leg's recorder records the agent's side too).
- :class:`PcmBuffer` holds a few hundred ms of 8 kHz PCM from one source (a leg's PCM subscription, a
  supervisor's microphone) for a mixer to take 20 ms at a time.
- :class:`PacedAudioTrack` is what aiortc reads: one 20 ms G.711 frame per tick on a steady
  timestamp clock. Each tick takes the agent leg's next queued payload (or silence) and adds the
  whisper/barge sources; the supervisor's listen track mixes the caller and the agent instead.
  Mixing is a few numpy operations on 160 samples, only when a second source is present.
"""

from __future__ import annotations

import asyncio
import fractions
import secrets
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voice.media.g711 import PCMA, PCMU, SILENCE, encode, table
from voice.media.leg import MediaLeg
from voice.media.pcmbuffer import PcmBuffer

if TYPE_CHECKING:
    from voice.media.engine import MediaEngine

__all__ = ["FRAME", "RATE", "PacedAudioTrack", "PcmBuffer", "WebRtcMediaLeg", "agent_frame_source", "encode_pcm",
           "mix"]

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz
FRAME_S = FRAME / RATE
TIME_BASE = fractions.Fraction(1, RATE)
PAYLOAD_TYPES = {PCMU: 0, PCMA: 8}
_OUT_QUEUE = 10  # 200 ms of relayed audio waiting for the browser track at most


@lru_cache(maxsize=2)
def _encoder(codec: str) -> np.ndarray:
    """A 65536-entry table int16 → G.711 byte: one indexing operation encodes a frame."""
    linear = np.arange(-32768, 32768, dtype="<i2").tobytes()
    return np.frombuffer(encode(linear, codec), dtype=np.uint8)


def encode_pcm(pcm: np.ndarray, codec: str) -> bytes:
    return bytes(_encoder(codec)[pcm.astype(np.int32) + 32768])


def mix(*parts: np.ndarray) -> np.ndarray:
    """Sum int16 frames with clipping."""
    acc = np.zeros(FRAME, dtype=np.int32)
    for p in parts:
        acc[: len(p)] += p[:FRAME]
    return np.clip(acc, -32768, 32767).astype(np.int16)


class WebRtcMediaLeg(MediaLeg):
    """The agent's browser as one side of the call bridge (no socket of its own)."""

    def __init__(self, engine: MediaEngine, name: str, codec: str = PCMU) -> None:
        super().__init__(engine, name)
        self.codec = codec
        self.payload_type = PAYLOAD_TYPES[codec]
        self.dtmf_pt = None  # the browser gets no RFC 4733 events
        self.outbound: deque[bytes] = deque(maxlen=_OUT_QUEUE)
        self.muted = False  # the agent's microphone does not reach the caller
        self.to_agent: list[PcmBuffer] = []  # supervisors the agent hears (whisper, barge)
        self.to_caller: list[PcmBuffer] = []  # supervisors the caller hears (barge)
        self._rx_ts = secrets.randbits(32)

    def send_audio(self, payload: bytes, now: float) -> None:
        """Audio for the agent's ear (relayed from the caller, or a prompt)."""
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF
        if self.held or self.closed:
            return
        self.outbound.append(payload)
        self.tx_packets += 1

    def send_event(  # type: ignore[override]  # no DTMF to a browser: no timestamp to return
        self, payload: bytes, marker: bool, timestamp: int | None = None
    ) -> None:
        return  # DTMF from the caller is not played to the browser

    def next_frame(self) -> bytes | None:
        """The next queued 20 ms for the browser (``None``: nothing to play)."""
        out = self.outbound
        while len(out) > 3:  # more than 60 ms behind: catch up, latency matters more than gaps
            out.popleft()
        return out.popleft() if out else None

    def receive_pcm(self, pcm: np.ndarray, now: float) -> None:
        """20 ms of the agent's voice (8 kHz int16) decoded from the browser."""
        if self.closed:
            return
        self.rx_packets += 1
        self.last_rx = now
        self._rx_ts = (self._rx_ts + len(pcm)) & 0xFFFFFFFF
        if self.muted:
            pcm = np.zeros(len(pcm), dtype=np.int16)
        self._publish_pcm(pcm, self._rx_ts)  # the agent's own voice (transcription, supervisor listen)
        if self.to_caller:
            extra = [b for b in (buf.take() for buf in self.to_caller) if b is not None]
            if extra:
                pcm = mix(pcm, *extra)
        peer = self.peer
        if peer is not None and peer.player is None and not self.held:
            peer.send_audio(encode_pcm(pcm, peer.codec), now)

    def close(self) -> None:
        super().close()
        self.outbound.clear()
        self.to_agent.clear()
        self.to_caller.clear()


class PacedAudioTrack(MediaStreamTrack):
    """An aiortc audio source: one G.711 packet every 20 ms from ``frame_source``.

    ``frame_source()`` returns 160 samples of int16 PCM to encode, G.711 bytes to send as they
    are, or ``None`` for silence. The timestamp advances 160 per tick whatever the source does,
    so the browser's jitter buffer sees a steady stream; after a stall (a busy loop) the clock
    skips ahead instead of bursting."""

    kind = "audio"

    def __init__(self, frame_source: Callable[[], np.ndarray | bytes | None], codec: str = PCMU) -> None:
        super().__init__()
        self.codec = codec
        self._source = frame_source
        self._silence = bytes([SILENCE[codec]]) * FRAME
        self._start: float | None = None
        self._n = 0

    def next_payload(self) -> bytes:
        data = self._source()
        if data is None:
            return self._silence
        if isinstance(data, np.ndarray):
            return encode_pcm(data, self.codec)
        return data

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._n * FRAME_S
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif wait < -0.2:  # stalled: skip the lost time on the timestamp clock
            self._n += int(-wait / FRAME_S)
        packet = av.Packet(self.next_payload())
        packet.pts = self._n * FRAME
        packet.time_base = TIME_BASE
        self._n += 1
        return packet


def agent_frame_source(leg: WebRtcMediaLeg) -> Callable[[], np.ndarray | bytes | None]:
    """What the agent hears: the relayed caller audio, plus any whispering or barging supervisor."""

    def source() -> np.ndarray | bytes | None:
        payload = leg.next_frame()
        if not leg.to_agent:
            return payload
        extra = [b for b in (buf.take() for buf in leg.to_agent) if b is not None]
        if not extra:
            return payload
        base = table(leg.codec)[np.frombuffer(payload, dtype=np.uint8)] if payload else np.zeros(FRAME, np.int16)
        return mix(base, *extra)

    return source
