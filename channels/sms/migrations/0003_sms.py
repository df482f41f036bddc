"""sms channel: sms_messages (inbound store, outbound queue, delivery state), bulk jobs,
opt-outs, keywords

Revision ID: 0003_sms
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_sms"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_bulk_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_sms_bulk_jobs_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_bulk_jobs")),
    )
    op.create_index("ix_sms_bulk_jobs_status", "sms_bulk_jobs", ["status", "scheduled_at"])
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("our_number", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("bulk_job_id", sa.String(length=32), nullable=True),
        sa.Column("keyword", sa.String(length=32), nullable=True),
        sa.Column("dedupe_key", sa.String(length=128), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=True),
        sa.Column("gateway_ref", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_sms_messages_conversation_id_conversations"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_sms_messages_message_id_messages"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["bulk_job_id"], ["sms_bulk_jobs.id"],
                                name=op.f("fk_sms_messages_bulk_job_id_sms_bulk_jobs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_sms_messages_dedupe_key")),
    )
    op.create_index("ix_sms_messages_queue", "sms_messages", ["status", "priority", "next_attempt_at"])
    op.create_index("ix_sms_messages_phone", "sms_messages", ["phone", "created_at"])
    op.create_index("ix_sms_messages_conversation", "sms_messages", ["conversation_id", "created_at"])
    op.create_index("ix_sms_messages_message", "sms_messages", ["message_id"])
    op.create_index("ix_sms_messages_bulk", "sms_messages", ["bulk_job_id", "status"])
    op.create_table(
        "sms_optouts",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_optouts")),
    )
    op.create_table(
        "sms_keywords",
        sa.Column("keyword", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("fallback", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("keyword", name=op.f("pk_sms_keywords")),
    )


def downgrade() -> None:
    op.drop_table("sms_keywords")
    op.drop_table("sms_optouts")
    for ix in ("bulk", "message", "conversation", "phone", "queue"):
        op.drop_index(f"ix_sms_messages_{ix}", table_name="sms_messages")
    op.drop_table("sms_messages")
    op.drop_index("ix_sms_bulk_jobs_status", table_name="sms_bulk_jobs")
    op.drop_table("sms_bulk_jobs")
