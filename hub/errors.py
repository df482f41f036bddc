"""One root exception for the hub; each subclass has a stable ``code`` (part of the API)."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub reports to a caller."""

    code = "hub_error"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str = "", *, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.details = details or {}
        if code is not None:
            self.code = code

    def problem(self) -> dict[str, Any]:
        # the details never replace the four fields every problem has (a detail named "status"
        # once made a 409's status the string "new")
        body: dict[str, Any] = {"status": self.status, "code": self.code, "title": self.title,
                                "detail": self.detail}
        body.update((k, v) for k, v in self.details.items() if k not in body)
        return body


class ResponseMismatch(HubError):
    """An answer that does not fit the response model its operation declares (only checked when
    ``api_check_responses`` is on: the tests)."""

    code, status, title = "response_mismatch", 500, "Answer does not fit its declared model"


class NotAuthenticated(HubError):
    code, status, title = "not_authenticated", 401, "Not authenticated"


class InvalidCredentials(HubError):
    code, status, title = "invalid_credentials", 401, "Invalid username or password"


class DemoPasswordRefused(HubError):
    """The published demo password, when demo data is off (issue #16, item 12)."""

    code, status, title = "demo_password_refused", 403, "Demo password refused"


class Forbidden(HubError):
    code, status, title = "forbidden", 403, "Forbidden"


class NotFound(HubError):
    code, status, title = "not_found", 404, "Not found"


class ValidationFailed(HubError):
    code, status, title = "validation_error", 422, "Invalid request"


class MalformedJson(HubError):
    code, status, title = "malformed_json", 400, "Malformed JSON"


class Conflict(HubError):
    code, status, title = "conflict", 409, "Conflict"


class InvalidState(HubError):
    code, status, title = "invalid_state", 409, "Not allowed in the current state"


class PayloadTooLarge(HubError):
    code, status, title = "payload_too_large", 413, "Payload too large"


class UnsupportedMediaType(HubError):
    code, status, title = "unsupported_media_type", 415, "Unsupported media type"


class ConfigError(HubError):
    code, status, title = "config_error", 500, "Invalid configuration"
