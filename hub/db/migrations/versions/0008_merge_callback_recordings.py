"""Join the workflow callback-task and recording-settings branches into one head again."""

revision = "0008"
down_revision = ("0007_callback_task", "0007_recording_settings")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
