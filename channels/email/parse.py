"""MIME parsing for inbound mail: headers, text and HTML bodies, attachments.

Pure (no I/O): ``parse_message(raw)`` never raises. It parses with ``email.policy.default`` and,
if that parser trips over a broken message, parses again with ``compat32`` (the lenient legacy
parser). Parts that cannot be decoded (an unknown charset or transfer encoding, broken base64)
are kept as ``application/octet-stream`` attachments with their raw bytes, never dropped."""

from __future__ import annotations

import functools
import hashlib
import html as htmllib
import logging
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

log = logging.getLogger(__name__)

MSGID_RE = re.compile(r"<([^<>\s]+)>")
OCTET = "application/octet-stream"
_BROKEN_DEFECTS = ("InvalidBase64", "NonPrintableDefect", "UndecodableBytesDefect")


@dataclass
class Part:
    """One attachment (or an inline part that is not the message body)."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False
    undecodable: bool = False


@dataclass
class ParsedEmail:
    message_id: str                      # "<id@host>", synthesised when the mail has none
    message_id_synthesised: bool
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_addr: str                       # lower-cased address, "" when absent or broken
    from_name: str
    reply_to: str
    to: list[str]
    cc: list[str]
    date: str
    text: str
    html: str | None                     # the raw (unsanitised) HTML body
    parts: list[Part] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)   # loop-protection related headers
    content_type: str = "text/plain"
    defects: list[str] = field(default_factory=list)
    parser: str = "default"
    body_digest: str = ""
    # every Authentication-Results header, topmost first (channels/email/authresults.py)
    auth_results: list[str] = field(default_factory=list)

    @property
    def references_chain(self) -> list[str]:
        """Every Message-ID this mail answers, nearest first (In-Reply-To, then References)."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def _safe(value: str) -> str:
    """Text the databases accept: no lone surrogates (undecodable bytes), no NUL."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def message_ids(value: str) -> list[str]:
    return [f"<{_safe(m)[:900]}>" for m in MSGID_RE.findall(value or "")]


def mid_hash(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode("utf-8", "surrogateescape")).hexdigest()


def _header(msg: Message, name: str) -> str:
    """A header as text under either policy; never raises.

    Read from the raw header list (``raw_items``) and decoded here (RFC 2047 words), so a value
    the policy's header classes cannot model never breaks parsing (and it is much faster)."""
    wanted = name.lower()
    value: object = None
    try:
        for key, raw in msg.raw_items():
            if key.lower() == wanted:
                value = raw
                break
    except Exception:  # noqa: BLE001
        return ""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = re.sub(r"\r?\n[ \t]*", " ", text).strip()
    if "=?" in text:
        try:
            return str(make_header(decode_header(text)))
        except Exception:  # noqa: BLE001 - broken encoded words: keep the raw text
            return text
    return text


def _header_values(msg: Message, name: str, limit: int = 20) -> list[str]:
    """Every value of a repeated header, in the mail's order (topmost first), unfolded."""
    wanted = name.lower()
    try:
        found = [raw if isinstance(raw, str) else str(raw) for key, raw in msg.raw_items()
                 if key.lower() == wanted]
    except Exception:  # noqa: BLE001
        return []
    return [_clean_text(re.sub(r"\r?\n[ \t]*", " ", v), 2000) for v in found[:limit]]


def _clean_text(value: str, limit: int) -> str:
    value = "".join(ch if ch.isprintable() else " " for ch in _safe(value))
    return " ".join(value.split())[:limit]


def _addresses(value: str) -> list[str]:
    try:
        return [_clean_text(a, 320).lower() for _, a in getaddresses([value]) if "@" in a][:50]
    except Exception:  # noqa: BLE001
        return []


def _decode_text(part: Message, payload: bytes) -> str | None:
    """The text of a text/* part, or None when its charset is unknown."""
    try:
        charset = part.get_content_charset() or "us-ascii"
    except Exception:  # noqa: BLE001
        charset = "us-ascii"
    if charset in ("us-ascii", "ascii", "unknown-8bit", "x-unknown"):
        charset = "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return None


