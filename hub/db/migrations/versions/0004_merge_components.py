"""Join the component branches (timers, workflows, kb, ivr, voice, sms, fax) into one head.

Each component added its tables on its own branch from 0002 while they were built in parallel;
from here on there is a single line of migrations again."""

revision = "0004"
down_revision = ("0003_timers", "0003_workflows", "0003_kb", "0003_ivr", "0003_voice", "0003_sms",
                 "0003_fax")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
