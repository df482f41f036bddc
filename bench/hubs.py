"""The hub a bench measures: one ``python server.py`` on ``make run`` defaults (SQLite, no Redis), or
``processes`` = 2 hub processes on one PostgreSQL database and one Redis behind haproxy
(``deploy/haproxy.cfg``), as docs/SCALING.md runs a centre on several processes. PostgreSQL and
Redis are throw-away servers (tests/support: Debian's ``postgresql`` and ``redis-server``).

The figures of several processes are summed: CPU seconds and RSS of every process tree, the
on-CPU and runqueue time of every main thread."""

from __future__ import annotations

from pathlib import Path

from bench._common import cpu_seconds, rss_mb, schedstat
from tests.support.hub import HubProcess
from tests.support.postgres import PostgresServer, pg_bin
from tests.support.proxy import Proxy, have_haproxy
from tests.support.redis import RedisServer, redis_bin

MULTI_NEEDS = "--processes 2 needs PostgreSQL, redis-server and haproxy (make test installs them)"


class BenchHubs:
    def __init__(self, folder: Path, env: dict[str, str], processes: int = 1) -> None:
        if processes not in (1, 2):
            raise ValueError("processes must be 1 or 2 (deploy/haproxy.cfg names two backends)")
        if processes == 2 and not (pg_bin() and redis_bin() and have_haproxy()):
            raise RuntimeError(MULTI_NEEDS)
        self.folder = folder
        # the hub as `make run` serves it: no check of answers against their response models
        # (the test harness turns that on); the rate limits stay off as in the harness: every
        # simulated customer comes from 127.0.0.1, and the top load steps type faster than people
        self.env = {"HUB_API_CHECK_RESPONSES": "0", **env}
        self.processes = processes
        self.hubs: list[HubProcess] = []
        self._postgres: PostgresServer | None = None
        self._redis: RedisServer | None = None
        self._proxy: Proxy | None = None
        self.base_url = ""

    def start(self, timeout: float = 90) -> BenchHubs:
        if self.processes == 1:
            hub = HubProcess(self.folder / "data", env=self.env)
            self.hubs.append(hub)
            hub.start(timeout=timeout)
            self.base_url = hub.base_url
            return self
        self._postgres = PostgresServer().start()
        self._redis = RedisServer().start()
        url = self._postgres.new_database()
        env = {**self.env, "HUB_REDIS_URL": self._redis.url}
        for name in ("a", "b"):  # a first: it takes the ACD leader lock
            hub = HubProcess(self.folder / name, url, env=env)
            self.hubs.append(hub)
            hub.start(timeout=timeout)
        self._proxy = Proxy(self.hubs[0], self.hubs[1], log=self.folder / "haproxy.log").start()
        self.base_url = self._proxy.base_url
        return self

    @property
    def pids(self) -> list[int]:
        return [h.proc.pid for h in self.hubs if h.proc is not None]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def rss_mb(self, field: str = "VmRSS") -> float:
        return sum(rss_mb(pid, field) for pid in self.pids)

    def schedstat(self) -> tuple[float, float]:
        stats = [schedstat(pid) for pid in self.pids]
        return sum(s[0] for s in stats), sum(s[1] for s in stats)

    @property
    def logs(self) -> list[Path]:
        return [h.log for h in self.hubs]

    def stop(self, kill: bool = False) -> None:
        """Stop everything that was started, whatever failed before (a second call does nothing)."""
        proxy, redis, postgres = self._proxy, self._redis, self._postgres
        self._proxy = self._redis = self._postgres = None
        try:
            if proxy is not None:
                proxy.stop()
            for hub in self.hubs:
                if hub.proc is not None and hub.proc.poll() is None:
                    hub.kill() if kill else hub.stop()
        finally:
            if redis is not None:
                redis.stop()
            if postgres is not None:
                postgres.stop()
