"""The workflows component's event types: tickets, SLA, work orders, rules, notifications (stored in
the hub's event log with these strings)."""

from __future__ import annotations

from enum import StrEnum

from hub.events import register_event_types


class WorkflowEventType(StrEnum):
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


register_event_types(WorkflowEventType)
