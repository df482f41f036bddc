"""The email channel's own tables, on the hub's shared metadata (one schema, one Alembic history:
this channel's revisions are in ``channels/email/migrations``).

* ``email_messages`` (migration ``0002_email``): one row per email that entered or left a
  conversation (``channels/email/store.py`` reads and writes it).
* ``email_templates`` (this and the two bulk tables: migration ``0005_email_bulk``): stored
  templates agents insert into replies and bulk jobs send; placeholders are checked when saved
  (``channels/email/templates.py``).
* ``email_bulk_jobs``: one bulk or scheduled send (``scheduled`` → ``running`` → ``done`` |
  ``cancelled``), its template copied at creation (editing the template later changes no job).
* ``email_bulk_recipients``: the durable per-recipient queue and outcome (``pending`` until the job
  starts, ``queued`` → ``sent`` | ``failed`` with the error, or ``cancelled``)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

# Message-IDs are kept for threading (``mid_hash`` = sha256 of the normalised id, indexed: two mails
# may carry the same id) and ``dedupe_key`` makes a re-delivered message (an SMTP retry after a
# lost ``250``) a no-op. Outbound rows carry the delivery state (queued → sent | failed).
email_messages = Table(
    "email_messages", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"),
           nullable=False),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="SET NULL")),
    Column("direction", String(8), nullable=False),
    Column("rfc_message_id", Text, nullable=False),
    Column("mid_hash", String(64), nullable=False),
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("subject", Text),
    Column("from_addr", String(320)),
    Column("to_addrs", JSON, nullable=False),
    Column("html", Text),
    Column("meta", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Index("ix_email_messages_mid_hash", "mid_hash"),
    Index("ix_email_messages_conversation", "conversation_id", "created_at"),
    Index("ix_email_messages_status", "direction", "status"),
)

email_templates = Table(
    "email_templates", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("html", Text),
    Column("created_by", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

email_bulk_jobs = Table(
    "email_bulk_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("template_id", String(32), ForeignKey("email_templates.id", ondelete="SET NULL")),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("html", Text),
    Column("status", String(16), nullable=False),  # scheduled | running | done | cancelled
    Column("rate_per_s", Float, nullable=False),
    Column("created_by", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("total", Integer, nullable=False),
    Column("scheduled_at", Float),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("meta", JSON, nullable=False),
    Index("ix_email_bulk_jobs_status", "status", "scheduled_at"),
)

email_bulk_recipients = Table(
    "email_bulk_recipients", metadata,
    Column("id", String(32), primary_key=True),
    Column("job_id", String(32), ForeignKey("email_bulk_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),                  # CSV row / filter order
    Column("email", String(320), nullable=False),
    Column("name", String(200)),
    Column("contact_id", String(32), ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("values", JSON, nullable=False),                  # placeholder values (contact.*)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("rfc_message_id", Text),
    Column("updated_at", Float, nullable=False),
    Index("ix_email_bulk_recipients_job", "job_id", "status", "seq"),
)
