"""Fixtures for the scheduler tests: a migrated database (SQLite file or PostgreSQL) that tests
can open several times, as separate server processes would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hub.db.engine import make_engine, migrate
from hub.db.uow import Database
from hub.events import EventBus

OpenDb = Callable[[], Awaitable[Database]]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def db_url(tmp_path: Path, database_url: str) -> str:
    return database_url or sqlite_url(tmp_path / "timers.db")


@pytest.fixture
async def open_db(db_url: str) -> AsyncIterator[OpenDb]:
    """Opens a new engine (and event bus) on the test database each call, like another process."""
    engines = []

    async def opener() -> Database:
        engine = make_engine(db_url)
        if not engines:
            await migrate(engine)
        engines.append(engine)
        return Database(engine, EventBus())

    yield opener
    for engine in engines:
        await engine.dispose()


@pytest.fixture
async def db(open_db: OpenDb) -> Database:
    return await open_db()
