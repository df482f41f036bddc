"""The 0003_timers migration creates exactly the ``timers`` table the scheduler's code defines."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from hub.db.scheduler_tables import timers
from hub.db.tables import metadata
from hub.db.uow import Database

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)


def _timers_diffs(conn) -> list:  # type: ignore[no-untyped-def,type-arg]
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    diffs = compare_metadata(ctx, metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if "timers" in repr(d)]


async def test_migrated_timers_table_matches_the_table_definition(db: Database) -> None:
    assert timers.metadata is metadata
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_timers_diffs) == []
        indexes = await conn.run_sync(lambda c: {ix["name"]: ix for ix in inspect(c).get_indexes("timers")})
    assert indexes["uq_timers_pending_key"]["unique"]
    assert indexes["ix_timers_status_due"]["column_names"] == ["status", "due_at"]
