"""Durable event consumers: a checkpoint per consumer, idempotency keys for their effects, and the
cause (e.g. the rule chain) stored with each event so a replay keeps it."""

import sqlalchemy as sa
from alembic import op

revision = "0009_event_consumers"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("cause", sa.JSON(), nullable=True))
    op.create_table(
        "event_consumers",
        sa.Column("name", sa.String(96), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "event_effects",
        sa.Column("consumer", sa.String(96), primary_key=True),
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_effects")
    op.drop_table("event_consumers")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("cause")
