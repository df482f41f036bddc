"""RTP packets (RFC 3550) and RFC 4733 telephone events as values: ``parse`` and ``bytes()``.

:class:`RtpPacket` is also the live path's parser and builder (:class:`~voice.media.leg.MediaLeg`
parses every received datagram once and builds every packet it sends with
:meth:`RtpPacket.pack`), so ``parse`` keeps the common packet (version 2, no CSRC, no header
extension) to one ``struct`` unpack and one slice, and says precisely what is wrong with a bad
packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["DTMF_EVENTS", "DtmfEvent", "RtpPacket", "header_length"]

DTMF_EVENTS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")
_unpack_header = _HEADER.unpack_from
_pack_header = _HEADER.pack


def header_length(data: bytes) -> int:
    """Length of the RTP header (fixed part, CSRCs and extension) or raise ``ValueError``."""
    if len(data) < 12:
        raise ValueError(f"RTP packet is {len(data)} bytes, shorter than the 12-byte header")
    b0 = data[0]
    if b0 >> 6 != 2:
        raise ValueError(f"RTP version is {b0 >> 6}, not 2")
    length = 12 + 4 * (b0 & 0x0F)
    if len(data) < length:
        raise ValueError("RTP packet has truncated CSRC")
    if b0 & 0x10:
        if len(data) < length + 4:
            raise ValueError("RTP packet has a truncated header extension")
        words = int.from_bytes(data[length + 2 : length + 4], "big")
        length += 4 + 4 * words
        if len(data) < length:
            raise ValueError("RTP packet has a truncated header extension")
    return length


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. ``payload`` excludes the header extension (skipped, not kept) and the
    padding. Treat it as a value: the live path builds one per datagram received, so it is a
    plain slots class (a frozen dataclass's ``__init__`` costs twice as much per packet)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; ``ValueError`` says what is wrong with it.

        A padding count of 0 (the P bit set, the last byte 0), which RFC 3550 does not allow, is
        read as no padding, as the live receive path always did; a count beyond the payload is
        an error."""
        n = len(data)
        if n < 12:
            raise ValueError(f"RTP packet is {n} bytes, shorter than the 12-byte header")
        b0, b1, seq, ts, ssrc = _unpack_header(data)
        if b0 & 0xDF == 0x80:  # the common packet: version 2, no CSRC, no extension
            if b0 & 0x20:
                pad = data[-1]
                if pad > n - 12:
                    raise ValueError(f"RTP padding length {pad} is invalid")
                return cls(b1 & 0x7F, seq, ts, ssrc, data[12 : n - pad], b1 > 0x7F)
            return cls(b1 & 0x7F, seq, ts, ssrc, data[12:], b1 > 0x7F)
        start = header_length(data)
        end = len(data)
        if b0 & 0x20:
            pad = data[-1]
            if pad > end - start:
                raise ValueError(f"RTP padding length {pad} is invalid")
            end -= pad
        csrc = tuple(struct.unpack_from(f"!{b0 & 0x0F}I", data, 12)) if b0 & 0x0F else ()
        return cls(b1 & 0x7F, seq, ts, ssrc, bytes(data[start:end]), b1 > 0x7F, csrc)

    @staticmethod
    def pack(payload_type: int, sequence: int, timestamp: int, ssrc: int, payload: bytes,
             marker: bool = False) -> bytes:
        """The bytes of a packet without CSRCs, built without making the value first (what the
        live send path uses for every packet; ``bytes(packet)`` gives the same bytes). The
        sequence number and timestamp must be in range (the sender keeps them wrapped)."""
        return _pack_header(0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp,
                            ssrc) + payload

    def __bytes__(self) -> bytes:
        if not self.csrc:
            return RtpPacket.pack(self.payload_type, self.sequence & 0xFFFF,
                                  self.timestamp & 0xFFFFFFFF, self.ssrc, self.payload, self.marker)
        head = _pack_header(0x80 | len(self.csrc), (0x80 if self.marker else 0) | self.payload_type,
                            self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        return head + b"".join(c.to_bytes(4, "big") for c in self.csrc) + self.payload


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """An RFC 4733 ``telephone-event`` payload (4 bytes)."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> DtmfEvent:
        if len(payload) < 4:
            raise ValueError(f"RFC 4733 payload is {len(payload)} bytes, needs 4")
        event, flags, duration = struct.unpack_from("!BBH", payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def __bytes__(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F),
                           self.duration & 0xFFFF)

    @property
    def digit(self) -> str | None:
        """``0``-``9``, ``*``, ``#``, ``A``-``D``; ``None`` for other events (flash, tones)."""
        return DTMF_EVENTS[self.event] if self.event < len(DTMF_EVENTS) else None
