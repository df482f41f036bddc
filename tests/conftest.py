"""Shared fixtures. ``hub`` is the real hub on a loopback port, on a copy of a migrated SQLite
template database (tests/support/databases.py).

Which database: a test that takes ``database_url`` (directly or through a fixture such as ``hub``)
runs on SQLite; a test marked ``storage`` (about storage semantics: the unit of work, the
scheduler, restarts and kills, restore, migrations, concurrency, durability) runs on SQLite and
on PostgreSQL (``[sqlite]`` / ``[postgres]`` in its id). Mark a module with
``pytestmark = pytest.mark.storage`` or a single test with ``@pytest.mark.storage``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.support.postgres import PostgresServer, pg_bin
from tests.support.redis import RedisServer, redis_bin

BOTH_DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        storage = metafunc.definition.get_closest_marker("storage") is not None
        metafunc.parametrize("database_url", BOTH_DATABASES if storage else ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI (make test installs it)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """"" (the hub's SQLite file in its data dir) or a new PostgreSQL database (tests marked
    ``storage``): see the module docstring."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
async def hub(tmp_path, database_url: str) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path / "data", database_url) as h:
        yield h


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private ``redis-server`` for the session (several hub processes: tests/multiprocess)."""
    if redis_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required in CI (make test installs it)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()
