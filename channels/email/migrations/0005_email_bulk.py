"""email channel: stored templates, bulk/scheduled jobs and their per-recipient state

Revision ID: 0005_email_bulk
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_email_bulk"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_email_templates_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_email_templates_name")),
    )
    op.create_table(
        "email_bulk_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rate_per_s", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("scheduled_at", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["email_templates.id"],
                                name=op.f("fk_email_bulk_jobs_template_id_email_templates"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_email_bulk_jobs_created_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_bulk_jobs")),
    )
    with op.batch_alter_table("email_bulk_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_email_bulk_jobs_status", ["status", "scheduled_at"], unique=False)
    op.create_table(
        "email_bulk_recipients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rfc_message_id", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["email_bulk_jobs.id"],
                                name=op.f("fk_email_bulk_recipients_job_id_email_bulk_jobs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"],
                                name=op.f("fk_email_bulk_recipients_contact_id_contacts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_bulk_recipients")),
    )
    with op.batch_alter_table("email_bulk_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_email_bulk_recipients_job", ["job_id", "status", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_bulk_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_email_bulk_recipients_job")
    op.drop_table("email_bulk_recipients")
    with op.batch_alter_table("email_bulk_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_email_bulk_jobs_status")
    op.drop_table("email_bulk_jobs")
    op.drop_table("email_templates")
