"""The email channel's customer-facing texts (hub/services/texts.py): the subject of a reply to a
customer whose mail had none, in the conversation's language. Defaults in
``locales/<language>.json``."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

KEYS = (TextKey("email.reply.no_subject"),)


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("email", Path(__file__).with_name("locales"), KEYS)
