"""The voice component's notices (hub/services/texts.py): the voicemail notification sent by email
and SMS to the mailbox's addresses and numbers, in the hub's ``default_language`` (they go to
the centre's staff, not to the caller). Defaults in ``locales/<language>.json``."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

_CALL = ("caller", "duration", "mailbox")

KEYS = (
    TextKey("voicemail.notice.sms", (*_CALL, "link")),
    TextKey("voicemail.notice.subject", _CALL),
    TextKey("voicemail.notice.body", (*_CALL, "callee", "seconds", "transcript", "link", "recording_note")),
    TextKey("voicemail.notice.no_words"),
    TextKey("voicemail.notice.not_transcribed", ("reason",)),
    TextKey("voicemail.notice.recording_in_conversation", ("size_kib",)),
)


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("voice", Path(__file__).with_name("locales"), KEYS)
