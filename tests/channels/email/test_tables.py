"""``email_messages`` is defined by the email channel (``channels/email/tables.py``) and still made
by the hub's migration ``0002_email``: the migrated table is exactly the definition."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from channels.email.tables import email_messages
from hub.db.tables import metadata
from tests.support.hub import InProcessHub


def _email_messages_diffs(conn: Connection) -> list[Any]:
    diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if "email_messages" in repr(d)]


async def test_migrated_email_messages_table_matches_the_channels_definition(hub: InProcessHub) -> None:
    assert email_messages.metadata is metadata
    async with hub.services.db.engine.connect() as conn:
        assert await conn.run_sync(_email_messages_diffs) == []
        indexes = await conn.run_sync(lambda c: {ix["name"]: ix["column_names"]
                                                 for ix in inspect(c).get_indexes("email_messages")})
    assert indexes == {"ix_email_messages_mid_hash": ["mid_hash"],
                       "ix_email_messages_conversation": ["conversation_id", "created_at"],
                       "ix_email_messages_status": ["direction", "status"]}
