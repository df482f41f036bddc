"""One RTP leg: an asyncio datagram endpoint with the per-packet work kept small.

Receive path (per packet): one :meth:`~voice.media.rtp.RtpPacket.parse` (not RTP, or nothing after
the header: dropped), then by payload type

- RFC 4733 events → one ``on_dtmf(digit)`` per event (deduplicated by timestamp), relayed to the
  peer leg when bridged;
- audio → the recorder (caller legs), the PCM subscribers (decoded only when a speech engine,
  the voicemail recorder, a conference or a supervisor subscribed through
  :meth:`MediaLeg.subscribe_pcm`) and, when bridged, straight to the peer leg with a rewritten
  header (µ-law ↔ A-law by ``bytes.translate`` when the two legs negotiated different laws).

Send path: a prompt :class:`Player` (paced by :class:`~voice.media.engine.MediaEngine`'s one
20 ms task) takes precedence over relayed audio, so the peer is muted while a prompt or music
plays. A leg on hold (the remote side asked for sendonly/inactive) sends nothing.

The remote address comes from SDP and is latched to the source of the first packet received
(symmetric RTP, RFC 4961), so phones behind NAT work.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from voice.media.g711 import PCMA, PCMU, decode, translation
from voice.media.prompts import Prompt
from voice.media.quality import RxQuality
from voice.media.recorder import CallRecorder
from voice.media.rtp import DTMF_EVENTS, RtpPacket

if TYPE_CHECKING:
    import numpy as np

    from voice.media.engine import MediaEngine

__all__ = ["MediaLeg", "Player"]

log = logging.getLogger(__name__)

_parse = RtpPacket.parse
_pack = RtpPacket.pack
_STATIC_PT = {0: PCMU, 8: PCMA}

PcmHook = Callable[["np.ndarray", int], None]
"""A PCM subscriber: 8 kHz int16 samples of one received packet and its RTP timestamp."""


class Player:
    """Frames of one prompt being sent; ``loop`` repeats (music on hold)."""

    __slots__ = ("prompt", "index", "loop", "on_done")

    def __init__(self, prompt: Prompt, *, loop: bool = False,
                 on_done: Callable[[], object] | None = None) -> None:
        self.prompt = prompt
        self.index = 0
        self.loop = loop
        self.on_done = on_done

    def next_frame(self) -> bytes | None:
        frames = self.prompt.frames
        if self.index >= len(frames):
            if not self.loop or not frames:
                return None
            self.index = 0
        frame = frames[self.index]
        self.index += 1
        return frame


class MediaLeg(asyncio.DatagramProtocol):
    """One side of a call's media. Create through :meth:`MediaEngine.open_leg`."""

    def __init__(self, engine: MediaEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None
        self.local_port = 0
        self.remote: tuple[str, int] | None = None
        self._latched = False
        self.codec = PCMU
        self.payload_type = 0
        self.dtmf_pt: int | None = 101
        self.held = False  # True while the remote side holds (sendonly/inactive)
        self.peer: MediaLeg | None = None
        self.player: Player | None = None
        self.recorder: CallRecorder | None = None  # set on the caller's leg
        self.on_dtmf: Callable[[str], None] | None = None
        self._pcm_subscriptions: dict[object, PcmHook] = {}  # token → subscriber, in order
        self._pcm_hooks: tuple[PcmHook, ...] = ()  # their snapshot, iterated per packet
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._ssrc = random.getrandbits(32)
        self._marker = True
        self._last_event_ts: int | None = None
        self._relay_table: bytes | None = None
        self.rx_packets = 0
        self.tx_packets = 0
        self.rx_dtmf = 0
        self.rx_quality = RxQuality()  # loss and jitter of what this leg receives (wallboard health)
        self.last_rx: float | None = None
        self.closed = False
        self.on_close: list[Callable[[], None]] = []  # told once when the leg closes (consult/conference)

    # -- configuration -------------------------------------------------------------------------

    def configure(self, remote: tuple[str, int] | None, payload_type: int, codec: str,
                  dtmf_pt: int | None, sending: bool = True) -> None:
        """Apply a negotiated SDP: where to send, which codec, whether the remote wants audio."""
        if remote != self.remote:
            self._latched = False
        self.remote = None if remote is None or remote[1] == 0 or remote[0] == "0.0.0.0" else remote
        self.payload_type = payload_type
        self.codec = codec
        self.dtmf_pt = dtmf_pt
        self.held = not sending
        self._update_relay()
        if self.peer is not None:
            self.peer._update_relay()

    def bridge(self, other: MediaLeg) -> None:
        """Relay audio both ways between this leg and ``other``."""
        self.peer, other.peer = other, self
        self._marker = other._marker = True
        self._update_relay()
        other._update_relay()

    def unbridge(self) -> None:
        other, self.peer = self.peer, None
        if other is not None and other.peer is self:
            other.peer = None

    def _update_relay(self) -> None:
        # packets received here are sent by the peer in the peer's codec
        self._relay_table = translation(self.codec, self.peer.codec) if self.peer else None

    # -- PCM subscribers -----------------------------------------------------------------------

    def subscribe_pcm(self, callback: PcmHook) -> Callable[[], None]:
        """Call ``callback(pcm, rtp_timestamp)`` with the decoded audio of every packet received
        from now on, after the subscribers already there. Returns the unsubscribe, which may be
        called any number of times (also after the leg closed). The same callback subscribed twice
        is called twice and each subscription ends on its own.

        A subscriber that raises is logged and the packet still reaches the other subscribers,
        the recorder and the peer leg. One that unsubscribes (itself or another) while being called
        takes effect from the next packet."""
        token = object()
        self._pcm_subscriptions[token] = callback
        self._pcm_hooks = tuple(self._pcm_subscriptions.values())

        def unsubscribe() -> None:
            if self._pcm_subscriptions.pop(token, None) is not None:
                self._pcm_hooks = tuple(self._pcm_subscriptions.values())

        return unsubscribe

    def _publish_pcm(self, pcm: np.ndarray, timestamp: int) -> None:
        """Hand one packet's PCM to every subscriber; one failing does not stop the others."""
        for hook in self._pcm_hooks:
            try:
                hook(pcm, timestamp)
            except Exception:  # noqa: BLE001 - a subscriber must not break the media path
                log.exception("media leg %s: PCM subscriber %r failed", self.name, hook)

    # -- playback ------------------------------------------------------------------------------

    def play(self, prompt: Prompt, *, loop: bool = False,
             on_done: Callable[[], object] | None = None) -> None:
        self.player = Player(prompt, loop=loop, on_done=on_done)
        self._marker = True
        self.engine.playing(self)

    def stop_play(self) -> None:
        """Stop the prompt now (barge-in): the next frame sent is relayed audio or nothing."""
        if self.player is not None:
            self.player = None
            self._marker = True
            self.engine.not_playing(self)

    def _tick(self, now: float) -> bool:
        """Send the player's next frame; ``False`` once the prompt is over."""
        player = self.player
        if player is None:
            return False
        frame = player.next_frame()
        if frame is None:
            self.player = None
            self._marker = True
            if player.on_done is not None:
                player.on_done()  # may start the next prompt
            return self.player is not None
        self.send_audio(frame, now)
        return True

    # -- sending -------------------------------------------------------------------------------

    def send_audio(self, payload: bytes, now: float) -> None:
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF
        if self.recorder is not None:
            self.recorder.heard_audio(payload, self.codec, now)
        if self.held or self.transport is None or self.remote is None:
            return
        self._seq = (self._seq + 1) & 0xFFFF
        marker, self._marker = self._marker, False
        self.transport.sendto(_pack(self.payload_type, self._seq, self._ts, self._ssrc, payload, marker),
                              self.remote)
        self.tx_packets += 1

    def send_event(self, payload: bytes, marker: bool, timestamp: int | None = None) -> int:
        """Relay an RFC 4733 payload (the event's own timestamp is kept per event). An event we
        generate passes the timestamp the first packet returned to all its later packets."""
        ts = self._ts if timestamp is None else timestamp
        if self.held or self.transport is None or self.remote is None or self.dtmf_pt is None:
            return ts
        self._seq = (self._seq + 1) & 0xFFFF
        self.transport.sendto(_pack(self.dtmf_pt, self._seq, ts, self._ssrc, payload, marker), self.remote)
        return ts

    # -- receiving (the hot path) --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's protocol
        self.local_port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            packet = _parse(data)
        except ValueError:
            return  # not RTP, or truncated: dropped
        payload = packet.payload
        if not payload:
            return  # nothing after the header (and its padding)
        if not self._latched:
            self._latched = True
            self.remote = (str(addr[0]), int(addr[1]))
        now = self.engine.now()
        self.last_rx = now
        pt = packet.payload_type
        ts = packet.timestamp
        self.rx_quality.packet(packet.ssrc, packet.sequence, ts, now, pt != self.dtmf_pt)
        if pt == self.dtmf_pt:
            self._event(payload, ts, packet.marker)
            return
        codec = _STATIC_PT.get(pt)
        if codec is None:
            return  # comfort noise, unknown formats: dropped
        self.rx_packets += 1
        if self.recorder is not None:
            self.recorder.caller_audio(packet.ssrc, ts, payload, codec, now)
        if self._pcm_hooks:
            self._publish_pcm(decode(payload, codec), ts)
        peer = self.peer
        if peer is not None and peer.player is None:
            if codec != self.codec:
                tr = translation(codec, peer.codec)
            else:
                tr = self._relay_table
            peer.send_audio(payload.translate(tr) if tr is not None else payload, now)

    def _event(self, payload: bytes, ts: int, marker: bool) -> None:
        if len(payload) < 4:
            return
        if self.peer is not None:
            self.peer.send_event(payload, marker)
        if ts == self._last_event_ts:
            return
        self._last_event_ts = ts
        event = payload[0]
        if event < len(DTMF_EVENTS):
            self.rx_dtmf += 1
            if self.on_dtmf is not None:
                self.on_dtmf(DTMF_EVENTS[event])

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP leg %s: %s", self.name, exc)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop_play()
        self.unbridge()
        self._pcm_subscriptions.clear()
        self._pcm_hooks = ()
        self.on_dtmf = None
        if self.transport is not None:
            self.transport.close()
        self.engine.forget(self)
        callbacks, self.on_close = self.on_close, []
        for fn in callbacks:
            try:
                fn()
            except Exception:  # noqa: BLE001 - a listener must not break the close
                log.exception("media leg %s: close listener failed", self.name)
