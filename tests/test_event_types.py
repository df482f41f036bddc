"""Event types are declared where they belong (issue #15): the hub's in ``hub.events.EventType``,
each component's in its own events module, registered with ``hub.events.register_event_types``.
The strings stored in the events table are those of the one enum they all used to be in."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pytest

from assist.events import AssistEventType
from assist.service import TRANSCRIPT_SEGMENT as ASSIST_TRANSCRIPT_SEGMENT
from channels.email.events import EmailEventType
from channels.sms.events import SmsEventType
from hub.clock import ManualClock
from hub.db.consumers import EventLogStore
from hub.db.engine import make_engine, migrate
from hub.db.uow import Database
from hub.events import (
    Event,
    EventBus,
    EventType,
    audit_types,
    declared_event_types,
    event_type,
    register_event_types,
)
from hub.services.eventlog import EventLog
from hub.services.privacy import PrivacyEventType
from voice.calls.events import VoiceEventType
from workflows.events import WorkflowEventType

#: every stored event type string and the member that declares it now (the strings are the old
#: single ``EventType``'s: rows already in the events table keep meaning the same)
STORED: dict[str, StrEnum] = {
    "agent.state_changed": EventType.AGENT_STATE_CHANGED,
    "agent.logged_in": EventType.AGENT_LOGGED_IN,
    "user.login": EventType.USER_LOGIN,
    "user.login_failed": EventType.USER_LOGIN_FAILED,
    "user.logout": EventType.USER_LOGOUT,
    "user.access_changed": EventType.USER_ACCESS_CHANGED,
    "conversation.created": EventType.CONVERSATION_CREATED,
    "conversation.queued": EventType.CONVERSATION_QUEUED,
    "conversation.offered": EventType.CONVERSATION_OFFERED,
    "conversation.offer_revoked": EventType.CONVERSATION_OFFER_REVOKED,
    "conversation.rejected": EventType.CONVERSATION_REJECTED,
    "conversation.no_answer": EventType.CONVERSATION_NO_ANSWER,
    "conversation.assigned": EventType.CONVERSATION_ASSIGNED,
    "conversation.transferred": EventType.CONVERSATION_TRANSFERRED,
    "conversation.overflowed": EventType.CONVERSATION_OVERFLOWED,
    "conversation.abandoned": EventType.CONVERSATION_ABANDONED,
    "conversation.closed": EventType.CONVERSATION_CLOSED,
    "conversation.contact_linked": EventType.CONVERSATION_CONTACT_LINKED,
    "conversation.identity_verified": EventType.CONVERSATION_IDENTITY_VERIFIED,
    "conversation.csat": EventType.CONVERSATION_CSAT,
    "message.created": EventType.MESSAGE_CREATED,
    "contact.created": EventType.CONTACT_CREATED,
    "contact.updated": EventType.CONTACT_UPDATED,
    "contact.deleted": EventType.CONTACT_DELETED,
    "contact.merged": EventType.CONTACT_MERGED,
    "contact.standing_changed": EventType.CONTACT_STANDING_CHANGED,
    "contact.exported": EventType.CONTACT_EXPORTED,
    "attachment.downloaded": EventType.ATTACHMENT_DOWNLOADED,
    "admin.changed": EventType.ADMIN_CHANGED,
    "timer.fired": EventType.TIMER_FIRED,
    "timer.failed": EventType.TIMER_FAILED,
    "typing": EventType.TYPING,
    "timer.scheduled": EventType.TIMER_SCHEDULED,
    "bot.answered": AssistEventType.BOT_ANSWERED,
    "bot.handed_over": AssistEventType.BOT_HANDED_OVER,
    "bot.deflected": AssistEventType.BOT_DEFLECTED,
    "assist.suggestion_inserted": AssistEventType.SUGGESTION_INSERTED,
    "ticket.created": WorkflowEventType.TICKET_CREATED,
    "ticket.updated": WorkflowEventType.TICKET_UPDATED,
    "ticket.status_changed": WorkflowEventType.TICKET_STATUS_CHANGED,
    "sla.reminder": WorkflowEventType.SLA_REMINDER,
    "sla.escalated": WorkflowEventType.SLA_ESCALATED,
    "workorder.created": WorkflowEventType.WORKORDER_CREATED,
    "workorder.changed": WorkflowEventType.WORKORDER_CHANGED,
    "workorder.reminder": WorkflowEventType.WORKORDER_REMINDER,
    "workorder.late": WorkflowEventType.WORKORDER_LATE,
    "customer.notified": WorkflowEventType.CUSTOMER_NOTIFIED,
    "rule.fired": WorkflowEventType.RULE_FIRED,
    "rule.loop_blocked": WorkflowEventType.RULE_LOOP_BLOCKED,
    "notification.created": WorkflowEventType.NOTIFICATION_CREATED,
    "callback.requested": WorkflowEventType.CALLBACK_REQUESTED,
    "sms.keyword_answered": SmsEventType.KEYWORD_ANSWERED,
    "sms.opted_out": SmsEventType.OPTED_OUT,
    "sms.opted_in": SmsEventType.OPTED_IN,
    "sms.bulk_changed": SmsEventType.BULK_CHANGED,
    "email.bulk_changed": EmailEventType.BULK_CHANGED,
    "transcript.segment": VoiceEventType.TRANSCRIPT_SEGMENT,
    "voice.recording_downloaded": VoiceEventType.RECORDING_DOWNLOADED,
    "voice.recordings_purged": VoiceEventType.RECORDINGS_PURGED,
    "voice.call_ended_by_user": VoiceEventType.CALL_ENDED_BY_USER,
    "voice.calls_exported": VoiceEventType.CALLS_EXPORTED,
    "privacy.exported": PrivacyEventType.EXPORTED,
    "privacy.erased": PrivacyEventType.ERASED,
    "privacy.retention_applied": PrivacyEventType.RETENTION_APPLIED,
    "privacy.caught_up": PrivacyEventType.CAUGHT_UP,
}


def test_stored_strings_are_unchanged_and_map_back_to_their_members() -> None:
    for value, member in STORED.items():
        assert member == value and str(member) == value and Event(member, 0.0).row()["type"] == value
        assert event_type(value) is member
    declared = declared_event_types()
    assert {v: declared[v] for v in STORED} == STORED
    assert set(declared) == set(STORED), "a new event type: add it to STORED (its string is stored for good)"


def test_a_type_no_loaded_module_declares_stays_its_string() -> None:
    assert event_type("fax.something_else") == "fax.something_else"
    assert type(event_type("fax.something_else")) is str


def test_a_string_declared_twice_is_refused() -> None:
    class Clash(StrEnum):
        OPTED_OUT = "sms.opted_out"

    with pytest.raises(ValueError, match="sms.opted_out"):
        register_event_types(Clash)
    assert event_type("sms.opted_out") is SmsEventType.OPTED_OUT


def test_the_audit_trail_lists_the_hubs_and_the_declared_components_types() -> None:
    assert audit_types() == {"admin.changed", "user.login", "user.login_failed", "user.logout",
                             "contact.deleted", "contact.merged", "contact.standing_changed",
                             "contact.exported", "attachment.downloaded",
                             "conversation.identity_verified",
                             "voice.recording_downloaded", "voice.recordings_purged",
                             "voice.call_ended_by_user", "voice.calls_exported",
                             "privacy.exported", "privacy.erased", "privacy.retention_applied",
                             "privacy.caught_up"}


def test_assist_listens_to_the_transcript_segments_voice_emits() -> None:
    # components do not import one another: assist names the string, voice declares it
    assert ASSIST_TRANSCRIPT_SEGMENT == VoiceEventType.TRANSCRIPT_SEGMENT


async def test_events_read_back_from_the_log_carry_their_components_member(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    try:
        await migrate(engine)
        db = Database(engine, EventBus())
        async with db.tx() as tx:
            tx.emit(Event(WorkflowEventType.NOTIFICATION_CREATED, 1.0, user_id="u1"))
            tx.emit(Event(EventType.MESSAGE_CREATED, 2.0, conversation_id="c1"))
            tx.emit(Event(VoiceEventType.RECORDING_DOWNLOADED, 3.0, user_id="u1"))
        replay = await EventLogStore(db, ManualClock(10.0)).read_after(0, None, 10)
        assert [e.type for e in replay] == ["notification.created", "message.created", "voice.recording_downloaded"]
        assert replay[0].type is WorkflowEventType.NOTIFICATION_CREATED  # what `ev.type is …` subscribers test
        assert replay[1].type is EventType.MESSAGE_CREATED
        assert [r["type"] for r in await EventLog(db).audit()] == ["voice.recording_downloaded"]
    finally:
        await engine.dispose()
