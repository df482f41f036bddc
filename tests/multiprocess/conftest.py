"""Two ``server.py`` processes on one PostgreSQL database and one Redis (#14, several processes).

``pair``: hub A started first (so it takes the ACD leader lock), then hub B; both with the KB off
to start fast. Killed in the fixture's finally."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hub import REPO, HubProcess
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
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


class Proxy:
    """``haproxy -f deploy/haproxy.cfg`` on a free loopback port in front of hubs A and B
    (cookie ``HUBSRV=hub1`` pins a client to A, ``hub2`` to B)."""

    def __init__(self, a: HubProcess, b: HubProcess, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HUB_PROXY_BIND": f"127.0.0.1:{self.port}",
                    "HUB_BACKEND_1": f"127.0.0.1:{a.port}", "HUB_BACKEND_2": f"127.0.0.1:{b.port}"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proxy:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self._fh = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([binary, "-f", str(REPO / "deploy" / "haproxy.cfg"), "-db"],
                                     env=self.env, stdout=self._fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if hasattr(self, "_fh"):
            self._fh.close()


@pytest.fixture
def proxy(tmp_path: Path, pair: tuple[HubProcess, HubProcess]) -> Iterator[Proxy]:
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        if os.environ.get("CI"):
            pytest.fail("haproxy is required in CI (make test installs it)")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    p = Proxy(*pair, log=tmp_path / "haproxy.log")
    try:
        yield p.start()
    finally:
        p.stop()
