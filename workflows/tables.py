"""Workflow tables (migration 0003_workflows), on the hub's shared metadata. Times are epoch
seconds (float) like the rest of the schema."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

departments = Table(
    "departments", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("created_at", Float, nullable=False),
)

department_members = Table(
    "department_members", metadata,
    Column("department_id", String(32), ForeignKey("departments.id", ondelete="CASCADE"),
           primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)

sla_policies = Table(
    "sla_policies", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    # match: None = any
    Column("ticket_type", String(32)),
    Column("priority", String(16)),
    Column("vip", Boolean),
    Column("first_response_s", Float, nullable=False),   # business seconds
    Column("resolution_s", Float, nullable=False),       # business seconds
    Column("reminder_lead_s", Float, nullable=False),    # business seconds before a deadline
    Column("calendar_id", String(32)),                   # None: the ticket queue's calendar
    Column("escalate_to", JSON, nullable=False),         # list of targets
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)

tickets = Table(
    "tickets", metadata,
    Column("id", String(32), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("category", String(64)),
    Column("priority", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("queue_id", String(32), ForeignKey("queues.id", ondelete="SET NULL")),
    Column("assignee_id", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_by", String(32)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("first_response_at", Float),
    Column("resolved_at", Float),
    Column("closed_at", Float),
    # SLA bookkeeping: the policy that applied and the deadlines it gave
    Column("sla_policy_id", String(32)),
    Column("first_response_due", Float),
    Column("resolution_due", Float),
    Column("sla_consumed_s", Float, nullable=False, default=0.0),  # business s before the pause
    Column("sla_running_since", Float),                           # None while paused/stopped
    Column("first_response_breached", Boolean, nullable=False, default=False),
    Column("resolution_breached", Boolean, nullable=False, default=False),
    Column("meta", JSON, nullable=False),
    Index("ix_tickets_status", "status"),
    Index("ix_tickets_contact", "contact_id"),
)

ticket_conversations = Table(
    "ticket_conversations", metadata,
    Column("ticket_id", String(32), ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("linked_at", Float, nullable=False),
    Index("ix_ticket_conversations_conversation", "conversation_id"),
)

# Ticket history: status changes, notes, attachments, SLA reminders/escalations — one timeline.
ticket_history = Table(
    "ticket_history", metadata,
    Column("id", String(32), primary_key=True),
    Column("ticket_id", String(32), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor_id", String(32)),
    Column("actor_name", String(200)),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("body", Text),
    Column("data", JSON, nullable=False),
    Index("ix_ticket_history_ticket", "ticket_id", "at"),
)

work_orders = Table(
    "work_orders", metadata,
    Column("id", String(32), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("category", String(64)),
    Column("priority", String(16), nullable=False),
    Column("address", String(500)),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("ticket_id", String(32), ForeignKey("tickets.id", ondelete="SET NULL")),
    Column("department_id", String(32), ForeignKey("departments.id", ondelete="SET NULL")),
    Column("planned_start", Float),
    Column("planned_end", Float),
    Column("created_by", String(32)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("completed_at", Float),
    Column("closed_at", Float),
    Column("late", Boolean, nullable=False, default=False),
    Column("result", Text),
    Column("meta", JSON, nullable=False),
    Index("ix_work_orders_state", "state"),
    Index("ix_work_orders_department", "department_id", "state"),
)

work_order_history = Table(
    "work_order_history", metadata,
    Column("id", String(32), primary_key=True),
    Column("work_order_id", String(32), ForeignKey("work_orders.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),   # transition | note | reminder | late | notified
    Column("action", String(32)),
    Column("from_state", String(16)),
    Column("to_state", String(16)),
    Column("actor_id", String(32)),
    Column("actor_name", String(200)),
    Column("body", Text),
    Column("attachment_ids", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_work_order_history_wo", "work_order_id", "at"),
)

rules = Table(
    "rules", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("event", String(48), nullable=False),
    Column("conditions", JSON, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("position", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

notifications = Table(
    "notifications", metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("link", String(300)),
    Column("created_at", Float, nullable=False),
    Column("read_at", Float),
    # what it says as a stable code with its parameters (workflows/staff_texts.py): the web UI
    # shows it in the reader's language; title/body are the English fallback (older rows: only those)
    Column("code", String(64)),
    Column("params", JSON),
    Index("ix_notifications_user", "user_id", "created_at"),
)

# Callback tasks requested by a rule (start a callback): when due, the voice component (if running)
# opens its callback task (voice/calls/callback.py, linked in task_conversation_id); agents are
# notified either way.
callbacks = Table(
    "callbacks", metadata,
    Column("id", String(32), primary_key=True),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("phone", String(32)),
    Column("queue_id", String(32)),
    Column("due_at", Float, nullable=False),
    Column("status", String(16), nullable=False),   # pending | opening | opened | due | done | cancelled
    Column("note", Text),
    Column("rule_id", String(32)),
    Column("created_at", Float, nullable=False),
    # the voice callback task (a ``voice`` conversation with meta.callback) opened when it fell due;
    # chosen before it is opened (status opening), so a retry after a crash opens it once
    Column("task_conversation_id", String(32)),
)
