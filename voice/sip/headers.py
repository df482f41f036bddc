"""SIP header values as types: :class:`SipUri`, :class:`NameAddr` (From/To/Contact/Route),
:class:`Via`, :class:`CSeq`, plus header-name canonicalisation (compact forms such as ``i`` for
Call-ID) and comma-list splitting that respects quotes and ``<...>``.

Every parse error is a :class:`~voice.sip.errors.SipParseError`; ``str()`` of a parsed value
gives the text back (parameters keep their order and case).
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass, field, replace

from voice.sip.errors import SipParseError, UnsupportedUriScheme

__all__ = [
    "BRANCH_MAGIC",
    "COMPACT_FORMS",
    "CSeq",
    "NameAddr",
    "SipUri",
    "TOKEN",
    "Via",
    "canonical_name",
    "new_branch",
    "new_tag",
    "split_header_values",
]

BRANCH_MAGIC = "z9hG4bK"

COMPACT_FORMS: dict[str, str] = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "o": "event",
    "r": "refer-to",
    "b": "referred-by",
    "u": "allow-events",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
}

TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"


@functools.lru_cache(maxsize=512)
def canonical_name(name: str) -> str:
    """Lower-case lookup key of a header name, expanding compact forms (``i`` → ``call-id``)."""
    lowered = name.strip().lower()
    return COMPACT_FORMS.get(lowered, lowered)


def new_branch() -> str:
    """A fresh RFC 3261 branch parameter (magic cookie + 64 random bits)."""
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    """A fresh From/To tag."""
    return secrets.token_hex(6)


def split_header_values(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in quotes and ``<...>``."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    if '"' not in value and "<" not in value:
        return [p for p in (part.strip() for part in value.split(",")) if p]
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    while i < len(value):
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def _parse_params(text: str, what: str) -> dict[str, str | None]:
    """Parse ``;a=b;c`` into an ordered dict (``None`` for a flag). ``text`` starts after the
    first ``;`` or is empty."""
    params: dict[str, str | None] = {}
    if not text:
        return params
    for item in _split_outside_quotes(text, ";"):
        item = item.strip()
        if not item:
            raise SipParseError(f"{what} has an empty parameter")
        name, sep, val = item.partition("=")
        name = name.strip()
        if not name:
            raise SipParseError(f"{what} has a parameter without a name: {item!r}")
        params[name] = val.strip() if sep else None
    return params


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    in_quotes = False
    escaped = False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if in_quotes and ch == "\\":
            escaped = True
            buf.append(ch)
            continue
        if ch == '"':
            in_quotes = not in_quotes
        if ch == sep and not in_quotes:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if in_quotes:
        raise SipParseError(f"unterminated quoted string in {text!r}")
    out.append("".join(buf))
    return out


def _format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _get_param(params: dict[str, str | None], name: str) -> str | None:
    for key, val in params.items():
        if key.lower() == name:
            return val
    return None


def _has_param(params: dict[str, str | None], name: str) -> bool:
    return any(key.lower() == name for key in params)


# --------------------------------------------------------------------------------------------
# URIs and header values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:``, ``sips:`` or ``tel:`` URI.

    For ``tel:`` URIs the number is kept in ``user`` and ``host`` is empty. Parameter and header
    names keep their case; values are kept as written (no unescaping), so ``str`` round-trips.
    """

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SipUri:
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        scheme_l = scheme.lower()
        if not colon or scheme_l not in ("sip", "sips", "tel"):
            raise UnsupportedUriScheme(f"unsupported or missing URI scheme in {text!r}")
        if not rest:
            raise SipParseError(f"URI {text!r} has nothing after the scheme")
        rest, qmark, hdr_text = rest.partition("?")
        headers: dict[str, str] = {}
        if qmark:
            for item in hdr_text.split("&"):
                hname, eq, hval = item.partition("=")
                if not hname or not eq:
                    raise SipParseError(f"URI {text!r} has a malformed header {item!r}")
                headers[hname] = hval
        if scheme_l == "tel":
            number, _, ptext = rest.partition(";")
            if not number:
                raise SipParseError(f"tel URI {text!r} has no number")
            return cls(scheme, "", number, None, None, _parse_params(ptext, "URI"), headers)
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            hostpart = rest
        hostport, _, ptext = hostpart.partition(";")
        params = _parse_params(ptext, "URI")
        user: str | None = None
        password: str | None = None
        if at:
            user, pcolon, pw = userinfo.partition(":")
            password = pw if pcolon else None
            if not user:
                raise SipParseError(f"URI {text!r} has an empty user part")
        host, port = _split_hostport(hostport, f"URI {text!r}")
        return cls(scheme, host, user, password, port, params, headers)

    def __str__(self) -> str:
        if self.scheme.lower() == "tel":
            out = f"{self.scheme}:{self.user}{_format_params(self.params)}"
        else:
            userinfo = ""
            if self.user is not None:
                userinfo = self.user
                if self.password is not None:
                    userinfo += ":" + self.password
                userinfo += "@"
            port = f":{self.port}" if self.port is not None else ""
            out = f"{self.scheme}:{userinfo}{self.host}{port}{_format_params(self.params)}"
        if self.headers:
            out += "?" + "&".join(f"{k}={v}" for k, v in self.headers.items())
        return out

    def param(self, name: str) -> str | None:
        """Value of a URI parameter (case-insensitive name); ``None`` if absent or a flag."""
        return _get_param(self.params, name.lower())

    def has_param(self, name: str) -> bool:
        return _has_param(self.params, name.lower())

    @property
    def loose_route(self) -> bool:
        """True if the URI carries ``;lr`` (RFC 3261 loose routing)."""
        return self.has_param("lr")


