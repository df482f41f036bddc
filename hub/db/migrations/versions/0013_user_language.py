"""The language of a user's web UI (zh-CN, en; null: the browser's), chosen in the top bar and kept
in the profile (issue #17)."""

import sqlalchemy as sa
from alembic import op

revision = "0013_user_language"
down_revision = "0012_contact_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
