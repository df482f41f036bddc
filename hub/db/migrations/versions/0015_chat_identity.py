"""Pre-chat identity is a claim (issue #16, item 7): the contact a web chat customer claims to be,
kept apart from the conversation's contact until verified, and the one-time codes that verify it."""

import sqlalchemy as sa
from alembic import op

revision = "0015_chat_identity"
down_revision = "0014_text_templates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("claimed_contact_id", sa.String(32), nullable=True))
        batch.create_foreign_key("fk_conversations_claimed_contact_id_contacts", "contacts",
                                 ["claimed_contact_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_conversations_claimed_contact", ["claimed_contact_id"])
    op.create_table(
        "identity_codes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("conversation_id", sa.String(32), sa.ForeignKey(
            "conversations.id", ondelete="CASCADE",
            name="fk_identity_codes_conversation_id_conversations"), nullable=False),
        sa.Column("contact_id", sa.String(32), sa.ForeignKey(
            "contacts.id", ondelete="CASCADE", name="fk_identity_codes_contact_id_contacts"),
            nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("code_hash", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_identity_codes_conversation", "identity_codes", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_codes_conversation", table_name="identity_codes")
    op.drop_table("identity_codes")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_claimed_contact")
        batch.drop_constraint("fk_conversations_claimed_contact_id_contacts", type_="foreignkey")
        batch.drop_column("claimed_contact_id")
