"""The SMS channel's tables, on the hub's shared metadata (migration ``0003_sms``).

``sms_messages`` holds every SMS in and out: an inbound one is stored here first (status
``received``) and linked to its conversation message once routed (``routed``); an outbound one is
the durable outbound queue (``queued`` → ``sending`` → ``sent`` → ``delivered`` | ``failed``),
whether it is an agent's reply, an automatic keyword answer or part of a bulk job."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

sms_messages = Table(
    "sms_messages", metadata,
    Column("id", String(32), primary_key=True),
    Column("direction", String(8), nullable=False),          # in | out
    Column("phone", String(32), nullable=False),             # the customer's number, E.164
    Column("our_number", String(32), nullable=False),        # our short code / long number
    Column("body", Text, nullable=False),
    Column("encoding", String(8), nullable=False),           # gsm7 | ucs2
    Column("segments", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),              # conversation | keyword | bulk
    Column("priority", Integer, nullable=False, default=0),  # lower goes first
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="SET NULL")),
    Column("bulk_job_id", String(32), ForeignKey("sms_bulk_jobs.id", ondelete="CASCADE")),
    Column("keyword", String(32)),
    Column("dedupe_key", String(128), nullable=False, unique=True),
    Column("gateway", String(16)),
    Column("gateway_ref", String(128)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float),
    Column("error", Text),
    Column("meta", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_sms_messages_queue", "status", "priority", "next_attempt_at"),
    Index("ix_sms_messages_phone", "phone", "created_at"),
    Index("ix_sms_messages_conversation", "conversation_id", "created_at"),
    Index("ix_sms_messages_message", "message_id"),
    Index("ix_sms_messages_bulk", "bulk_job_id", "status"),
)

sms_bulk_jobs = Table(
    "sms_bulk_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("template", Text, nullable=False),
    Column("status", String(16), nullable=False),  # scheduled | running | done | cancelled
    Column("created_by", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("total", Integer, nullable=False),
    Column("skipped", Integer, nullable=False, default=0),   # opted out at creation
    Column("scheduled_at", Float),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("meta", JSON, nullable=False),
    Index("ix_sms_bulk_jobs_status", "status", "scheduled_at"),
)

sms_optouts = Table(
    "sms_optouts", metadata,
    Column("phone", String(32), primary_key=True),
    Column("keyword", String(32)),
    Column("source", String(16), nullable=False),  # keyword | admin
    Column("created_at", Float, nullable=False),
)

sms_keywords = Table(
    "sms_keywords", metadata,
    Column("keyword", String(32), primary_key=True),         # upper-case, one word
    Column("action", String(16), nullable=False),            # reply | balance | stop | start
    Column("reply", Text, nullable=False),                   # the answer; {balance} {name} {phone}
    Column("fallback", Text),                                # balance: no account for the number
    Column("enabled", Integer, nullable=False, default=1),
    Column("updated_at", Float, nullable=False),
)
