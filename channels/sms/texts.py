"""The SMS channel's customer-facing texts (hub/services/texts.py): the answers of the keywords
seeded on a new install, and the answer to a balance request from a number with no account when
the keyword has no fallback of its own. Defaults in ``locales/<language>.json``.

A keyword's answer is stored with the keyword (``sms_keywords``, edited on the SMS keywords page):
the seeded ones are these texts in the keyword's own language as they were when the hub first
started."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

_VALUES = ("phone", "name", "balance")

KEYS = (
    TextKey("sms.keyword.balance", _VALUES),
    TextKey("sms.keyword.balance_unknown", _VALUES),
    TextKey("sms.keyword.stop", _VALUES),
    TextKey("sms.keyword.start", _VALUES),
    TextKey("sms.keyword.help", _VALUES),
)


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("sms", Path(__file__).with_name("locales"), KEYS)
