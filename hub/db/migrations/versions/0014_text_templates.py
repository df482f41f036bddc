"""Customer-facing texts per language (issue #17): the language of each conversation and the
preferred language of a contact, and the administrators' versions of the shipped texts
(``text_templates``, hub/services/texts.py)."""

import sqlalchemy as sa
from alembic import op

revision = "0014_text_templates"
down_revision = "0013_user_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))
    op.create_table(
        "text_templates",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("key", "language", name="pk_text_templates"),
    )


def downgrade() -> None:
    op.drop_table("text_templates")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("language")
