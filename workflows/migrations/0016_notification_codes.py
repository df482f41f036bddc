"""workflows: a notification keeps a stable code and its parameters (notifications.code, .params),
which the web UI shows in the reader's language; the stored title/body stay as the English fallback

Revision ID: 0016_notification_codes
Revises: 0016_call_history
"""
import sqlalchemy as sa
from alembic import op

revision = "0016_notification_codes"
down_revision = "0016_call_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("code", sa.String(length=64), nullable=True))
    op.add_column("notifications", sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("params")
        batch.drop_column("code")
