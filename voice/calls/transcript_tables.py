"""Tables of live call transcripts (VOICE-6), on the hub's shared metadata (migrations
``0005_transcripts``, ``0016_transcript_status``).

``voice_transcript_segments``: one row per final utterance of one call leg (caller or agent), with
its times on the wall clock (``started_at``/``ended_at``) and on the call's timeline (``start_s``/
``end_s``: seconds since the call was answered, the same origin as the call recording), the words
with their own times and confidence, and ``late`` when transcription lagged behind the audio.
``search_text`` is the lower-cased text the inbox search matches.

``voice_call_transcription``: whether a call answered by a person was transcribed (``status``
``transcribed`` | ``not_transcribed``, ``reason`` ``capacity`` when all transcription streams were
in use), one row per call.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, String, Table, Text

from hub.db.tables import metadata

transcript_segments = Table(
    "voice_transcript_segments", metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("call_id", String(32), nullable=False),
    Column("leg", String(8), nullable=False),  # caller | agent
    Column("agent_id", String(32)),  # the agent speaking (agent leg) or listening (caller leg)
    Column("text", Text, nullable=False),
    Column("search_text", Text, nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=False),
    Column("confidence", Float),
    Column("words", Text, nullable=False),  # JSON: [{"text", "start_s", "end_s", "conf"}]
    Column("late", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_voice_transcript_segments_conversation", "conversation_id", "started_at"),
)

call_transcription = Table(
    "voice_call_transcription", metadata,
    Column("call_id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),  # transcribed | not_transcribed
    Column("reason", String(16)),  # capacity
    Column("at", Float, nullable=False),
    Index("ix_voice_call_transcription_conversation", "conversation_id"),
)
