"""The widget bot's lines (hub/services/texts.py), in the conversation's language: its name, the
greeting, the frame around an FAQ answer and the hand-over lines. Defaults in
``locales/<language>.json``."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

KEYS = (
    TextKey("bot.name"),
    TextKey("bot.greeting"),
    # an FAQ answer as the bot sends it: {answer} is the article's answer, {question} its title
    TextKey("bot.answer", ("answer", "question")),
    TextKey("bot.handover.asked"),
    TextKey("bot.handover.low_confidence"),
    TextKey("bot.handover.error"),
)

#: the hand-over line by the hand-over's reason
HANDOVER_TEXT = {"customer_request": "bot.handover.asked", "bot_error": "bot.handover.error"}


def handover_key(reason: str) -> str:
    return HANDOVER_TEXT.get(reason, "bot.handover.low_confidence")


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("assist", Path(__file__).with_name("locales"), KEYS)
