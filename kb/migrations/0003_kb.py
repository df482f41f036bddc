"""knowledge base: articles, versions, favourites, usage, feedback, gaps, import jobs (kb/tables.py)

Revision ID: 0003_kb
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_kb"
down_revision = "0002"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("answer_html", sa.Text(), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=True),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        _fk("kb_articles", "owner_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    op.create_index("ix_kb_articles_status", "kb_articles", ["status", "updated_at"])
    op.create_index("ix_kb_articles_category", "kb_articles", ["category"])
    op.create_table(
        "kb_versions",
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("author_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        _fk("kb_versions", "article_id", "kb_articles", "CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "version", name=op.f("pk_kb_versions")),
    )
    op.create_table(
        "kb_favourites",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        _fk("kb_favourites", "user_id", "users", "CASCADE"),
        _fk("kb_favourites", "article_id", "kb_articles", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "article_id", name=op.f("pk_kb_favourites")),
    )
    op.create_table(
        "kb_usage",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        _fk("kb_usage", "article_id", "kb_articles", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_usage")),
    )
    op.create_index("ix_kb_usage_at", "kb_usage", ["at", "article_id"])
    op.create_index("ix_kb_usage_article", "kb_usage", ["article_id", "kind"])
    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        _fk("kb_feedback", "article_id", "kb_articles", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_feedback")),
    )
    op.create_index("ix_kb_feedback_article", "kb_feedback", ["article_id", "at"])
    op.create_table(
        "kb_gaps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("conversation_ids", sa.JSON(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        _fk("kb_gaps", "article_id", "kb_articles", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_gaps")),
        sa.UniqueConstraint("key", name=op.f("uq_kb_gaps_key")),
    )
    op.create_index("ix_kb_gaps_status", "kb_gaps", ["status", "count"])
    op.create_table(
        "kb_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_jobs")),
    )


def downgrade() -> None:
    op.drop_table("kb_jobs")
    op.drop_index("ix_kb_gaps_status", table_name="kb_gaps")
    op.drop_table("kb_gaps")
    op.drop_index("ix_kb_feedback_article", table_name="kb_feedback")
    op.drop_table("kb_feedback")
    op.drop_index("ix_kb_usage_article", table_name="kb_usage")
    op.drop_index("ix_kb_usage_at", table_name="kb_usage")
    op.drop_table("kb_usage")
    op.drop_table("kb_favourites")
    op.drop_table("kb_versions")
    op.drop_index("ix_kb_articles_category", table_name="kb_articles")
    op.drop_index("ix_kb_articles_status", table_name="kb_articles")
    op.drop_table("kb_articles")