def _split_hostport(hostport: str, what: str) -> tuple[str, int | None]:
    hostport = hostport.strip()
    if not hostport:
        raise SipParseError(f"{what} has no host")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipParseError(f"{what} has an unterminated IPv6 reference")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError(f"{what} has junk after the IPv6 reference")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_ = hostport.partition(":")
        port_text = port_text_ if colon else None
    if not host or any(c in host for c in ' \t<>"'):
        raise SipParseError(f"{what} has an invalid host {host!r}")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError(f"{what} has an invalid port {port_text!r}")
        port = int(port_text)
    return host, port


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``"Display" <uri>;tag=x`` as in From, To, Contact, Route and Record-Route.

    ``params`` are the header parameters (outside the angle brackets). A bare ``addr-spec``
    without brackets is accepted; its ``;params`` then belong to the header (RFC 3261 20.10).
    ``Contact: *`` is represented by :attr:`wildcard`.
    """

    uri: SipUri | None
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    wildcard: bool = False

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if text == "*":
            return cls(None, wildcard=True)
        display: str | None = None
        if "<" in text:
            if text.startswith('"'):
                end = _closing_quote(text)
                display = _unquote(text[: end + 1])
                rest = text[end + 1 :].lstrip()
                if not rest.startswith("<"):
                    raise SipParseError(f"name-addr {text!r} has junk after the display name")
            else:
                idx = text.index("<")
                display = text[:idx].strip() or None
                rest = text[idx:]
            close = rest.find(">")
            if close < 0:
                raise SipParseError(f"name-addr {text!r} has no closing '>'")
            uri = SipUri.parse(rest[1:close])
            ptext = rest[close + 1 :].strip()
            if ptext and not ptext.startswith(";"):
                raise SipParseError(f"name-addr {text!r} has junk after '>'")
            params = _parse_params(ptext[1:], "name-addr")
        else:
            uri_text, _, ptext = text.partition(";")
            uri = SipUri.parse(uri_text)
            params = _parse_params(ptext, "name-addr")
        return cls(uri, display, params)

    def __str__(self) -> str:
        if self.wildcard:
            return "*"
        name = ""
        if self.display_name is not None:
            name = _quote(self.display_name) + " "
        return f"{name}<{self.uri}>{_format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        return _get_param(self.params, "tag")

    def with_tag(self, tag: str) -> NameAddr:
        params = {k: v for k, v in self.params.items() if k.lower() != "tag"}
        params["tag"] = tag
        return replace(self, params=params)


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise SipParseError(f"unterminated quoted string in {text!r}")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_VIA_PROTOCOL = re.compile(r"SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9\-.!%*_+`'~]+)(?=\s)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;rport;received=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        text = text.strip()
        m = _VIA_PROTOCOL.match(text)
        if m is None:
            raise SipParseError(f"Via {text!r} has a bad sent-protocol")
        rest = text[m.end() :].strip()
        if not rest:
            raise SipParseError(f"Via {text!r} has no sent-by")
        sent_by, _, ptext = rest.partition(";")
        host, port = _split_hostport(sent_by, f"Via {text!r}")
        return cls(m[1].upper(), host, port, _parse_params(ptext, "Via"))

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{_format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        return _get_param(self.params, "branch")

    @property
    def received(self) -> str | None:
        return _get_param(self.params, "received")

    @property
    def rport(self) -> int | bool | None:
        """``None`` if absent, ``True`` if present without a value, else the port number."""
        if not _has_param(self.params, "rport"):
            return None
        val = _get_param(self.params, "rport")
        if val is None:
            return True
        if not val.isdigit():
            raise SipParseError(f"Via rport {val!r} is not a number")
        return int(val)

    @property
    def sent_by(self) -> tuple[str, int]:
        """Host and port (default 5060, 5061 for TLS) for transaction matching."""
        default = 5061 if self.transport == "TLS" else 5060
        return self.host.lower(), self.port or default


@dataclass(frozen=True, slots=True)
class CSeq:
    """``CSeq: 314159 INVITE``."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit() or not re.fullmatch(TOKEN, parts[1]):
            raise SipParseError(f"CSeq {text!r} is not '<number> <method>'")
        number = int(parts[0])
        if number >= 2**31:
            raise SipParseError(f"CSeq number {number} is not below 2**31")
        return cls(number, parts[1])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"
