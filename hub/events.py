"""Typed hub events: every state change is one of these, persisted to the event log (the source
for reports) and then handed to subscribers (the Socket.IO fan-out, channel adapters)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class EventType(StrEnum):
    AGENT_STATE_CHANGED = "agent.state_changed"
    AGENT_LOGGED_IN = "agent.logged_in"
    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_QUEUED = "conversation.queued"
    CONVERSATION_OFFERED = "conversation.offered"
    CONVERSATION_OFFER_REVOKED = "conversation.offer_revoked"
    CONVERSATION_REJECTED = "conversation.rejected"
    CONVERSATION_NO_ANSWER = "conversation.no_answer"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_TRANSFERRED = "conversation.transferred"
    CONVERSATION_OVERFLOWED = "conversation.overflowed"
    CONVERSATION_ABANDONED = "conversation.abandoned"
    CONVERSATION_CLOSED = "conversation.closed"
    CONVERSATION_CONTACT_LINKED = "conversation.contact_linked"
    CONVERSATION_CSAT = "conversation.csat"
    MESSAGE_CREATED = "message.created"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"
    CONTACT_MERGED = "contact.merged"
    ADMIN_CHANGED = "admin.changed"
    # assist/ (ASSIST-1, ASSIST-2): the widget bot and agents' use of suggestions
    BOT_ANSWERED = "bot.answered"  # the bot answered from a published FAQ article
    BOT_HANDED_OVER = "bot.handed_over"  # the bot gave the chat to the ACD (data.reason)
    BOT_DEFLECTED = "bot.deflected"  # the chat ended with the bot's answers, no agent
    ASSIST_SUGGESTION_INSERTED = "assist.suggestion_inserted"  # an agent inserted a suggestion
    # workflows/ (tickets, SLA, work orders, rules, notifications)
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"
    TICKET_STATUS_CHANGED = "ticket.status_changed"
    SLA_REMINDER = "sla.reminder"
    SLA_ESCALATED = "sla.escalated"
    WORKORDER_CREATED = "workorder.created"
    WORKORDER_CHANGED = "workorder.changed"
    WORKORDER_REMINDER = "workorder.reminder"
    WORKORDER_LATE = "workorder.late"
    CUSTOMER_NOTIFIED = "customer.notified"
    RULE_FIRED = "rule.fired"
    RULE_LOOP_BLOCKED = "rule.loop_blocked"
    NOTIFICATION_CREATED = "notification.created"
    CALLBACK_REQUESTED = "callback.requested"
    # durable scheduler (hub/services/scheduler.py)
    TIMER_FIRED = "timer.fired"  # a "hub.event" timer fired
    TIMER_FAILED = "timer.failed"  # a timer ran out of attempts
    # channels/sms (SMS-1)
    SMS_KEYWORD_ANSWERED = "sms.keyword_answered"
    SMS_OPTED_OUT = "sms.opted_out"
    SMS_OPTED_IN = "sms.opted_in"
    SMS_BULK_CHANGED = "sms.bulk_changed"  # created, started, cancelled, finished
    # channels/email bulk and scheduled sends (EMAIL-1)
    EMAIL_BULK_CHANGED = "email.bulk_changed"  # created, started, cancelled, finished
    # voice/calls/transcripts.py (VOICE-6): a final transcript segment of one call leg
    TRANSCRIPT_SEGMENT = "transcript.segment"
    # voice/calls/recordings.py (VOICE-5): a recording downloaded (audit), old recordings purged
    RECORDING_DOWNLOADED = "voice.recording_downloaded"
    RECORDINGS_PURGED = "voice.recordings_purged"
    # Signals: dispatched to subscribers but never stored (ephemeral UI hints).
    TYPING = "typing"
    TIMER_SCHEDULED = "timer.scheduled"  # wakes the scheduler loop early after commit


SIGNALS = frozenset({EventType.TYPING, EventType.TIMER_SCHEDULED})


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    at: float
    conversation_id: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "type": str(self.type), "at": self.at, "conversation_id": self.conversation_id,
            "user_id": self.user_id, "queue_id": self.queue_id, "data": self.data,
        }


Subscriber = Callable[[Event], Awaitable[None]]


class EventBus:
    """In-process fan-out of committed events. A failing subscriber is logged, never fatal."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    async def dispatch(self, events: Iterable[Event]) -> None:
        for ev in events:
            for fn in self._subscribers:
                try:
                    await fn(ev)
                except Exception:  # noqa: BLE001 - a subscriber must not break the writer
                    log.exception("event subscriber %r failed on %s", fn, ev.type)
