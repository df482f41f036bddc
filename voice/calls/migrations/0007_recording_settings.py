"""voice: per-queue recording choice (voice_queue_settings)

Revision ID: 0007_recording_settings
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_recording_settings"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_queue_settings",
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.Column("record", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["queue_id"], ["queues.id"],
                                name=op.f("fk_voice_queue_settings_queue_id_queues"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", name=op.f("pk_voice_queue_settings")),
    )


def downgrade() -> None:
    op.drop_table("voice_queue_settings")
