"""Two hub processes serve one centre (#14 scope 3), behind deploy/haproxy.cfg: a customer on
process A talks to an agent on process B; routing commands from B reach the ACD leader A; the
wallboard is live on either. Every client goes through the proxy, pinned to a process by its
``HUBSRV`` cookie (as a browser is after its first response)."""

from __future__ import annotations

import asyncio

from tests.multiprocess.conftest import cluster_stats
from tests.support.hub import ApiClient, HubProcess
from tests.support.proxy import Proxy
from tests.support.sockets import Recorder


def pinned(proxy: Proxy, server: str) -> ApiClient:
    """A client of the proxy that reaches ``server`` (hub1: process A, hub2: process B)."""
    c = ApiClient(proxy.base_url)
    c.http.cookies.set("HUBSRV", server, domain="127.0.0.1")
    return c


async def leader_flag(c: ApiClient) -> bool:
    return bool((await c.ok("GET", "/api/health"))["cluster"]["leader"])


async def test_customer_on_a_talks_to_agent_on_b(pair: tuple[HubProcess, HubProcess],
                                                 proxy: Proxy) -> None:
    a, b = pair
    assert (await cluster_stats(a))["cluster"]["leader"] is True  # type: ignore[index]
    assert (await cluster_stats(b))["cluster"]["leader"] is False  # type: ignore[index]
    agent = await pinned(proxy, "hub2").login("agent1")
    sup_a = await pinned(proxy, "hub1").login("supervisor")
    sup_b = await pinned(proxy, "hub2").login("supervisor")
    customer = pinned(proxy, "hub1")
    assert await leader_flag(customer) and not await leader_flag(agent)  # pinned as meant
    opened: list[Recorder] = []
    try:
        desk = await Recorder("/desk").connect(proxy.base_url, cookie=agent.cookie_header)
        opened.append(desk)
        board_a = await Recorder("/desk").connect(proxy.base_url, cookie=sup_a.cookie_header)
        opened.append(board_a)
        # a refusal of the ACD on A comes back to B's caller as the same error
        r = await agent.post("/api/agent/state", {"state": "not_ready", "reason": "nap"})
        assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
        assert "unknown reason code 'nap'" in r.json()["detail"]
        state = await agent.ok("POST", "/api/agent/state", {"state": "ready"})  # forwarded to A
        assert state["state"] == "ready"
        await desk.wait("agent_state", lambda d: d["state"] == "ready", timeout=10)

        # the widget on A (its REST and its socket), the chat offered to the agent on B
        session = await customer.ok("POST", "/api/widget/sessions",
                                     {"name": "Zhang Wei", "email": "zhang.wei@example.com",
                                      "message": "my meter shows E4"}, status=201)
        cid = session["conversation_id"]
        widget = await Recorder("/widget").connect(proxy.base_url, cookie="HUBSRV=hub1",
                                                   auth={"token": session["token"]})
        opened.append(widget)
        await desk.wait("offer", lambda d: d["conversation"]["id"] == cid, timeout=10)
        await agent.ok("POST", f"/api/conversations/{cid}/accept")  # B's REST → the leader
        await desk.wait("conversation", lambda d: d["id"] == cid and d["status"] == "assigned",
                        timeout=10)
        conv = await agent.ok("GET", f"/api/conversations/{cid}")
        assert conv["status"] == "assigned" and conv["assignee_id"] == agent.user["id"]  # type: ignore[index]

        # messages both ways, live: customer on A → agent on B, agent on B → customer on A
        ack = await widget.call("message", {"body": "it blinks twice", "client_id": "m1"})
        assert ack["ok"], ack
        got = await desk.wait("message", lambda d: d["id"] == ack["message"]["id"], timeout=10)
        assert got["body"] == "it blinks twice"
        sent = await agent.ok("POST", f"/api/conversations/{cid}/messages",
                              {"body": "please read me the code"}, status=201)
        heard = await widget.wait("message", lambda d: d.get("id") == sent["id"], timeout=10)
        assert heard["body"] == "please read me the code"

        # the wallboard on either process shows the agent busy with the chat
        def busy(snap: dict) -> bool:
            return any(x["id"] == agent.user["id"] and x["load"].get("chat") == 1  # type: ignore[index]
                       for x in snap["agents"])
        await board_a.wait("wallboard", busy, timeout=10)
        for sup in (sup_a, sup_b):
            for _ in range(50):
                if busy(await sup.ok("GET", "/api/wallboard")):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the wallboard on {sup.base_url} never showed the chat")

        # a transfer from B to another queue: the ACD on A routes it (offered to a Billing agent
        # on A, whose desk is on A)
        billing = next(q["id"] for q in await agent.ok("GET", "/api/queues")
                       if q["name"] == "Billing")
        agent2 = await pinned(proxy, "hub1").login("agent2")
        try:
            desk2 = await Recorder("/desk").connect(proxy.base_url, cookie=agent2.cookie_header)
            opened.append(desk2)
            await agent2.ok("POST", "/api/agent/state", {"state": "ready"})
            await agent.ok("POST", f"/api/conversations/{cid}/transfer", {"queue_id": billing})
            await desk2.wait("offer", lambda d: d["conversation"]["id"] == cid, timeout=10)
            await agent2.ok("POST", f"/api/conversations/{cid}/accept")
            conv = await agent2.ok("GET", f"/api/conversations/{cid}")
            assert conv["assignee_id"] == agent2.user["id"] and conv["queue_id"] == billing  # type: ignore[index]
            ack = await widget.call("message", {"body": "still there?", "client_id": "m2"})
            got = await desk2.wait("message", lambda d: d["id"] == ack["message"]["id"], timeout=10)
            assert got["body"] == "still there?"
        finally:
            await agent2.close()
    finally:
        for r in opened:
            await r.close()
        for c in (agent, sup_a, sup_b, customer):
            await c.close()


