"""Assist's event types (ASSIST-1, ASSIST-2): the widget bot and agents' use of suggestions (stored
in the hub's event log with these strings)."""

from __future__ import annotations

from enum import StrEnum

from hub.events import register_event_types


class AssistEventType(StrEnum):
    BOT_ANSWERED = "bot.answered"  # the bot answered from a published FAQ article
    BOT_HANDED_OVER = "bot.handed_over"  # the bot gave the chat to the ACD (data.reason)
    BOT_DEFLECTED = "bot.deflected"  # the chat ended with the bot's answers, no agent
    SUGGESTION_INSERTED = "assist.suggestion_inserted"  # an agent inserted a suggestion


register_event_types(AssistEventType)
