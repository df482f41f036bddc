"""voice: whether each answered call was transcribed (not when the transcription streams were full)

Revision ID: 0016_transcript_status
Revises: 0016_notification_codes
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_transcript_status"
down_revision = "0016_notification_codes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_call_transcription",
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_voice_call_transcription_conversation_id_conversations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_voice_call_transcription")),
    )
    with op.batch_alter_table("voice_call_transcription", schema=None) as batch_op:
        batch_op.create_index("ix_voice_call_transcription_conversation", ["conversation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("voice_call_transcription", schema=None) as batch_op:
        batch_op.drop_index("ix_voice_call_transcription_conversation")
    op.drop_table("voice_call_transcription")
