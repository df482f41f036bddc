"""Assist errors: one root, stable codes (part of the API)."""

from __future__ import annotations

from hub.errors import HubError


class AssistError(HubError):
    code, status, title = "assist_error", 500, "Assist error"


class KbUnavailable(AssistError):
    code, status, title = "kb_unavailable", 503, "The knowledge base is not available"


class BotDisabled(AssistError):
    code, status, title = "bot_disabled", 409, "The chat bot is not handling this conversation"
