"""Errors of the browser softphone; each ``code`` is part of the API (docs/API.md, "Voice")."""

from __future__ import annotations

from hub.errors import HubError

__all__ = ["BadOffer", "LegNotFound", "NotConnected", "NotRinging", "SoftphoneError", "SoftphoneOff"]


class SoftphoneError(HubError):
    code, status, title = "softphone_error", 500, "Softphone error"


class BadOffer(SoftphoneError):
    code, status, title = "bad_sdp_offer", 400, "The SDP offer cannot be answered"


class SoftphoneOff(SoftphoneError):
    code, status, title = "softphone_off", 503, "The browser softphone is off"


class LegNotFound(SoftphoneError):
    code, status, title = "call_leg_not_found", 404, "No such call on your softphone"


class NotRinging(SoftphoneError):
    code, status, title = "call_not_ringing", 409, "The call is no longer ringing"


class NotConnected(SoftphoneError):
    code, status, title = "call_not_connected", 409, "The call is not connected to you"
