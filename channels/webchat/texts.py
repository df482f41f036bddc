"""The web chat's customer-facing texts (hub/services/texts.py): the pre-chat form's labels, the
status lines pushed to the widget, the rating request, the offline form's notices and the
verification code sent by email or SMS. Defaults in
``locales/<language>.json``."""

from __future__ import annotations

from pathlib import Path

from hub.services.texts import TextCatalogue, TextKey

KEYS = (
    TextKey("widget.prechat.name"),
    TextKey("widget.prechat.email"),
    TextKey("widget.prechat.phone"),
    TextKey("widget.status.queued"),
    TextKey("widget.status.assigned", ("agent_name",)),
    TextKey("widget.status.pending"),
    TextKey("widget.status.closed"),
    TextKey("widget.csat.prompt"),
    TextKey("widget.csat.thanks"),
    TextKey("widget.offline.intro"),
    TextKey("widget.offline.received", ("name",)),
    # the one-time code that proves a pre-chat identity (hub/services/identity.py), by email or SMS
    TextKey("widget.identity.code_subject", ("code", "minutes")),
    TextKey("widget.identity.code_email", ("code", "minutes")),
    TextKey("widget.identity.code_sms", ("code", "minutes")),
)

#: the status line pushed with each status (none for the bot's own)
STATUS_TEXT = {"queued": "widget.status.queued", "offered": "widget.status.queued",
               "assigned": "widget.status.assigned", "pending": "widget.status.pending",
               "closed": "widget.status.closed", "abandoned": "widget.status.closed"}


def catalogue() -> TextCatalogue:
    return TextCatalogue.load("webchat", Path(__file__).with_name("locales"), KEYS)
