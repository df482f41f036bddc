"""Shared fixtures. ``hub`` is the real hub on a loopback port, on a copy of a migrated SQLite
template database (tests/support/databases.py).

Which database: a test that takes ``database_url`` (directly or through a fixture such as ``hub``)
runs on SQLite; a test marked ``storage`` (about storage semantics: the unit of work, the
scheduler, restarts and kills, restore, migrations, concurrency, durability) runs on SQLite and
on PostgreSQL (``[sqlite]`` / ``[postgres]`` in its id). Mark a module with
``pytestmark = pytest.mark.storage`` or a single test with ``@pytest.mark.storage``.

Workers: ``pytest`` with no paths (the whole suite, as ``make test`` runs it) spreads the tests over
``HUB_TEST_WORKERS`` (default 2) pytest-xdist worker processes (``--dist worksteal``); each has its
own PostgreSQL server, template databases, temp dirs and block of ports (tests/support/ports.py).
Paths, ``-n``, ``--pdb`` or ``HUB_TEST_WORKERS=0`` run in one process as before. Two workers on the
two cores: with three the suite took 14:20 instead of about 16 minutes, but the tests that time
what a person notices (a caller's words on the agent's screen within 1 s) missed their targets
on the starved CPU in one run of two."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.support.models import share_loaded_models
from tests.support.postgres import PostgresServer, pg_bin
from tests.support.redis import RedisServer, redis_bin

BOTH_DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite on ``HUB_TEST_WORKERS`` xdist workers (see the module docstring)."""
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if (not whole_suite or hasattr(config, "workerinput")
            or getattr(config.option, "numprocesses", "no xdist") is not None
            or config.getoption("usepdb") or config.getoption("collectonly")):
        return
    workers = int(os.environ.get("HUB_TEST_WORKERS") or 2)
    if workers > 1:
        config.option.numprocesses = workers
        if config.option.dist == "no":
            config.option.dist = "worksteal"


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


@pytest.fixture(autouse=True)
def _speech_models_loaded_once() -> None:
    """vosk and piper models are loaded once per test process (tests/support/models.py)."""
    share_loaded_models()
