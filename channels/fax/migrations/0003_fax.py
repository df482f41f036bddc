"""fax channel: fax_documents (the central fax store), fax_pages (images + OCR text), outbound
fax_jobs and fax_bulk, the fax-on-demand fax_library

Revision ID: 0003_fax
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_fax"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fax_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_number", sa.String(length=64), nullable=True),
        sa.Column("to_number", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("original_type", sa.String(length=64), nullable=False),
        sa.Column("original_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fax_tiff", sa.String(length=255), nullable=True),
        sa.Column("ocr_status", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_fax_documents_conversation_id_conversations"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_fax_documents_message_id_messages"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_documents")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_fax_documents_provider_id")),
    )
    op.create_index("ix_fax_documents_created", "fax_documents", ["created_at"])
    op.create_index("ix_fax_documents_from", "fax_documents", ["from_number", "created_at"])
    op.create_index("ix_fax_documents_to", "fax_documents", ["to_number", "created_at"])
    op.create_index("ix_fax_documents_conversation", "fax_documents", ["conversation_id"])
    op.create_index("ix_fax_documents_status", "fax_documents", ["status"])
    op.create_table(
        "fax_pages",
        sa.Column("fax_id", sa.String(length=32), nullable=False),
        sa.Column("page_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("ocr_text", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["fax_id"], ["fax_documents.id"],
                                name=op.f("fk_fax_pages_fax_id_fax_documents"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("fax_id", "page_no", name=op.f("pk_fax_pages")),
    )
    op.create_table(
        "fax_bulk",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["fax_documents.id"],
                                name=op.f("fk_fax_bulk_document_id_fax_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_fax_bulk_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_bulk")),
    )
    op.create_table(
        "fax_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("bulk_id", sa.String(length=32), nullable=True),
        sa.Column("to_number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("gateway_ref", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["fax_documents.id"],
                                name=op.f("fk_fax_jobs_document_id_fax_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["bulk_id"], ["fax_bulk.id"],
                                name=op.f("fk_fax_jobs_bulk_id_fax_bulk"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_fax_jobs_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_jobs")),
    )
    op.create_index("ix_fax_jobs_queue", "fax_jobs", ["status", "next_attempt_at"])
    op.create_index("ix_fax_jobs_bulk", "fax_jobs", ["bulk_id", "status"])
    op.create_table(
        "fax_library",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["fax_documents.id"],
                                name=op.f("fk_fax_library_document_id_fax_documents"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_library")),
        sa.UniqueConstraint("code", name=op.f("uq_fax_library_code")),
    )


def downgrade() -> None:
    op.drop_table("fax_library")
    op.drop_index("ix_fax_jobs_bulk", table_name="fax_jobs")
    op.drop_index("ix_fax_jobs_queue", table_name="fax_jobs")
    op.drop_table("fax_jobs")
    op.drop_table("fax_bulk")
    op.drop_table("fax_pages")
    for ix in ("status", "conversation", "to", "from", "created"):
        op.drop_index(f"ix_fax_documents_{ix}", table_name="fax_documents")
    op.drop_table("fax_documents")
