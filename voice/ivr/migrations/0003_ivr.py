"""IVR flows: ivr_flows (draft), ivr_flow_versions (published), ivr_prompts (audio), ivr_numbers

Revision ID: 0003_ivr
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_ivr"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_flows",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_flows")),
        sa.UniqueConstraint("name", name=op.f("uq_ivr_flows_name")),
    )
    op.create_table(
        "ivr_flow_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.Float(), nullable=False),
        sa.Column("published_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["flow_id"], ["ivr_flows.id"],
                                name=op.f("fk_ivr_flow_versions_flow_id_ivr_flows"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_flow_versions")),
        sa.UniqueConstraint("flow_id", "version", name="uq_ivr_flow_versions_flow_version"),
    )
    op.create_table(
        "ivr_prompts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["flow_id"], ["ivr_flows.id"],
                                name=op.f("fk_ivr_prompts_flow_id_ivr_flows"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_prompts")),
        sa.UniqueConstraint("flow_id", "name", name="uq_ivr_prompts_flow_name"),
    )
    op.create_table(
        "ivr_numbers",
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["ivr_flows.id"],
                                name=op.f("fk_ivr_numbers_flow_id_ivr_flows"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_ivr_numbers")),
    )


def downgrade() -> None:
    op.drop_table("ivr_numbers")
    op.drop_table("ivr_prompts")
    op.drop_table("ivr_flow_versions")
    op.drop_table("ivr_flows")
