"""workflows: a rule's callback row links the voice callback task it opened (callbacks.task_conversation_id)

Revision ID: 0007_callback_task
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_callback_task"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callbacks", sa.Column("task_conversation_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("task_conversation_id")
