"""Redis goes down under two hub processes, then comes back (docs/SCALING.md, "Failure behaviour").

What the document promises, checked on real processes, a real PostgreSQL and a real redis-server
of the test's own (killed and started again on the same port):
- REST keeps working on both processes;
- the leader keeps routing what it receives itself: a chat opened on it is offered to a ready agent;
- a routing command from the other process fails with ``503 routing_unavailable`` within the
  commands' bound (8 s), instead of hanging;
- once Redis is back, the other process's routing commands work again by themselves, and its
  copy of the ACD's view catches up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.multiprocess.conftest import cluster_stats, hub_env
from tests.support.hub import ApiClient, HubProcess
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer, redis_bin
from tests.support.wait import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis() -> Any:
    if redis_bin() is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def kill(redis: RedisServer) -> None:
    assert redis.proc is not None
    redis.proc.kill()
    redis.proc.wait(timeout=10)


async def test_redis_down_keeps_rest_and_the_leaders_routing_and_everything_resumes(
        tmp_path: Path, postgres: PostgresServer, own_redis: RedisServer) -> None:
    url = postgres.new_database()
    a = HubProcess(tmp_path / "a", url, env=hub_env(own_redis))
    b = HubProcess(tmp_path / "b", url, env=hub_env(own_redis))
    clients: list[ApiClient] = []

    async def login(hub: HubProcess, username: str | None = None) -> ApiClient:
        client = ApiClient(hub.base_url)
        if username is not None:
            await client.login(username)
        clients.append(client)
        return client

    try:
        a.start()
        b.start()
        assert (await cluster_stats(a))["cluster"]["leader"] is True  # type: ignore[index]
        agent1_a = await login(a, "agent1")
        agent2_b = await login(b, "agent2")
        sup_b = await login(b, "supervisor")
        sup_a = await login(a, "supervisor")
        await agent1_a.ok("POST", "/api/agent/state", {"state": "ready"})
        await agent2_b.ok("POST", "/api/agent/state", {"state": "not_ready"})  # B → A: works

        kill(own_redis)
        # REST on both processes
        assert (await sup_b.get("/api/conversations?view=all")).status_code == 200
        assert (await agent1_a.get("/api/agent/state")).status_code == 200
        # the leader routes a chat opened on it to its ready agent
        customer = await login(a)
        session = await customer.ok("POST", "/api/widget/sessions",
                                    {"name": "Zhang Wei", "email": "zhang.wei@example.com",
                                     "message": "my meter shows E4"}, status=201)
        cid = session["conversation_id"]
        offered = await eventually(lambda: sup_a.ok("GET", f"/api/conversations/{cid}"), within=10,
                                   until=lambda c: c["status"] == "offered")
        assert offered["status"] == "offered"
        await agent1_a.ok("POST", f"/api/conversations/{cid}/accept")
        # a routing command from B: a clear 503 within the commands' bound, not a hang
        started = time.monotonic()
        r = await agent2_b.post("/api/agent/state", {"state": "ready"})
        took = time.monotonic() - started
        assert r.status_code == 503 and r.json()["code"] == "routing_unavailable", r.text
        assert took < 12, f"the command took {took:.1f} s to fail"

        own_redis.start()  # the same port again
        back = time.monotonic()
        # B's commands work again by themselves, and its view of the ACD catches up
        state = await eventually(lambda: agent2_b.post("/api/agent/state", {"state": "ready"}), within=30,
                                 until=lambda resp: resp.status_code == 200)
        assert state.json()["state"] == "ready"
        print(f"\nRedis down: B's routing command failed after {took:.2f} s; after Redis was back, "
              f"B's next command succeeded {time.monotonic() - back:.2f} s later")
        await eventually(lambda: agent2_b.ok("GET", "/api/agent/state"), within=15,
                         until=lambda s: s["state"] == "ready")
        conv = await sup_b.ok("GET", f"/api/conversations/{cid}")
        assert conv["status"] == "assigned" and conv["assignee_id"] == agent1_a.user["id"]  # type: ignore[index]
    finally:
        for client in clients:
            await client.http.aclose()
        for h in (a, b):
            if h.proc is not None:
                h.kill()

