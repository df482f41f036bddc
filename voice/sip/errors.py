"""Exceptions of the SIP package: one root, subclasses with a stable ``code``.

``code`` values are part of the API and are never renamed. ``status`` is the SIP response a
server should answer with when the error comes from a peer's message (``None`` when no response
is possible or appropriate).
"""

from __future__ import annotations

from typing import Any


class SipError(Exception):
    """Root of every error raised by :mod:`voice.sip`."""

    code = "sip_error"
    status: int | None = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class SipParseError(SipError, ValueError):
    """A SIP message could not be parsed or is missing something mandatory (answer 400)."""

    code = "sip_parse_error"
    status = 400


class UnsupportedUriScheme(SipParseError):
    """A URI scheme other than sip, sips or tel (answer 416 in a Request-URI)."""

    code = "sip_unsupported_uri_scheme"
    status = 416


class SdpError(SipError, ValueError):
    """An SDP body could not be parsed (answer 400)."""

    code = "sdp_parse_error"
    status = 400


class NoCommonCodec(SipError):
    """Offer/answer failed: nothing acceptable in the offer (answer 488 Not Acceptable Here)."""

    code = "sdp_no_common_codec"
    status = 488


class DigestError(SipError, ValueError):
    """An Authorization/WWW-Authenticate header could not be parsed (answer 400)."""

    code = "digest_parse_error"
    status = 400


class DialogError(SipError):
    """A request does not fit the dialog (for example CSeq out of order → 500)."""

    code = "dialog_error"
    status = 500
