"""Table of the recording settings (migration ``0007_recording_settings``).

- ``voice_queue_settings``: per-queue voice choices; ``record`` is whether calls of the queue are
  recorded (``NULL``: the global ``voice_recording`` setting decides). The hub's ``queues`` table
  stays untouched: this is the voice component's own row per queue.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, String, Table

from hub.db.tables import metadata

queue_settings = Table(
    "voice_queue_settings", metadata,
    Column("queue_id", String(32), ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column("record", Boolean),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(32)),
)
