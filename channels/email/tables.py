"""The email channel's own tables (templates, bulk jobs), on the hub's shared metadata
(migration ``0005_email_bulk``). ``email_messages`` itself lives in ``hub.db.tables`` (0002).

* ``email_templates``: stored templates agents insert into replies and bulk jobs send; placeholders
  are checked when saved (``channels/email/templates.py``).
* ``email_bulk_jobs``: one bulk or scheduled send (``scheduled`` → ``running`` → ``done`` |
  ``cancelled``), its template copied at creation (editing the template later changes no job).
* ``email_bulk_recipients``: the durable per-recipient queue and outcome (``pending`` until the job
  starts, ``queued`` → ``sent`` | ``failed`` with the error, or ``cancelled``)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

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
