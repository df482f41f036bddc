"""The ``timers`` table of the durable scheduler (``hub/services/scheduler.py``).

A row is one timer. ``status`` is ``pending`` until it fires (``done``), is cancelled, or runs out of
attempts (``failed``). A pending row being fired carries a lease (``lease_owner``, ``lease_until``):
only the owner may complete it, and another process takes it over once the lease has expired.
``key`` names a timer for rescheduling/cancelling; it is unique among *pending* timers (a partial
unique index), so the history of earlier timers with the same key is kept."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text, text

from hub.db.tables import metadata

TIMER_KEY_MAX = 200

timers = Table(
    "timers", metadata,
    Column("id", String(32), primary_key=True),
    Column("key", String(TIMER_KEY_MAX)),
    Column("kind", String(64), nullable=False),
    Column("due_at", Float, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(128)),
    Column("lease_until", Float),
    Column("fired_at", Float),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

Index("ix_timers_status_due", timers.c.status, timers.c.due_at)
Index("uq_timers_pending_key", timers.c.key, unique=True,
      sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'"))
