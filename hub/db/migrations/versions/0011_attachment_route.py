"""Attachments served only by their own route (issue #16): ``attachments.route`` is the path a
restricted attachment is downloaded from, with that route's permission check and audit (a call
recording: ``/api/voice/recordings/{id}/audio``); NULL is an ordinary attachment, served by
``GET /api/attachments/{id}``. The recordings stored before get their route here (the voice
component's ``voice_recordings`` table is created by an earlier revision of the one history)."""

import sqlalchemy as sa
from alembic import op

revision = "0011_attachment_route"
down_revision = "0010_session_details"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("route", sa.String(200), nullable=True))
    op.execute(
        "UPDATE attachments SET route = (SELECT '/api/voice/recordings/' || r.id || '/audio' "
        "FROM voice_recordings r WHERE r.attachment_id = attachments.id) "
        "WHERE id IN (SELECT attachment_id FROM voice_recordings WHERE attachment_id IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("route")
