"""The email channel's event types (stored in the hub's event log with these strings)."""

from __future__ import annotations

from enum import StrEnum

from hub.events import register_event_types


class EmailEventType(StrEnum):
    # bulk and scheduled sends (EMAIL-1, bulk.py): created, started, cancelled, finished
    BULK_CHANGED = "email.bulk_changed"


register_event_types(EmailEventType)
