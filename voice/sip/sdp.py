"""SDP (RFC 8866) session descriptions and RFC 3264 offer/answer for our audio calls.

A :class:`SessionDescription` keeps its session-level lines and each
:class:`MediaDescription`'s lines as ordered ``(type, value)`` pairs, so ``bytes(parse(x))``
gives ``x`` back (CRLF line endings) and unknown lines survive. Typed views (:class:`Origin`,
:class:`Connection`, codecs, direction) are computed from the lines; changes return copies.

Offer/answer: :func:`audio_offer` builds a G.711 offer (PCMU 0, PCMA 8, telephone-event 101);
:func:`answer` picks the first offered codec we support, keeps telephone-event, mirrors the
direction (sendonly ↔ recvonly for hold) and raises :class:`~voice.sip.errors.NoCommonCodec`
(status 488) when no audio stream can be accepted. :func:`hold`/:func:`resume` build re-INVITE
bodies; :attr:`MediaDescription.direction` reads the hold state (including the old
``c=0.0.0.0`` form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from voice.sip.errors import NoCommonCodec, SdpError

__all__ = [
    "PCMA",
    "PCMU",
    "TELEPHONE_EVENT",
    "Codec",
    "Connection",
    "Direction",
    "MediaDescription",
    "Origin",
    "SessionDescription",
    "answer",
    "audio_offer",
    "hold",
    "resume",
]

Line = tuple[str, str]
_SESSION_TYPES = set("vosiuepcbtrzka")
_MEDIA_TYPES = set("icbka")
MAX_SDP_SIZE = 16 * 1024
_PLAIN_RTP = ("RTP/AVP", "RTP/AVPF")  # no SRTP yet: RTP/SAVP offers are rejected


class Direction(StrEnum):
    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    def reversed(self) -> Direction:
        """The direction an answerer uses for this offered direction (RFC 3264 6.1)."""
        return {
            Direction.SENDONLY: Direction.RECVONLY,
            Direction.RECVONLY: Direction.SENDONLY,
        }.get(self, self)


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format: ``a=rtpmap:<pt> <name>/<rate>[/<channels>]`` (+ ``a=fmtp``)."""

    payload_type: int
    name: str
    clock_rate: int = 8000
    channels: int | None = None
    fmtp: str | None = None

    def same_format(self, other: Codec) -> bool:
        return (
            self.name.lower() == other.name.lower()
            and self.clock_rate == other.clock_rate
            and (self.channels or 1) == (other.channels or 1)
        )

    @property
    def rtpmap(self) -> str:
        ch = f"/{self.channels}" if self.channels else ""
        return f"{self.payload_type} {self.name}/{self.clock_rate}{ch}"


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
TELEPHONE_EVENT = Codec(101, "telephone-event", fmtp="0-16")
_STATIC = {0: PCMU, 8: PCMA, 9: Codec(9, "G722"), 18: Codec(18, "G729")}


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: str
    session_version: int
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split()
        if len(parts) != 6 or not parts[2].isdigit():
            raise SdpError(f"o= line {value!r} does not have 6 fields with a numeric version")
        return cls(parts[0], parts[1], int(parts[2]), parts[5], parts[3], parts[4])

    def __str__(self) -> str:
        return f"{self.username} {self.session_id} {self.session_version} {self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Connection:
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split()
        if len(parts) != 3:
            raise SdpError(f"c= line {value!r} does not have 3 fields")
        return cls(parts[2], parts[0], parts[1])

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"

    @property
    def is_hold_address(self) -> bool:
        """RFC 2543 hold: ``c=IN IP4 0.0.0.0``."""
        return self.address == "0.0.0.0"


