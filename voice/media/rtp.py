"""RTP packets (RFC 3550) and RFC 4733 telephone events as values: ``parse`` and ``bytes()``.

The hot receive path of :class:`~voice.media.leg.MediaLeg` reads the few header fields it needs
in place; these classes are for everything else (tests, DTMF, diagnostics) and say precisely
what is wrong with a bad packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["DTMF_EVENTS", "DtmfEvent", "RtpPacket", "header_length"]

DTMF_EVENTS = "0123456789*#ABCD"
_HEADER = struct.Struct("!BBHII")


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


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        start = header_length(data)
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        end = len(data)
        if b0 & 0x20:
            pad = data[-1]
            if pad == 0 or pad > end - start:
                raise ValueError(f"RTP padding length {pad} is invalid")
            end -= pad
        csrc = tuple(struct.unpack_from(f"!{b0 & 0x0F}I", data, 12)) if b0 & 0x0F else ()
        return cls(b1 & 0x7F, seq, ts, ssrc, bytes(data[start:end]), bool(b1 & 0x80), csrc)

    def __bytes__(self) -> bytes:
        head = _HEADER.pack(0x80 | len(self.csrc), (0x80 if self.marker else 0) | self.payload_type,
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
