"""The fax channel's tables, on the hub's shared metadata (migration ``0003_fax``).

``fax_documents`` is the central fax store: every fax received (webhook or fax-to-email) and every
document prepared for sending, with its original file and its pages (``fax_pages``: the PNG
rendered for the agent and the OCR text). An inbound fax is stored first (``received``: files and
rows committed) and linked to its conversation once routed (``routed``). ``fax_jobs`` is the
durable outbound queue (``queued`` → ``sending`` → ``sent`` | ``failed``, with retries);
``fax_bulk`` groups the jobs of one bulk send; ``fax_library`` is the fax-on-demand library."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

fax_documents = Table(
    "fax_documents", metadata,
    Column("id", String(32), primary_key=True),
    Column("direction", String(8), nullable=False),        # in | out
    Column("source", String(16), nullable=False),          # webhook | email | text | pdf | template | library | reply
    Column("status", String(16), nullable=False),          # received | routed | ready
    Column("from_number", String(64)),
    Column("to_number", String(64)),
    Column("provider_id", String(128), unique=True),       # the provider's id: a retried webhook is stored once
    Column("page_count", Integer, nullable=False),
    Column("original_type", String(64), nullable=False),   # image/tiff | application/pdf
    Column("original_size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("fax_tiff", String(255)),                       # outbound: the TIFF-F to transmit
    Column("ocr_status", String(16), nullable=False),      # pending | done | failed | off
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="SET NULL")),
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="SET NULL")),
    Column("created_by", String(64)),
    Column("meta", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_fax_documents_created", "created_at"),
    Index("ix_fax_documents_from", "from_number", "created_at"),
    Index("ix_fax_documents_to", "to_number", "created_at"),
    Index("ix_fax_documents_conversation", "conversation_id"),
    Index("ix_fax_documents_status", "status"),
)

fax_pages = Table(
    "fax_pages", metadata,
    Column("fax_id", String(32), ForeignKey("fax_documents.id", ondelete="CASCADE"), primary_key=True),
    Column("page_no", Integer, primary_key=True, autoincrement=False),  # 1-based
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("ocr_text", Text),
    Column("search_text", Text),                           # lower-case, whitespace removed
)

fax_bulk = Table(
    "fax_bulk", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("document_id", String(32), ForeignKey("fax_documents.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),          # running | done | cancelled
    Column("total", Integer, nullable=False),
    Column("created_by", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
)

fax_jobs = Table(
    "fax_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("document_id", String(32), ForeignKey("fax_documents.id", ondelete="CASCADE"), nullable=False),
    Column("bulk_id", String(32), ForeignKey("fax_bulk.id", ondelete="CASCADE")),
    Column("to_number", String(64), nullable=False),
    Column("status", String(16), nullable=False),          # queued | sending | sent | failed | cancelled
    Column("gateway", String(16), nullable=False),         # hylafax | email
    Column("gateway_ref", String(128)),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float),
    Column("error", Text),
    Column("created_by", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_fax_jobs_queue", "status", "next_attempt_at"),
    Index("ix_fax_jobs_bulk", "bulk_id", "status"),
)

fax_library = Table(
    "fax_library", metadata,
    Column("id", String(32), primary_key=True),
    Column("code", String(16), nullable=False, unique=True),  # digits the IVR caller keys in
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("document_id", String(32), ForeignKey("fax_documents.id", ondelete="RESTRICT"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
