"""voice: the per-leg history of a call record (voice_calls.segments) and its hold time (hold_s)

Revision ID: 0016_call_history
Revises: 0015_chat_identity
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_call_history"
down_revision = "0015_chat_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voice_calls") as batch:
        batch.add_column(sa.Column("hold_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("segments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voice_calls") as batch:
        batch.drop_column("segments")
        batch.drop_column("hold_s")
