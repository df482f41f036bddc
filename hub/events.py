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
    # Signals: dispatched to subscribers but never stored (ephemeral UI hints).
    TYPING = "typing"


SIGNALS = frozenset({EventType.TYPING})


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
