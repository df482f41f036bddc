"""Where a session was opened (IP address and user agent), so that a user or an administrator who
lists sessions can tell them apart (issue #16)."""

import sqlalchemy as sa
from alembic import op

revision = "0010_session_details"
down_revision = "0009_event_consumers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("ip", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("user_agent")
        batch.drop_column("ip")
