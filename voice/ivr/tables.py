"""Tables of the IVR flows on the hub's shared metadata (migration ``0003_ivr``).

- ``ivr_flows``: a flow and its editable draft (the definition as JSON);
- ``ivr_flow_versions``: published versions (immutable); the flow's ``published_version`` is
  the one calls use;
- ``ivr_prompts``: audio files uploaded to a flow (stored converted to 8 kHz mono 16-bit WAV);
- ``ivr_numbers``: dialled numbers (DIDs) routed to a flow.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from hub.db.tables import metadata  # the shared metadata: the one hub import outside component.py

flows = Table(
    "ivr_flows", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("draft", JSON, nullable=False),
    Column("published_version", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(32), nullable=True),
)

flow_versions = Table(
    "ivr_flow_versions", metadata,
    Column("id", String(32), primary_key=True),
    Column("flow_id", String(32), ForeignKey("ivr_flows.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("published_by", String(32), nullable=True),
    UniqueConstraint("flow_id", "version", name="uq_ivr_flow_versions_flow_version"),
)

prompts = Table(
    "ivr_prompts", metadata,
    Column("id", String(32), primary_key=True),
    Column("flow_id", String(32), ForeignKey("ivr_flows.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("path", String(512), nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("uploaded_by", String(32), nullable=True),
    UniqueConstraint("flow_id", "name", name="uq_ivr_prompts_flow_name"),
)

numbers = Table(
    "ivr_numbers", metadata,
    Column("number", String(64), primary_key=True),
    Column("flow_id", String(32), ForeignKey("ivr_flows.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
)
