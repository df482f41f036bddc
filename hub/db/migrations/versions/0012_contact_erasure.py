"""Erased contacts (issue #16, item 13): ``contacts.erased_at`` marks the tombstone an erasure
leaves (no personal data; conversations still point to it, so reports count the same)."""

import sqlalchemy as sa
from alembic import op

revision = "0012_contact_erasure"
down_revision = "0011_attachment_route"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("erased_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("erased_at")