async def test_rules_run_once_in_the_leader_for_events_of_either_process(
        pair: tuple[HubProcess, HubProcess]) -> None:
    """Durable consumers (here the automation rules) run in the leader only, for events committed
    by any process, each event once."""
    import asyncpg

    a, b = pair
    admin = await ApiClient(b.base_url).login("admin")
    sup = await ApiClient(a.base_url).login("supervisor")
    try:
        queues = await admin.ok("GET", "/api/queues")
        billing = next(q["id"] for q in queues if q["name"] == "Billing")
        await admin.ok("POST", "/api/rules", {
            "name": "Chats to billing", "event": "conversation.created",
            "conditions": {"all": [{"field": "event.channel", "op": "eq", "value": "chat"}]},
            "actions": [{"type": "assign", "queue_id": billing},
                        {"type": "set_priority", "priority": "high"}]}, status=201)
        await asyncio.sleep(0.5)
        ids = []
        for n, hub in enumerate((b, a, b)):  # opened on the follower and on the leader
            c = ApiClient(hub.base_url)
            try:
                s = await c.ok("POST", "/api/widget/sessions",
                               {"name": f"Customer {n}", "message": f"invoice {n}"}, status=201)
            finally:
                await c.close()
            ids.append(s["conversation_id"])
        for cid in ids:
            for _ in range(150):
                conv = await sup.ok("GET", f"/api/conversations/{cid}")
                if conv["queue_id"] == billing and conv["priority"] == 5:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"the rule never moved {cid}: {conv}")
        conn = await asyncio.wait_for(asyncpg.connect(
            a.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)), 10)
        try:
            await asyncio.sleep(1.0)  # a second firing would have happened by now
            rows = await conn.fetch("SELECT conversation_id, count(*) AS n FROM events WHERE "
                                    "type = 'rule.fired' AND conversation_id = ANY($1) "
                                    "GROUP BY conversation_id", ids)
        finally:
            await conn.close()
        assert {r["conversation_id"]: int(r["n"]) for r in rows} == dict.fromkeys(ids, 1)
    finally:
        await admin.close()
        await sup.close()
