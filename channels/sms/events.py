"""The SMS channel's event types (SMS-1; stored in the hub's event log with these strings)."""

from __future__ import annotations

from enum import StrEnum

from hub.events import register_event_types


class SmsEventType(StrEnum):
    KEYWORD_ANSWERED = "sms.keyword_answered"  # a keyword self-service reply was sent
    OPTED_OUT = "sms.opted_out"
    OPTED_IN = "sms.opted_in"
    BULK_CHANGED = "sms.bulk_changed"  # bulk.py: created, started, cancelled, finished


register_event_types(SmsEventType)
