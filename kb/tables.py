"""Knowledge-base tables (migration ``0003_kb``), on the hub's shared metadata.

Times are epoch seconds (float) like every hub table. The article row is the current state; every
save also writes a full snapshot to ``kb_versions`` (so a diff or a restore never depends on the
row). The search index is derived from ``kb_articles`` and can always be rebuilt from it.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from hub.db.tables import metadata

kb_articles = Table(
    "kb_articles", metadata,
    Column("id", String(32), primary_key=True),
    Column("question", Text, nullable=False),
    Column("alternatives", JSON, nullable=False),
    Column("answer_html", Text, nullable=False),  # sanitised on save
    Column("answer_text", Text, nullable=False),  # plain text of the answer (indexed, bot replies)
    Column("category", String(100), nullable=False),
    Column("product", String(100), nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("language", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # draft | published | archived
    Column("owner_id", String(32), ForeignKey("users.id", ondelete="SET NULL")),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("published_at", Float),
    Column("updated_by", String(32)),
    Index("ix_kb_articles_status", "status", "updated_at"),
    Index("ix_kb_articles_category", "category"),
)

kb_versions = Table(
    "kb_versions", metadata,
    Column("article_id", String(32), ForeignKey("kb_articles.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("snapshot", JSON, nullable=False),  # every content field and the status
    Column("action", String(32), nullable=False),  # created | edited | published | ... | restored
    Column("note", Text),
    Column("author_id", String(32)),
    Column("created_at", Float, nullable=False),
)

kb_favourites = Table(
    "kb_favourites", metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("article_id", String(32), ForeignKey("kb_articles.id", ondelete="CASCADE"),
           primary_key=True),
    Column("created_at", Float, nullable=False),
)

# viewed / suggested / inserted / bot_answered: one row each (hot documents, "used in a
# conversation" counts).
kb_usage = Table(
    "kb_usage", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(32), ForeignKey("kb_articles.id", ondelete="CASCADE"),
           nullable=False),
    Column("kind", String(16), nullable=False),
    Column("user_id", String(32)),
    Column("conversation_id", String(32)),
    Column("at", Float, nullable=False),
    Index("ix_kb_usage_at", "at", "article_id"),
    Index("ix_kb_usage_article", "article_id", "kind"),
)

kb_feedback = Table(
    "kb_feedback", metadata,
    Column("id", String(32), primary_key=True),
    Column("article_id", String(32), ForeignKey("kb_articles.id", ondelete="CASCADE"),
           nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text),
    Column("user_id", String(32)),
    Column("conversation_id", String(32)),
    Column("at", Float, nullable=False),
    Index("ix_kb_feedback_article", "article_id", "at"),
)

# Questions the bot (or an agent's search) could not answer, grouped by a normalised key.
kb_gaps = Table(
    "kb_gaps", metadata,
    Column("id", String(32), primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("question", Text, nullable=False),  # the latest wording
    Column("count", Integer, nullable=False),
    Column("channels", JSON, nullable=False),  # {channel: count}
    Column("conversation_ids", JSON, nullable=False),  # the latest few
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved | dismissed
    Column("article_id", String(32), ForeignKey("kb_articles.id", ondelete="SET NULL")),
    Column("resolved_by", String(32)),
    Column("resolved_at", Float),
    Index("ix_kb_gaps_status", "status", "count"),
)

# Import jobs: polled by the UI for progress; per-row errors kept with the job.
kb_jobs = Table(
    "kb_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # import
    Column("format", String(16), nullable=False),  # csv | json | markdown
    Column("filename", String(255)),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("total", Integer, nullable=False),
    Column("processed", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("errors", JSON, nullable=False),
    Column("detail", Text),
    Column("user_id", String(32)),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float),
)
