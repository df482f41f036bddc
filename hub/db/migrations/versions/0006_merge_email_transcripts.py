"""Join the email bulk/templates and call transcript branches into one head again."""

revision = "0006"
down_revision = ("0005_email_bulk", "0005_transcripts")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