def _attrs(lines: Iterable[Line]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for t, v in lines:
        if t == "a":
            name, colon, val = v.partition(":")
            out.append((name, val if colon else None))
    return out


def _direction_of(lines: Iterable[Line]) -> Direction | None:
    for name, val in _attrs(lines):
        if val is None and name in Direction._value2member_map_:
            return Direction(name)
    return None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section: ``m=<media> <port> <proto> <fmt>...`` and its lines."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    lines: tuple[Line, ...] = ()
    session_direction: Direction | None = field(default=None, compare=False, repr=False)

    @property
    def m_line(self) -> str:
        return f"{self.media} {self.port} {self.proto} {' '.join(self.formats)}".rstrip()

    @property
    def attributes(self) -> list[tuple[str, str | None]]:
        return _attrs(self.lines)

    def attribute(self, name: str) -> str | None:
        return next((v for n, v in self.attributes if n == name), None)

    @property
    def connection(self) -> Connection | None:
        value = next((v for t, v in self.lines if t == "c"), None)
        return Connection.parse(value) if value is not None else None

    @property
    def direction(self) -> Direction:
        """Media-level attribute, else session-level, else sendrecv (RFC 3264 5.1)."""
        return _direction_of(self.lines) or self.session_direction or Direction.SENDRECV

    @property
    def codecs(self) -> list[Codec]:
        """Payload formats in offer order, with rtpmap/fmtp applied (static ones filled in)."""
        rtpmaps: dict[str, str] = {}
        fmtps: dict[str, str] = {}
        for name, val in self.attributes:
            if val is None:
                continue
            key, _, rest = val.partition(" ")
            if name == "rtpmap":
                rtpmaps[key] = rest.strip()
            elif name == "fmtp":
                fmtps[key] = rest.strip()
        out: list[Codec] = []
        for fmt in self.formats:
            if not fmt.isdigit():
                continue
            pt = int(fmt)
            if fmt in rtpmaps:
                parts = rtpmaps[fmt].split("/")
                try:
                    rate = int(parts[1]) if len(parts) > 1 else 8000
                    channels = int(parts[2]) if len(parts) > 2 else None
                except ValueError as err:
                    raise SdpError(f"bad rtpmap for payload {fmt}: {rtpmaps[fmt]!r}") from err
                out.append(Codec(pt, parts[0], rate, channels, fmtps.get(fmt)))
            elif pt in _STATIC:
                out.append(replace(_STATIC[pt], fmtp=fmtps.get(fmt)))
            else:
                out.append(Codec(pt, f"unknown-{pt}", fmtp=fmtps.get(fmt)))
        return out

    @property
    def ptime(self) -> int | None:
        value = self.attribute("ptime")
        return int(value) if value and value.isdigit() else None

    def with_direction(self, direction: Direction) -> MediaDescription:
        """Copy with the media-level direction attribute replaced (or added)."""
        lines = [ln for ln in self.lines if not (ln[0] == "a" and ln[1] in Direction._value2member_map_)]
        lines.append(("a", direction.value))
        return replace(self, lines=tuple(lines))


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A whole SDP body: session-level lines then media sections."""

    lines: tuple[Line, ...]
    media: tuple[MediaDescription, ...] = ()

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        if isinstance(data, bytes):
            if len(data) > MAX_SDP_SIZE:
                raise SdpError(f"SDP is {len(data)} bytes, over the {MAX_SDP_SIZE} limit")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as err:
                raise SdpError(f"SDP is not UTF-8 (byte {err.start})") from err
        else:
            text = data
        raw_lines = text.split("\n")
        if raw_lines and raw_lines[-1] == "":
            raw_lines.pop()
        session: list[Line] = []
        media: list[tuple[str, list[Line]]] = []
        for n, raw in enumerate(raw_lines, 1):
            line = raw[:-1] if raw.endswith("\r") else raw
            if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
                raise SdpError(f"SDP line {n} is not '<type>=<value>': {line[:40]!r}")
            t, v = line[0], line[2:]
            if n == 1 and t != "v":
                raise SdpError("SDP must start with v=")
            if t == "m":
                media.append((v, []))
            elif media:
                if t not in _MEDIA_TYPES:
                    raise SdpError(f"SDP line {n}: {t}= is not allowed in a media section")
                media[-1][1].append((t, v))
            else:
                if t not in _SESSION_TYPES:
                    raise SdpError(f"SDP line {n}: unknown session line type {t}=")
                session.append((t, v))
        if not session or session[0] != ("v", "0"):
            raise SdpError("SDP version must be v=0")
        for needed in "ost":
            if not any(t == needed for t, _ in session):
                raise SdpError(f"SDP has no {needed}= line")
        Origin.parse(next(v for t, v in session if t == "o"))
        session_dir = _direction_of(session)
        mds: list[MediaDescription] = []
        for mline, lines in media:
            parts = mline.split()
            if len(parts) < 3 or not parts[1].split("/")[0].isdigit():
                raise SdpError(f"bad m= line {mline!r}")
            port = int(parts[1].split("/")[0])
            if port > 65535:
                raise SdpError(f"m= port {port} out of range")
            if "/" in parts[1]:
                raise SdpError("m= port counts are not supported")
            md = MediaDescription(parts[0], port, parts[2], tuple(parts[3:]), tuple(lines), session_dir)
            if md.connection is None and not any(t == "c" for t, _ in session) and port:
                raise SdpError(f"media {parts[0]} has no c= line and the session has none")
            mds.append(md)
        return cls(tuple(session), tuple(mds))

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")

    def __str__(self) -> str:
        out = [f"{t}={v}" for t, v in self.lines]
        for md in self.media:
            out.append(f"m={md.m_line}")
            out.extend(f"{t}={v}" for t, v in md.lines)
        return "\r\n".join(out) + "\r\n"

    @property
    def origin(self) -> Origin:
        return Origin.parse(next(v for t, v in self.lines if t == "o"))

    @property
    def connection(self) -> Connection | None:
        value = next((v for t, v in self.lines if t == "c"), None)
        return Connection.parse(value) if value is not None else None

    @property
    def audio(self) -> MediaDescription | None:
        return next((m for m in self.media if m.media == "audio" and m.port), None)

    def media_address(self, md: MediaDescription) -> tuple[str, int]:
        """Where to send RTP for this stream (media c= line, else session c= line)."""
        conn = md.connection or self.connection
        if conn is None:
            raise SdpError("no connection address")
        return conn.address, md.port

    def is_on_hold(self) -> bool:
        """True when the audio stream is not sending to us (sendonly/inactive or c=0.0.0.0)."""
        md = self.audio
        if md is None:
            return False
        conn = md.connection or self.connection
        if conn is not None and conn.is_hold_address:
            return True
        return md.direction in (Direction.SENDONLY, Direction.INACTIVE)

    def next_version(self) -> SessionDescription:
        """Copy with the o= session version incremented (required for every new offer)."""
        o = self.origin
        lines = tuple(
            ("o", str(replace(o, session_version=o.session_version + 1))) if t == "o" else (t, v) for t, v in self.lines
        )
        return replace(self, lines=lines)


def _media_lines(address: str | None, codecs: Sequence[Codec], direction: Direction, ptime: int | None) -> list[Line]:
    lines: list[Line] = []
    if address is not None:
        lines.append(("c", str(Connection(address, addrtype=_addrtype(address)))))
    for c in codecs:
        lines.append(("a", f"rtpmap:{c.rtpmap}"))
        if c.fmtp:
            lines.append(("a", f"fmtp:{c.payload_type} {c.fmtp}"))
    if ptime:
        lines.append(("a", f"ptime:{ptime}"))
    lines.append(("a", direction.value))
    return lines


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def _session_lines(address: str, session_id: str, version: int, name: str) -> list[Line]:
    return [
        ("v", "0"),
        ("o", str(Origin("-", session_id, version, address, addrtype=_addrtype(address)))),
        ("s", name),
        ("c", str(Connection(address, addrtype=_addrtype(address)))),
        ("t", "0 0"),
    ]


def audio_offer(
    address: str,
    port: int,
    *,
    codecs: Sequence[Codec] = (PCMU, PCMA),
    telephone_event: Codec | None = TELEPHONE_EVENT,
    direction: Direction = Direction.SENDRECV,
    session_id: str = "0",
    version: int = 0,
    ptime: int | None = 20,
    session_name: str = "contact-hub",
) -> SessionDescription:
    """An RTP/AVP audio offer for G.711 with RFC 4733 events."""
    all_codecs = [*codecs, *([telephone_event] if telephone_event else [])]
    md = MediaDescription(
        "audio",
        port,
        "RTP/AVP",
        tuple(str(c.payload_type) for c in all_codecs),
        tuple(_media_lines(None, all_codecs, direction, ptime)),
    )
    return SessionDescription(tuple(_session_lines(address, session_id, version, session_name)), (md,))


def answer(
    offer: SessionDescription,
    supported_codecs: Sequence[Codec],
    *,
    address: str,
    port: int,
    session_id: str = "0",
    version: int = 0,
    direction: Direction = Direction.SENDRECV,
    ptime: int | None = 20,
    session_name: str = "contact-hub",
) -> SessionDescription:
    """RFC 3264 answer: accept the first audio stream, rejecting every other one (port 0).

    The codec is the first one in the offer's order that is in ``supported_codecs`` (matched
    by name/rate/channels, answered with the offerer's payload type); telephone-event is kept
    if offered. The answer's direction is the intersection of ``direction`` and the mirror of
    the offered one. Raises :class:`NoCommonCodec` if no audio stream can be accepted.
    """
    accepted = False
    out: list[MediaDescription] = []
    reasons: list[str] = []
    for md in offer.media:
        chosen: Codec | None = None
        event: Codec | None = None
        if not accepted and md.media == "audio" and md.port and md.proto in _PLAIN_RTP:
            for c in md.codecs:
                if c.name.lower() == "telephone-event":
                    if event is None and c.clock_rate == 8000:
                        event = c
                elif chosen is None and any(c.same_format(s) for s in supported_codecs):
                    chosen = c
            if chosen is None:
                names = ", ".join(c.name for c in md.codecs) or "none"
                reasons.append(f"audio offers {names}")
        elif md.media != "audio":
            reasons.append(f"{md.media} is not supported")
        elif md.proto not in _PLAIN_RTP:
            reasons.append(f"transport {md.proto} is not supported")
        if chosen is None:
            out.append(MediaDescription(md.media, 0, md.proto, md.formats[:1] or ("0",), ()))
            continue
        accepted = True
        codecs = [chosen, *([event] if event else [])]
        mine = _intersect(direction, md.direction.reversed())
        out.append(
            MediaDescription(
                "audio",
                port,
                md.proto,
                tuple(str(c.payload_type) for c in codecs),
                tuple(_media_lines(None, codecs, mine, ptime)),
            )
        )
    if not accepted:
        wanted = ", ".join(c.name for c in supported_codecs)
        raise NoCommonCodec(
            f"no acceptable audio stream in the offer ({'; '.join(reasons) or 'no media'}); we support {wanted}",
            offered=reasons,
        )
    return SessionDescription(tuple(_session_lines(address, session_id, version, session_name)), tuple(out))


def _intersect(a: Direction, b: Direction) -> Direction:
    send = a in (Direction.SENDRECV, Direction.SENDONLY) and b in (
        Direction.SENDRECV,
        Direction.SENDONLY,
    )
    recv = a in (Direction.SENDRECV, Direction.RECVONLY) and b in (
        Direction.SENDRECV,
        Direction.RECVONLY,
    )
    if send and recv:
        return Direction.SENDRECV
    if send:
        return Direction.SENDONLY
    if recv:
        return Direction.RECVONLY
    return Direction.INACTIVE


def hold(session: SessionDescription, *, inactive: bool = False) -> SessionDescription:
    """A re-INVITE offer putting the other side on hold (RFC 3264 8.4): the audio stream
    becomes sendonly (inactive if we were already receive-only or ``inactive``), version + 1."""

    def change(md: MediaDescription) -> MediaDescription:
        if md.media != "audio" or not md.port:
            return md
        new = Direction.INACTIVE if inactive or md.direction is Direction.RECVONLY else (Direction.SENDONLY)
        return md.with_direction(new)

    return replace(session, media=tuple(change(m) for m in session.media)).next_version()


def resume(session: SessionDescription) -> SessionDescription:
    """A re-INVITE offer taking the call off hold (sendrecv), version + 1."""
    media = tuple(m.with_direction(Direction.SENDRECV) if m.media == "audio" and m.port else m for m in session.media)
    return replace(session, media=media).next_version()
