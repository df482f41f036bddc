"""Two ``server.py`` processes on one PostgreSQL database and one Redis (#14, several processes).

``pair``: hub A started first (so it takes the ACD leader lock), then hub B; both with the KB off
to start fast. Killed in the fixture's finally."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hub import HubProcess
from tests.support.postgres import PostgresServer
from tests.support.proxy import Proxy, have_haproxy
from tests.support.redis import RedisServer


def hub_env(redis: RedisServer) -> dict[str, str]:
    return {"HUB_REDIS_URL": redis.url, "HUB_KB_ENABLED": "false", "HUB_WALLBOARD_INTERVAL_S": "0.1"}


async def cluster_stats(hub: HubProcess) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=5) as http:
        r = await http.get("/api/health")
        return dict(r.json())


@pytest.fixture
async def pair(tmp_path: Path, postgres: PostgresServer,
               redis_server: RedisServer) -> AsyncIterator[tuple[HubProcess, HubProcess]]:
    redis_server.flush()
    url = postgres.new_database()
    a = HubProcess(tmp_path / "a", url, env=hub_env(redis_server))
    b = HubProcess(tmp_path / "b", url, env=hub_env(redis_server))
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        yield a, b
    finally:
        for h in (a, b):
            if h.proc is not None:
                h.kill()


@pytest.fixture
def proxy(tmp_path: Path, pair: tuple[HubProcess, HubProcess]) -> Iterator[Proxy]:
    if not have_haproxy():
        if os.environ.get("CI"):
            pytest.fail("haproxy is required in CI (make test installs it)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    p = Proxy(*pair, log=tmp_path / "haproxy.log")
    try:
        yield p.start()
    finally:
        p.stop()
