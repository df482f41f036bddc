"""A SIP call leg: its dialog, its RTP leg and the SDP offer/answer that ties them together."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from voice.media.leg import MediaLeg
from voice.sip.dialog import Dialog
from voice.sip.errors import NoCommonCodec, SdpError
from voice.sip.sdp import PCMA, PCMU, Direction, SessionDescription, answer, audio_offer
from voice.sip.transaction import Address

__all__ = ["SipLeg"]

SUPPORTED = (PCMU, PCMA)


@dataclass(eq=False)
class SipLeg:
    """One SIP dialog of a call (the caller's, or the agent phone's) and its media."""

    role: str  # caller | agent | external
    transport: str
    addr: Address  # where in-dialog requests go (the peer's source address: NAT-safe)
    media: MediaLeg
    media_address: str
    dialog: Dialog | None = None
    session_id: str = field(default_factory=lambda: str(secrets.randbelow(2**31)))
    sdp_version: int = 0
    remote_sdp: SessionDescription | None = None
    local_sdp: SessionDescription | None = None
    held_by_remote: bool = False
    ended: bool = False

    def _next_version(self) -> int:
        self.sdp_version += 1
        return self.sdp_version

    def answer_offer(self, body: bytes) -> SessionDescription:
        """Answer an SDP offer (initial or re-INVITE) and point the RTP leg at it.

        Raises :class:`SdpError` (400) or :class:`NoCommonCodec` (488)."""
        offer = SessionDescription.parse(body)
        ans = answer(offer, SUPPORTED, address=self.media_address, port=self.media.local_port,
                     session_id=self.session_id, version=self._next_version())
        self._apply(offer, ans)
        self.local_sdp = ans
        return ans

    def offer(self) -> SessionDescription:
        self.local_sdp = audio_offer(self.media_address, self.media.local_port,
                                     session_id=self.session_id, version=self._next_version())
        return self.local_sdp

    def apply_answer(self, body: bytes) -> None:
        ans = SessionDescription.parse(body)
        self._apply(ans, ans)

    def _apply(self, remote: SessionDescription, negotiated: SessionDescription) -> None:
        md = remote.audio
        chosen = negotiated.audio
        if md is None or chosen is None:
            raise NoCommonCodec("no audio stream in the SDP")
        codecs = [c for c in chosen.codecs if c.name.lower() != "telephone-event"]
        audio = next((c for c in codecs if c.name.upper() in ("PCMU", "PCMA")), None)
        if audio is None:
            raise NoCommonCodec("the answer has no G.711 codec")
        event = next((c.payload_type for c in md.codecs if c.name.lower() == "telephone-event"), None)
        try:
            address, port = remote.media_address(md)
        except SdpError:
            address, port = "0.0.0.0", 0
        conn = md.connection or remote.connection
        hold = md.direction in (Direction.SENDONLY, Direction.INACTIVE) or (
            conn is not None and conn.is_hold_address)
        self.held_by_remote = hold
        self.remote_sdp = remote
        self.media.configure((address, port), audio.payload_type, audio.name.upper(), event,
                             sending=not hold)
