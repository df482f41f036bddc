"""The workflows' customer-facing texts (hub/services/texts.py): the notice a customer gets when
their repair work order is completed (in the chat, by email, by SMS). Defaults in
``locales/<language>.json``."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

_WORK_ORDER = ("number", "title")

KEYS = (
    TextKey("workorder.sender_name"),
    TextKey("workorder.completed", _WORK_ORDER),
    TextKey("workorder.completed_with_result", (*_WORK_ORDER, "result")),
)


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("workflows", Path(__file__).with_name("locales"), KEYS)
