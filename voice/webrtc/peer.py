"""One browser's WebRTC connection (aiortc): the browser offers, we answer.

The answer is restricted to G.711 (PCMU, then PCMA) by codec preferences set before the offer is
applied, so audio for the browser leaves as the caller's G.711 bytes (pre-encoded packets) and
the browser's audio arrives decoded by aiortc's own decoder thread as 8 kHz 16-bit frames.
ICE is not trickled: the browser waits for its candidates before sending the offer, and
aiortc's ``setLocalDescription`` gathers ours before the answer is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any, cast

import av
import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpsender import RTCRtpSender

from voice.media.g711 import PCMA, PCMU
from voice.webrtc.errors import BadOffer
from voice.webrtc.media import RATE

__all__ = ["BrowserPeer", "offered_codec"]

log = logging.getLogger(__name__)

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) (PCMU|PCMA)/8000", re.IGNORECASE | re.MULTILINE)
MAX_SDP = 20_000


def offered_codec(sdp: str) -> str:
    """The G.711 law the answer will use (PCMU preferred), or :class:`BadOffer`."""
    if "m=audio" not in sdp:
        raise BadOffer("the offer has no audio stream")
    laws = {m.group(2).upper() for m in _RTPMAP.finditer(sdp)}
    if PCMU in laws:
        return PCMU
    if PCMA in laws:
        return PCMA
    raise BadOffer("the offer has no G.711 codec (PCMU or PCMA); the softphone needs one")


class BrowserPeer:
    """An answered peer connection; :meth:`close` ends it and its receive task."""

    def __init__(self, pc: RTCPeerConnection, codec: str) -> None:
        self.pc = pc
        self.codec = codec
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_failed: Callable[[], None] | None = None
        self.closed = False

    @classmethod
    async def answer(cls, offer_sdp: str, *, send: MediaStreamTrack | None,
                     on_pcm: Callable[[np.ndarray], None] | None,
                     ice_servers: tuple[str, ...] = (), timeout_s: float = 10.0) -> tuple[BrowserPeer, str]:
        """Answer a browser's offer; ``send`` is what the browser hears, ``on_pcm`` gets 20 ms of
        what it says (8 kHz int16). Returns the peer and the answer SDP."""
        if len(offer_sdp) > MAX_SDP:
            raise BadOffer("the offer is too large")
        codec = offered_codec(offer_sdp)
        config = RTCConfiguration(iceServers=[RTCIceServer(urls=u) for u in ice_servers])
        pc = RTCPeerConnection(config)
        peer = cls(pc, codec)
        transceiver = pc.addTransceiver("audio", direction="sendrecv")
        caps = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences(
            [c for law in (codec,) for c in caps if c.mimeType.upper() == f"AUDIO/{law}"])

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and on_pcm is not None:
                peer._own(peer._receive(track, on_pcm), "webrtc-receive")

        @pc.on("connectionstatechange")
        def on_state() -> None:
            # failed (ICE consent lost) or closed by the browser (the page was closed or reloaded:
            # DTLS close_notify), not by us
            if pc.connectionState in ("failed", "closed") and peer.on_failed is not None and not peer.closed:
                peer.on_failed()

        try:
            async with asyncio.timeout(timeout_s):
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
                if send is not None:
                    transceiver.sender.replaceTrack(send)
                await pc.setLocalDescription(await pc.createAnswer())
        except TimeoutError as err:
            await peer.close()
            raise BadOffer("the connection could not be prepared in time (ICE gathering)") from err
        except BadOffer:
            await peer.close()
            raise
        except Exception as err:  # aiortc raises ValueError/OperationError/... on a bad offer
            await peer.close()
            raise BadOffer(f"the offer was refused: {err}") from err
        return peer, pc.localDescription.sdp

    def _own(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _receive(self, track: MediaStreamTrack, on_pcm: Callable[[np.ndarray], None]) -> None:
        resampler: av.AudioResampler | None = None
        while True:
            try:
                frame = cast(av.AudioFrame, await track.recv())  # an audio track's frames
            except MediaStreamError:
                return
            if frame.sample_rate != RATE or frame.layout.name != "mono" or frame.format.name != "s16":
                if resampler is None:
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
                frames = resampler.resample(frame)
            else:
                frames = [frame]
            for f in frames:
                try:
                    on_pcm(f.to_ndarray().reshape(-1).astype(np.int16, copy=False))
                except Exception:  # noqa: BLE001 - a bad frame must not stop the stream
                    log.exception("webrtc audio frame dropped")

    def stats(self) -> dict[str, Any]:
        return {"connection": self.pc.connectionState, "ice": self.pc.iceConnectionState}

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
