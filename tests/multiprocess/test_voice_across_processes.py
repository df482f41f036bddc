"""Voice on a process that is not the ACD leader (#14 scope 3: "voice runs on the processes where it
is enabled and routes through the same commands").

Hub A (started first: the ACD leader) has no voice; hub B runs voice. A real sipp caller calls B's
trunk port, agent1's real baresip desk phone is registered with B, and agent1 goes ready through
A. The call is queued by B through a routing command to A's ACD; A's offer reaches B as an event
(the fan-out), B rings the desk phone, the phone answers and the two are bridged; both processes
then see one conversation, offered once, handled by agent1 and closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db import tables as t
from tests.multiprocess.conftest import cluster_stats, hub_env
from tests.support.hub import ApiClient, HubProcess
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from tests.support.wait import eventually
from tests.voice.calls.support import Baresip, Sipp, free_tcp_port, free_udp_port

pytestmark = pytest.mark.slow
PHONE_PASSWORD = "desk-phone-secret-1"


def voice_env(redis: RedisServer, sip_udp: int, sip_tcp: int) -> dict[str, str]:
    return {**hub_env(redis), "HUB_VOICE_ENABLED": "true", "HUB_VOICE_SIP_UDP_PORT": str(sip_udp),
            "HUB_VOICE_SIP_TCP_PORT": str(sip_tcp), "HUB_VOICE_RTP_PORT_MIN": "0",
            "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
            "HUB_VOICE_ROUTES": "5000=general", "HUB_VOICE_WEBRTC_ENABLED": "false"}


async def test_a_call_on_the_voice_process_is_routed_by_the_leader_and_answered(
        tmp_path: Path, postgres: PostgresServer, redis_server: RedisServer) -> None:
    redis_server.flush()
    url = postgres.new_database()
    sip = free_udp_port()
    a = HubProcess(tmp_path / "a", url, env=hub_env(redis_server))
    b = HubProcess(tmp_path / "b", url, env=voice_env(redis_server, sip, free_tcp_port()))
    phone: Baresip | None = None
    sipp: Sipp | None = None
    clients: list[ApiClient] = []

    async def login(hub: HubProcess, username: str) -> ApiClient:
        client = await ApiClient(hub.base_url).login(username)
        clients.append(client)
        return client
    try:
        a.start()
        b.start()
        assert (await cluster_stats(a))["cluster"]["leader"] is True  # type: ignore[index]
        assert (await cluster_stats(b))["cluster"]["leader"] is False  # type: ignore[index]
        admin_b = await login(b, "admin")
        agent_a = await login(a, "agent1")
        assert agent_a.user is not None
        await admin_b.ok("PUT", "/api/voice/sip-accounts/agent1",
                         {"password": PHONE_PASSWORD, "user_id": agent_a.user["id"]})
        phone = Baresip(tmp_path / "phone", answermode="auto",
                        account=f"<sip:agent1@127.0.0.1:{sip}>;auth_pass={PHONE_PASSWORD};regint=600")
        await phone.start()
        sup_b = await login(b, "supervisor")
        regs = await eventually(lambda: sup_b.ok("GET", "/api/voice/registrations"), within=15,
                                until=lambda r: r["registrations"])
        assert [r["username"] for r in regs["registrations"]] == ["agent1"]
        await agent_a.ok("POST", "/api/agent/state", {"state": "ready"})  # on the leader itself

        sipp = Sipp(tmp_path / "sipp", "caller_talks.xml", f"127.0.0.1:{sip}", extra=["-s", "5000"])
        await sipp.start()
        established = await phone.wait_event("CALL_ESTABLISHED", timeout=20)
        assert "+4930123456" in established.get("peeruri", ""), established
        assert await sipp.wait(40) == 0, sipp.log()
        await phone.wait_event("CALL_CLOSED", timeout=10)

        sup_a = await login(a, "supervisor")

        async def closed_voice_conversations(client: ApiClient) -> list[dict[str, object]]:
            convs = await client.ok("GET", "/api/conversations?view=all&channel=voice")
            items = convs["items"] if isinstance(convs, dict) else convs
            return [c for c in items if c["status"] == "closed"]

        for client in (sup_a, sup_b):  # one conversation, the same on both processes
            items = await eventually(lambda c=client: closed_voice_conversations(c), within=15)
            assert len(items) == 1 and items[0]["assignee_id"] in (None, agent_a.user["id"]), items
        cid = items[0]["id"]
        calls = await sup_b.ok("GET", "/api/voice/calls")
        records = [r for r in calls["records"] if r["conversation_id"] == cid]
        assert len(records) == 1, calls["records"]
        assert records[0]["agent_id"] == agent_a.user["id"] and records[0]["connected_at"]
        assert records[0]["end_reason"] == "caller_hangup"
        # offered once, to agent1, by the one ACD; assigned once
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(t.events.c.type, t.events.c.user_id).where(
                    t.events.c.conversation_id == cid,
                    t.events.c.type.in_(["conversation.offered", "conversation.assigned"])))).all()
        finally:
            await engine.dispose()
        assert sorted(rows) == [("conversation.assigned", agent_a.user["id"]),
                                ("conversation.offered", agent_a.user["id"])], rows
    finally:
        if sipp is not None:
            await sipp.stop()
        if phone is not None:
            await phone.stop()
        for client in clients:
            await client.http.aclose()
        for h in (a, b):
            if h.proc is not None:
                h.kill()
