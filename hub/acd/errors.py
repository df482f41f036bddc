"""ACD errors: one root, subclasses with a stable ``code`` (part of the API, never renamed)."""

from __future__ import annotations

from typing import Any


class AcdError(Exception):
    code = "acd_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class OfferNotFound(AcdError):
    code = "offer_not_found"


class UnknownAgent(AcdError):
    code = "unknown_agent"


class UnknownQueue(AcdError):
    code = "unknown_queue"


class UnknownContact(AcdError):
    code = "unknown_contact"


class InvalidState(AcdError):
    code = "invalid_state"
