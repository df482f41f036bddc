"""The fax channel's errors: one root, stable codes (part of the API)."""

from __future__ import annotations

from hub.errors import HubError


class FaxError(HubError):
    code, status, title = "fax_error", 500, "Fax error"


class CorruptFax(FaxError):
    code, status, title = "fax_corrupt", 422, "The fax file is corrupt"


class UnsupportedFax(FaxError):
    code, status, title = "fax_unsupported", 415, "Not a fax document"


class FaxTooLarge(FaxError):
    code, status, title = "fax_too_large", 413, "The fax is too large"


class BadSignature(FaxError):
    code, status, title = "fax_bad_signature", 401, "The webhook signature is not valid"


class InboundDisabled(FaxError):
    code, status, title = "fax_inbound_disabled", 503, "Inbound fax is not configured"


class InvalidFaxNumber(FaxError):
    code, status, title = "invalid_fax_number", 422, "Invalid fax number"


class GatewayError(FaxError):
    code, status, title = "fax_gateway_error", 502, "The fax gateway refused the fax"


class ConversionFailed(FaxError):
    code, status, title = "fax_conversion_failed", 422, "The document could not be converted to a fax"
