"""A SIGKILL loses nothing (acceptance 5): queued and active chats, agent sessions and states,
and every acknowledged message are there after a restart, and routing carries on."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.hub import ApiClient, HubProcess
from tests.support.sockets import Recorder

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)


async def test_hub_killed_mid_conversation_restarts_with_everything(tmp_path, database_url):
    server = await asyncio.to_thread(HubProcess(tmp_path / "data", database_url).start)
    port = server.port
    agent = await ApiClient(server.base_url).login("agent1")
    try:
        desk = await Recorder("/desk").connect(server.base_url, cookie=agent.cookie_header)
        await agent.ok("POST", "/api/agent/state", {"state": "ready"})
        anon = ApiClient(server.base_url)
        a = await anon.ok("POST", "/api/widget/sessions", {"name": "Zhang Wei", "email": "zhang.wei@example.com",
                                                           "message": "gas smell in kitchen"}, status=201)
        await desk.wait("offer", lambda d: d["conversation"]["id"] == a["conversation_id"])
        await agent.ok("POST", f"/api/conversations/{a['conversation_id']}/accept")
        widget = await Recorder("/widget").connect(server.base_url, auth={"token": a["token"]})
        acked = []
        for i in range(5):
            ack = await widget.call("message", {"body": f"detail {i}", "client_id": f"k{i}"})
            assert ack["ok"]
            acked.append(ack["message"]["id"])
        await agent.ok("POST", "/api/agent/state", {"state": "not_ready", "reason": "meeting"})
        b = await anon.ok("POST", "/api/widget/sessions", {"name": "Li Na", "email": "li.na@example.com",
                                                           "message": "bill question"}, status=201)
        await widget.close()
        await desk.close()
        await anon.close()

        server.kill()  # SIGKILL: no shutdown code runs
        server = await asyncio.to_thread(HubProcess(tmp_path / "data", database_url, port=port).start)

        me = await agent.ok("GET", "/api/me")  # the old session cookie still works
        assert me["agent"]["state"] == "not_ready" and me["agent"]["reason"] == "meeting"
        assert me["agent"]["load"]["chat"] == 1
        conv_a = await agent.ok("GET", f"/api/conversations/{a['conversation_id']}")
        assert conv_a["status"] == "assigned" and conv_a["assignee_id"] == agent.user["id"]
        stored = [m["id"] for m in conv_a["messages"] if m["sender"] == "customer"]
        assert set(acked) <= set(stored)
        queued = await agent.ok("GET", "/api/conversations?view=queued")
        assert [c["id"] for c in queued["items"]] == [b["conversation_id"]]

        desk = await Recorder("/desk").connect(server.base_url, cookie=agent.cookie_header)
        await agent.ok("POST", "/api/agent/state", {"state": "ready"})
        await desk.wait("offer", lambda d: d["conversation"]["id"] == b["conversation_id"])
        widget = await Recorder("/widget").connect(server.base_url, auth={"token": a["token"]})
        ack = await widget.call("message", {"body": "still there?", "client_id": "after"})
        assert ack["ok"]
        got = await desk.wait("message", lambda d: d["id"] == ack["message"]["id"])
        assert got["body"] == "still there?"
        await widget.close()
        await desk.close()
    finally:
        await agent.close()
        server.kill()
