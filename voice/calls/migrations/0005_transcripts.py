"""voice: live call transcripts (one row per final utterance of a call leg)

Revision ID: 0005_transcripts
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_transcripts"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_transcript_segments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("leg", sa.String(length=8), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_voice_transcript_segments_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_transcript_segments")),
    )
    with op.batch_alter_table("voice_transcript_segments", schema=None) as batch_op:
        batch_op.create_index("ix_voice_transcript_segments_conversation", ["conversation_id", "started_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voice_transcript_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_transcript_segments_conversation")
    op.drop_table("voice_transcript_segments")