def _filename(part: Message, index: int, content_type: str) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001
        name = ""
    if name and "=?" in name:
        try:
            name = str(make_header(decode_header(name)))
        except Exception:  # noqa: BLE001
            pass
    name = _clean_text(name.replace("/", "_").replace("\\", "_"), 180).strip(". ")
    if not name:
        ext = mimetypes.guess_extension(content_type) or ".bin"
        name = f"part-{index}{ext}"
    return name


def _raw_payload(part: Message) -> bytes:
    payload = part.get_payload(decode=False)
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    try:
        return part.as_bytes()
    except Exception:  # noqa: BLE001
        return str(part).encode("utf-8", "replace")


def _has_broken_encoding(part: Message) -> bool:
    return any(type(d).__name__.startswith(_BROKEN_DEFECTS) for d in getattr(part, "defects", []))


class _ReusingPolicy(policy.EmailPolicy):
    """``policy.default`` that reuses the header object parsed from the same raw value: the
    walker and the parser ask a part for its content type, disposition, file name, charset and
    transfer encoding, and the default policy parses the header again on every read. Header
    objects are immutable; what a message stores (and serialises) stays the raw value."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > 1000:
            return super().header_fetch_parse(name, value)
        return _parsed_header(self, name, value)


@functools.lru_cache(maxsize=512)
def _parsed_header(pol: _ReusingPolicy, name: str, value: str) -> Any:
    return policy.EmailPolicy.header_fetch_parse(pol, name, value)


_DEFAULT = _ReusingPolicy()  # the settings of policy.default


class _Walker:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.html: str | None = None
        self.parts: list[Part] = []
        self.defects: list[str] = []
        self.count = 0

    def walk(self, part: Message, depth: int = 0) -> None:
        self.defects += [type(d).__name__ for d in getattr(part, "defects", [])]
        try:
            ctype = part.get_content_type()
        except Exception:  # noqa: BLE001
            ctype = OCTET
        if ctype.startswith("message/") and part.is_multipart():
            self._attach_message(part, ctype)
            return
        if part.is_multipart():
            payload = part.get_payload()
            if depth > 20 or not isinstance(payload, list):
                self._keep(part, _raw_payload(part), OCTET, undecodable=True)
                return
            for sub in payload:
                if isinstance(sub, Message):
                    self.walk(sub, depth + 1)
            return
        self._leaf(part, ctype)

    def _attach_message(self, part: Message, ctype: str) -> None:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        try:
            data = inner.as_bytes() if isinstance(inner, Message) else _raw_payload(part)
        except Exception:  # noqa: BLE001 - an inner message that cannot be re-serialised
            data = _raw_payload(part)
        self.count += 1
        name = _filename(part, self.count, "message/rfc822")
        if "." not in name:
            name += ".eml"
        self.parts.append(Part(name, "message/rfc822" if ctype == "message/rfc822" else OCTET, data))

    def _keep(self, part: Message, data: bytes, ctype: str, undecodable: bool = False) -> None:
        self.count += 1
        try:
            disposition = part.get_content_disposition()
        except Exception:  # noqa: BLE001
            disposition = None
        cid = _header(part, "Content-ID").strip() or None
        self.parts.append(Part(_filename(part, self.count, ctype), ctype, data,
                               content_id=cid, inline=disposition == "inline",
                               undecodable=undecodable))

    def _leaf(self, part: Message, ctype: str) -> None:
        try:
            disposition = part.get_content_disposition()
            has_name = bool(part.get_filename())
        except Exception:  # noqa: BLE001
            disposition, has_name = "attachment", True
        try:
            payload = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            payload = None
        cte = _header(part, "Content-Transfer-Encoding").strip().lower()
        unknown_cte = cte not in ("", "7bit", "8bit", "binary", "base64", "quoted-printable")
        if not isinstance(payload, bytes) or unknown_cte or _has_broken_encoding(part):
            self._keep(part, _raw_payload(part), OCTET, undecodable=True)
            return
        is_body = disposition != "attachment" and not has_name
        if ctype in ("text/plain", "text/html") and is_body:
            text = _decode_text(part, payload)
            if text is None:
                self._keep(part, payload, OCTET, undecodable=True)
            elif ctype == "text/html" and self.html is None:
                self.html = text
            elif ctype == "text/plain":
                self.text.append(text)
            else:
                self._keep(part, payload, ctype)
            return
        self._keep(part, payload, ctype)


def _parse_with(raw: bytes, pol: Any, name: str) -> ParsedEmail:
    msg = BytesParser(policy=pol).parsebytes(raw)
    w = _Walker()
    w.walk(msg)
    mids = message_ids(_header(msg, "Message-ID"))
    synthesised = not mids
    message_id = mids[0] if mids else f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"
    from_name, from_addr = "", ""
    try:
        from_name, from_addr = parseaddr(_header(msg, "From"))
    except Exception:  # noqa: BLE001
        pass
    reply_to = _addresses(_header(msg, "Reply-To"))
    headers = {k: _clean_text(_header(msg, k), 200) for k in (
        "Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
        "List-Id", "Return-Path")}
    try:
        content_type = msg.get_content_type()
    except Exception:  # noqa: BLE001
        content_type = OCTET
    sep = raw.find(b"\r\n\r\n")
    sep = raw.find(b"\n\n") if sep < 0 else sep
    body = raw[sep:] if sep >= 0 else raw
    return ParsedEmail(
        message_id=message_id, message_id_synthesised=synthesised,
        in_reply_to=message_ids(_header(msg, "In-Reply-To"))[:20],
        references=message_ids(_header(msg, "References"))[-50:],
        subject=_clean_text(_header(msg, "Subject"), 300),
        from_addr=_clean_text(from_addr, 320).lower() if "@" in from_addr else "",
        from_name=_clean_text(from_name, 200),
        reply_to=reply_to[0] if reply_to else "",
        to=_addresses(_header(msg, "To")), cc=_addresses(_header(msg, "Cc")),
        date=_clean_text(_header(msg, "Date"), 100),
        text=_safe("\n".join(w.text)), html=_safe(w.html) if w.html is not None else None,
        parts=w.parts,
        headers={k: v for k, v in headers.items() if v}, content_type=content_type,
        defects=sorted(set(w.defects)), parser=name,
        body_digest=hashlib.sha256(body).hexdigest(),
        auth_results=_header_values(msg, "Authentication-Results"))


def parse_message(raw: bytes) -> ParsedEmail:
    """Parse ``raw`` (the DATA of an SMTP transaction). Never raises."""
    try:
        return _parse_with(raw, _DEFAULT, "default")
    except Exception as err:  # noqa: BLE001 - fall back to the lenient parser
        log.info("policy.default could not parse a message (%s); using compat32", err)
    try:
        return _parse_with(raw, policy.compat32, "compat32")
    except Exception as err:  # noqa: BLE001 - keep the whole message as one attachment
        log.warning("compat32 could not parse a message either (%s); keeping it raw", err)
        return ParsedEmail(
            message_id=f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>",
            message_id_synthesised=True, in_reply_to=[], references=[], subject="", from_addr="",
            from_name="", reply_to="", to=[], cc=[], date="", text="", html=None,
            parts=[Part("message.eml", OCTET, raw, undecodable=True)], parser="raw",
            defects=[type(err).__name__], body_digest=hashlib.sha256(raw).hexdigest())


# --- HTML --------------------------------------------------------------------------------------
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|blockquote|table)\s*>")


def html_to_text(html: str) -> str:
    """A plain-text rendering of an HTML body (for the message text and search)."""
    import nh3

    stripped = nh3.clean(_BLOCK_END.sub("\n", html), tags=set())
    lines = [" ".join(line.split()) for line in htmllib.unescape(stripped).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
