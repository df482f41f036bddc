"""Tables of the voice call service, on the hub's shared metadata (migration ``0003_voice``).

- ``voice_sip_accounts``: SIP credentials of desk phones (linked to an agent) and trunks; only
  the digest HA1 values are stored (MD5 and SHA-256), never the password.
- ``voice_calls``: one row per call (the CDR): who called whom, route, queue, agent, the times of
  each step and why it ended.
- ``voice_recordings``: a call's recording (the WAV is an attachment of the conversation).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

sip_accounts = Table(
    "voice_sip_accounts", metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE")),
    Column("kind", String(8), nullable=False),  # phone | trunk
    Column("realm", String(128), nullable=False),
    Column("ha1_md5", String(32), nullable=False),
    Column("ha1_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

calls = Table(
    "voice_calls", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("sip_call_id", String(255), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("source", String(8), nullable=False),  # trunk | phone
    Column("caller", String(128), nullable=False),
    Column("callee", String(128), nullable=False),
    Column("queue_id", String(32)),
    Column("agent_id", String(32)),
    Column("started_at", Float, nullable=False),
    Column("answered_at", Float),
    Column("queued_at", Float),
    Column("connected_at", Float),
    Column("ended_at", Float),
    Column("end_reason", String(32)),
    Column("wait_s", Float),
    Column("talk_s", Float),
    Column("hold_s", Float),  # on hold or waiting while the agent consulted (0016_call_history)
    # the per-leg history: [{kind, agent_id, queue_id, party, reason, started_at, ended_at,
    # duration_s}, …] in order (voice/calls/history.py); null for calls before 0016_call_history
    Column("segments", JSON),
    Column("recording_id", String(32)),
    Index("ix_voice_calls_started", "started_at"),
    Index("ix_voice_calls_conversation", "conversation_id"),
)

recordings = Table(
    "voice_recordings", metadata,
    Column("id", String(32), primary_key=True),
    Column("call_id", String(32), ForeignKey("voice_calls.id", ondelete="CASCADE"), nullable=False),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("attachment_id", String(32), ForeignKey("attachments.id", ondelete="SET NULL")),
    Column("duration_s", Float, nullable=False),
    Column("channels", Integer, nullable=False),
    Column("sample_rate", Integer, nullable=False),
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_voice_recordings_conversation", "conversation_id"),
)
