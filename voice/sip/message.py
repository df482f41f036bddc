"""SIP messages as values: parse bytes into :class:`SipRequest`/:class:`SipResponse`, serialise
with ``bytes(msg)``.

Headers are an ordered tuple of ``(name, value)`` pairs exactly as received (compact names such
as ``v`` or ``i`` stay compact), so repeated headers (Via, Record-Route, Route, Contact) keep
their order. Lookups (:meth:`SipMessage.get`, :meth:`SipMessage.get_all`) are case-insensitive
and understand compact forms. Folded header lines are unfolded in the value.

A parsed message remembers the exact bytes it came from, so ``bytes(SipMessage.parse(x)) == x``
for any well-formed message; a message built or changed through the ``with_*`` methods is
serialised canonically (``Name: value`` lines, CRLF).

Framing (RFC 3261 18.3): :func:`parse_message` parses one datagram and ignores bytes beyond
Content-Length; :class:`StreamParser` frames messages on a TCP byte stream and keeps the
remainder. Every malformed input raises :class:`~voice.sip.errors.SipParseError` (a
``ValueError``); nothing else escapes the parser.

Header value types (:class:`SipUri`, :class:`NameAddr`, :class:`Via`, :class:`CSeq`) live in
:mod:`voice.sip.headers` and are re-exported here. :func:`error_response` builds the ``400`` for
a request that failed to parse, when enough of it is readable to address a response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import ClassVar, Self

from voice.sip.errors import SipParseError, UnsupportedUriScheme
from voice.sip.headers import (
    BRANCH_MAGIC,
    TOKEN,
    CSeq,
    NameAddr,
    SipUri,
    Via,
    canonical_name,
    new_branch,
    new_tag,
    split_header_values,
)

__all__ = [
    "BRANCH_MAGIC",
    "CSeq",
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_MESSAGE_SIZE",
    "NameAddr",
    "SipMessage",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "StreamParser",
    "Via",
    "canonical_name",
    "error_response",
    "new_branch",
    "new_tag",
    "parse_message",
    "split_header_values",
]

MAX_MESSAGE_SIZE = 64 * 1024
MAX_HEADERS = 200
MAX_HEADER_LINE = 8 * 1024

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    408: "Request Timeout",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    603: "Decline",
}

_REQUEST_LINE = re.compile(rf"^({TOKEN}) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9]) ([^\r\n]*)$")
_HEADER_NAME = re.compile(rf"^{TOKEN}$")
_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SipMessage:
    """Headers and body common to requests and responses. Immutable: ``with_*`` return copies."""

    headers: tuple[Header, ...] = ()
    body: bytes = b""
    _raw: bytes | None = field(default=None, init=False, repr=False, compare=False)

    kind: ClassVar[str] = "message"

    # -- parsing -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, *, validate: bool = True) -> Self:
        """Parse one datagram (extra bytes after Content-Length are ignored, RFC 3261 18.3)."""
        msg = parse_message(data, validate=validate)
        if not isinstance(msg, cls):
            raise SipParseError(f"expected a SIP {cls.kind}, got a {msg.kind}")
        return msg

    # -- header access -----------------------------------------------------------------------

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of header ``name`` (case-insensitive, compact forms understood)."""
        key = canonical_name(name)
        for hname, value in self.headers:
            if canonical_name(hname) == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` in order, comma-separated values split."""
        key = canonical_name(name)
        out: list[str] = []
        for hname, value in self.headers:
            if canonical_name(hname) == key:
                out.extend(split_header_values(value) if _is_list_header(key) else [value])
        return out

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SipParseError(f"SIP {self.kind} is missing the {name} header", header=name)
        return value

    @property
    def call_id(self) -> str:
        return self.require("Call-ID").strip()

    @property
    def cseq(self) -> CSeq:
        return CSeq.parse(self.require("CSeq"))

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.get_all("Via")]

    @property
    def top_via(self) -> Via:
        vias = self.get_all("Via")
        if not vias:
            raise SipParseError(f"SIP {self.kind} is missing the Via header", header="Via")
        return Via.parse(vias[0])

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.require("From"))

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.require("To"))

    @property
    def contacts(self) -> list[NameAddr]:
        return [NameAddr.parse(v) for v in self.get_all("Contact")]

    @property
    def content_length(self) -> int | None:
        value = self.get("Content-Length")
        return None if value is None else _content_length(value)

    # -- building ----------------------------------------------------------------------------

    def with_headers(self, headers: Iterable[Header]) -> Self:
        """Copy with these headers (serialised canonically from then on)."""
        return replace(self, headers=tuple(headers))

    def with_header(self, name: str, value: str, *, first: bool = False) -> Self:
        """Copy with one more header, appended (or prepended, as for a new top Via)."""
        pair = (name, value)
        headers = (pair, *self.headers) if first else (*self.headers, pair)
        return replace(self, headers=headers)

    def without(self, name: str) -> Self:
        key = canonical_name(name)
        return replace(self, headers=tuple(h for h in self.headers if canonical_name(h[0]) != key))

    def with_replaced(self, name: str, value: str) -> Self:
        """Replace the first ``name`` header in place (appended if absent); drop later ones."""
        key = canonical_name(name)
        out: list[Header] = []
        done = False
        for h in self.headers:
            if canonical_name(h[0]) == key:
                if not done:
                    out.append((h[0], value))
                    done = True
            else:
                out.append(h)
        if not done:
            out.append((name, value))
        return replace(self, headers=tuple(out))

    def with_body(self, body: bytes, content_type: str | None = None) -> Self:
        """Copy with a new body, Content-Length (and Content-Type if given) updated."""
        msg = replace(self, body=body).with_replaced("Content-Length", str(len(body)))
        if content_type is not None:
            msg = msg.with_replaced("Content-Type", content_type)
        return msg

    # -- validation and serialisation --------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`SipParseError` naming the first missing or malformed mandatory header."""
        for name in self._mandatory():
            self.require(name)
        self.top_via  # noqa: B018 - parses the top Via
        cseq = self.cseq
        NameAddr.parse(self.require("From"))
        NameAddr.parse(self.require("To"))
        if not self.call_id:
            raise SipParseError(f"SIP {self.kind} has an empty Call-ID", header="Call-ID")
        self._validate_specific(cseq)

    def _mandatory(self) -> tuple[str, ...]:
        return _MANDATORY

    def _validate_specific(self, cseq: CSeq) -> None:
        pass

    def start_line(self) -> str:
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return self.serialise()

    def serialise(self) -> bytes:
        """Canonical serialisation (ignores the bytes the message was parsed from)."""
        lines = [self.start_line()]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8") + self.body


def _is_list_header(key: str) -> bool:
    return key in ("via", "contact", "route", "record-route", "allow", "supported", "require")


@dataclass(frozen=True, slots=True)
class SipRequest(SipMessage):
    """A SIP request: ``METHOD uri SIP/2.0``."""

    method: str = "OPTIONS"
    uri: str = ""

    kind: ClassVar[str] = "request"

    @property
    def request_uri(self) -> SipUri:
        return SipUri.parse(self.uri)

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def _mandatory(self) -> tuple[str, ...]:
        return (*_MANDATORY, "Max-Forwards")

    def _validate_specific(self, cseq: CSeq) -> None:
        mf = self.require("Max-Forwards").strip()
        if not mf.isdigit() or int(mf) > 255:
            raise SipParseError(f"Max-Forwards {mf!r} is not a number 0-255", header="Max-Forwards")
        if cseq.method != self.method:
            raise SipParseError(
                f"CSeq method {cseq.method} does not match request method {self.method}",
                header="CSeq",
            )
        self.request_uri  # noqa: B018 - parses the Request-URI

    @classmethod
    def build(
        cls,
        method: str,
        uri: str | SipUri,
        headers: Iterable[Header],
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """Build a request; Content-Type (if given) and Content-Length are appended."""
        hdrs = list(headers)
        if content_type is not None:
            hdrs.append(("Content-Type", content_type))
        hdrs.append(("Content-Length", str(len(body))))
        return cls(headers=tuple(hdrs), body=body, method=method, uri=str(uri))

    def __repr__(self) -> str:
        cid = self.get("Call-ID")
        return f"<SipRequest {self.method} {self.uri} call-id={cid!r} cseq={self.get('CSeq')!r}>"


@dataclass(frozen=True, slots=True)
class SipResponse(SipMessage):
    """A SIP response: ``SIP/2.0 status reason``."""

    status: int = 200
    reason: str = "OK"

    kind: ClassVar[str] = "response"

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @classmethod
    def for_request(
        cls,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        *,
        to_tag: str | None = None,
        headers: Iterable[Header] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipResponse:
        """Build a response per RFC 3261 8.2.6: Via (all, in order), From, To (with ``to_tag``
        added when the request's To has none and the status is not 100), Call-ID, CSeq; for
        dialog-establishing responses (101-299) Record-Route is copied too."""
        copied: list[Header] = []
        for name, value in request.headers:
            key = canonical_name(name)
            if key == "to" and to_tag and status != 100:
                to = NameAddr.parse(value)
                if to.tag is None:
                    value = str(to.with_tag(to_tag))
            if key in ("via", "from", "to", "call-id", "cseq"):
                copied.append((name, value))
            elif key == "record-route" and 100 < status < 300:
                copied.append((name, value))
            elif key == "timestamp" and status == 100:
                copied.append((name, value))
        copied.extend(headers)
        if content_type is not None:
            copied.append(("Content-Type", content_type))
        copied.append(("Content-Length", str(len(body))))
        phrase = reason if reason is not None else REASON_PHRASES.get(status, "Unknown")
        return cls(headers=tuple(copied), body=body, status=status, reason=phrase)

    def __repr__(self) -> str:
        cid = self.get("Call-ID")
        return f"<SipResponse {self.status} {self.reason} call-id={cid!r} cseq={self.get('CSeq')!r}>"


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _content_length(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or len(value) > 9:
        raise SipParseError(f"Content-Length {value!r} is not a non-negative integer")
    return int(value)


def _parse_head(head: bytes) -> tuple[str, tuple[Header, ...], int | None]:
    """Parse the start line and headers (``head`` excludes the blank line)."""
    if not head:
        raise SipParseError("empty SIP message")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SipParseError(f"SIP message head is not UTF-8 (byte {err.start})") from err
    lines = text.split("\r\n")
    start = lines[0]
    headers: list[Header] = []
    content_length: int | None = None
    for idx, line in enumerate(lines[1:], start=2):
        if len(line) > MAX_HEADER_LINE:
            raise SipParseError(f"header line {idx} is {len(line)} characters, over the {MAX_HEADER_LINE} limit")
        if line[:1] in (" ", "\t"):
            if not headers:
                raise SipParseError("continuation line before the first header")
            name, value = headers[-1]
            value = f"{value} {line.strip()}".strip()
            if len(value) > MAX_HEADER_LINE:
                raise SipParseError(f"folded header {name} is over the {MAX_HEADER_LINE} limit")
            headers[-1] = (name, value)
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _HEADER_NAME.match(name):
            raise SipParseError(f"line {idx} is not a header: {line[:60]!r}")
        if "\n" in value or "\r" in value or "\x00" in value:
            raise SipParseError(f"header {name} contains a bare CR, LF or NUL")
        headers.append((name, value.strip(" \t")))
        if len(headers) > MAX_HEADERS:
            raise SipParseError(f"SIP message has more than {MAX_HEADERS} headers")
    for name, value in headers:
        if canonical_name(name) == "content-length":
            cl = _content_length(value)
            if content_length is not None and cl != content_length:
                raise SipParseError("conflicting Content-Length headers")
            content_length = cl
    return start, tuple(headers), content_length


def _build(start: str, headers: tuple[Header, ...], body: bytes) -> SipRequest | SipResponse:
    if len(start) > MAX_HEADER_LINE:
        raise SipParseError(f"start line is over the {MAX_HEADER_LINE} limit")
    m = _STATUS_LINE.match(start)
    if m:
        return SipResponse(headers=headers, body=body, status=int(m[1]), reason=m[2])
    if start.startswith("SIP/"):
        raise SipParseError(f"bad status line: {start[:80]!r}")
    m = _REQUEST_LINE.match(start)
    if m:
        return SipRequest(headers=headers, body=body, method=m[1], uri=m[2])
    raise SipParseError(f"bad start line: {start[:80]!r}")


def parse_message(data: bytes, *, validate: bool = True) -> SipRequest | SipResponse:
    """Parse one SIP message from a datagram.

    Bytes beyond Content-Length are ignored (RFC 3261 18.3); a body shorter than Content-Length
    raises :class:`SipParseError`. Without Content-Length the body runs to the end of the
    datagram. With ``validate`` (the default) mandatory headers are checked.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_message expects bytes")
    data = bytes(data)
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(f"SIP message is {len(data)} bytes, over the {MAX_MESSAGE_SIZE} limit")
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("SIP message is truncated: no blank line after the headers")
    start, headers, content_length = _parse_head(data[:end])
    body_start = end + 4
    available = len(data) - body_start
    if content_length is None:
        content_length = available
    elif available < content_length:
        raise SipParseError(
            f"SIP body is truncated: Content-Length is {content_length} but only {available} bytes follow the headers"
        )
    msg = _build(start, headers, data[body_start : body_start + content_length])
    object.__setattr__(msg, "_raw", data[: body_start + content_length])
    if validate:
        msg.validate()
    return msg


class StreamParser:
    """Frames SIP messages on a stream transport (TCP/TLS), RFC 3261 18.3.

    Feed bytes as they arrive; complete messages come out, the remainder is kept. Content-Length
    is mandatory on streams. CRLF keep-alives between messages (RFC 5626) are skipped. After a
    :class:`SipParseError` the stream cannot be resynchronised: :attr:`remainder` then starts
    with the offending message (to build a 400 from); close the connection.
    """

    def __init__(self, *, validate: bool = True) -> None:
        self._buffer = bytearray()
        self._validate = validate

    @property
    def remainder(self) -> bytes:
        return bytes(self._buffer)

    def feed(self, data: bytes) -> list[SipRequest | SipResponse]:
        self._buffer += data
        out: list[SipRequest | SipResponse] = []
        while True:
            msg = self._next()
            if msg is None:
                return out
            out.append(msg)

    def _next(self) -> SipRequest | SipResponse | None:
        buf = self._buffer
        skip = 0
        while buf[skip : skip + 2] == b"\r\n":
            skip += 2
        if skip:
            del buf[:skip]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_MESSAGE_SIZE:
                raise SipParseError(f"SIP message head is over the {MAX_MESSAGE_SIZE} limit")
            return None
        start, headers, content_length = _parse_head(bytes(buf[:end]))
        if content_length is None:
            raise SipParseError("SIP message on a stream transport has no Content-Length")
        total = end + 4 + content_length
        if total > MAX_MESSAGE_SIZE:
            raise SipParseError(f"SIP message is {total} bytes, over the {MAX_MESSAGE_SIZE} limit")
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        msg = _build(start, headers, raw[end + 4 :])
        object.__setattr__(msg, "_raw", raw)
        if self._validate:
            msg.validate()
        del buf[:total]  # only now: after an error, remainder starts with the bad message
        return msg


def parse_stream(data: bytes) -> tuple[SipRequest | SipResponse | None, bytes]:
    """Parse the first message of a stream buffer; return it (or ``None`` if incomplete) and
    the remaining bytes."""
    parser = StreamParser()
    parser._buffer += data
    msg = parser._next()
    return msg, parser.remainder


def error_response(data: bytes, error: SipParseError) -> SipResponse | None:
    """The ``400 Bad Request`` for a datagram that raised ``error``, or ``None`` when no
    response is possible (not a request, a response, or Via/From/To/Call-ID/CSeq unreadable).

    The reason phrase carries the parse error (sanitised, at most 100 characters), as RFC 3261
    21.4.1 suggests."""
    try:
        msg = parse_message(data, validate=False)
    except SipParseError:
        # Oversized or too many headers, a body shorter than Content-Length: answer from the
        # readable header lines (the 400 only needs Via, From, To, Call-ID and CSeq).
        head = data[:MAX_MESSAGE_SIZE].split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        kept = [ln for ln in head if len(ln) <= MAX_HEADER_LINE
                and not ln.lower().startswith((b"content-length:", b"l:"))][:MAX_HEADERS]
        try:
            msg = parse_message(b"\r\n".join(kept) + b"\r\n\r\n", validate=False)
        except SipParseError:
            return None
    if not isinstance(msg, SipRequest) or msg.method == "ACK":
        return None
    try:
        msg.top_via  # noqa: B018
        msg.require("From")  # copied verbatim: it need not parse
        msg.to  # noqa: B018
        msg.cseq  # noqa: B018
        if not msg.call_id:
            return None
    except SipParseError:
        return None
    status = error.status or 400
    if status == 416:
        try:
            msg.request_uri  # noqa: B018
        except UnsupportedUriScheme:
            pass  # 416 only when it is the Request-URI (a bad From URI is a 400)
        else:
            status = 400
    elif status >= 500 or status < 400:
        status = 400
    detail = "".join(c if c.isprintable() else "?" for c in str(error))[:100]
    reason = f"{REASON_PHRASES.get(status, 'Bad Request')} ({detail})"
    return SipResponse.for_request(msg, status, reason, to_tag=new_tag())


def iter_header_pairs(message: SipMessage, name: str) -> Iterator[Header]:
    """The ``(name, value)`` pairs of one header, as received (useful for re-emitting)."""
    key = canonical_name(name)
    return (h for h in message.headers if canonical_name(h[0]) == key)
