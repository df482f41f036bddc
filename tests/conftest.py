"""Shared fixtures. ``hub`` is parametrised over SQLite and PostgreSQL: every API test runs on
both databases against a real hub on a loopback port."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.support.postgres import PostgresServer, pg_bin


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI (make test installs it)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
async def hub(tmp_path, database_url: str) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path / "data", database_url) as h:
        yield h
