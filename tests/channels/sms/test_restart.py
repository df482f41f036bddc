"""Queued outbound messages survive a restart: a reply queued while Kannel's sendsms is unreachable
is sent by the next run of the hub; inbound messages stored before routing are routed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.api.helpers import agent_desk
from tests.channels.sms.conftest import OUR_NUMBER, TOKEN, sms_settings
from tests.support.hub import InProcessHub
from tests.support.kannel import Kannel, have_kannel
from tests.support.postgres import free_port

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)

CUSTOMER = "+8613900139000"


async def accepted_conversation(hub: InProcessHub, kannel: Kannel, text: str) -> tuple[Any, Any, str]:
    """The customer texts in and agent1 accepts the conversation: (agent, desk, conversation id)."""
    agent, desk = await agent_desk(hub, "agent1")
    await asyncio.to_thread(kannel.inject, CUSTOMER, OUR_NUMBER, text)
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=15)
    cid = offer["conversation"]["id"]
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    return agent, desk, cid


async def outbound(client: Any, cid: str) -> list[dict[str, Any]]:
    """The outbound SMS of a conversation, as the desk shows them."""
    return [m for m in (await client.ok("GET", f"/api/sms/conversations/{cid}"))["messages"]
            if m["direction"] == "out"]


async def test_a_reply_queued_while_the_gateway_is_down_is_sent_after_a_restart(tmp_path, database_url):
    if not have_kannel():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    kannel = Kannel(tmp_path / "kannel", 0, TOKEN)
    down = sms_settings(kannel, sms_retry_base_s=60,
                        sms_kannel_sendsms_url=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    hub = InProcessHub(tmp_path / "data", database_url, **down)
    kannel.hub_port = hub.port
    await asyncio.to_thread(kannel.start)
    try:
        await hub.start()
        agent, desk, cid = await accepted_conversation(hub, kannel, "Is there an outage?")
        await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Not any more."},
                       status=201)
        async with asyncio.timeout(10):  # the SMS row is made by the reply consumer after commit
            while True:
                rows = await outbound(agent, cid)
                if rows and rows[0]["attempts"] >= 1:
                    [out] = rows
                    break
                await asyncio.sleep(0.1)
        assert out["status"] == "queued" and "unreachable" in out["error"]
        await desk.close()
        await hub.stop()

        hub = InProcessHub(tmp_path / "data", database_url, **sms_settings(kannel))
        kannel.hub_port = hub.port  # (Kannel keeps calling the old port for inbound; not needed here)
        await hub.start()
        [got] = await asyncio.to_thread(kannel.wait_received, 1, 20)
        assert (got.receiver, got.text) == (CUSTOMER, "Not any more.")
        supervisor = await hub.client("supervisor")
        async with asyncio.timeout(15):
            while True:
                [out] = await outbound(supervisor, cid)
                if out["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
    finally:
        await hub.stop()
        await asyncio.to_thread(kannel.stop)


async def test_an_agent_reply_committed_while_the_sms_channel_was_not_running_is_sent_once(tmp_path, database_url):
    """The crash window between the message's commit and its outbound SMS row: the reply is
    committed through the hub's conversation service by a run of the hub without the SMS channel
    (so nothing reacts to the message event, as after a crash right after the commit); the next
    run with the channel sends it to the phone, and a further restart does not send it again."""
    if not have_kannel():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    kannel = Kannel(tmp_path / "kannel", 0, TOKEN)
    hub = InProcessHub(tmp_path / "data", database_url, **sms_settings(kannel))
    kannel.hub_port = hub.port
    await asyncio.to_thread(kannel.start)

    async def restart(**extra: object) -> InProcessHub:
        await hub.stop()
        again = InProcessHub(tmp_path / "data", database_url, **sms_settings(kannel, **extra))
        return await again.start()

    try:
        await hub.start()
        _, desk, cid = await accepted_conversation(hub, kannel, "When is the meter read?")
        await desk.close()

        hub = await restart(sms_enabled=False)  # the channel's reply subscription is not running
        agent = await hub.client("agent1")
        reply = await agent.ok("POST", f"/api/conversations/{cid}/messages",
                               {"body": "On Thursday morning."}, status=201)
        assert hub.services.ports.sms is None

        hub = await restart()
        [got] = await asyncio.to_thread(kannel.wait_received, 1, 20)
        assert (got.receiver, got.text) == (CUSTOMER, "On Thursday morning.")
        supervisor = await hub.client("supervisor")
        async with asyncio.timeout(15):
            while [m["status"] for m in await outbound(supervisor, cid)] != ["delivered"]:  # noqa: ASYNC110 - polling the API like a client
                await asyncio.sleep(0.1)
        [out] = await outbound(supervisor, cid)
        assert out["message_id"] == reply["id"]

        hub = await restart()
        assert await hub.services.ports.sms.replies.reconciled() == 0
        supervisor = await hub.client("supervisor")
        assert [m["status"] for m in await outbound(supervisor, cid)] == ["delivered"]
        await asyncio.sleep(0.5)  # the outbound worker has had its chance to send anything queued
        assert len(kannel.received()) == 1
    finally:
        await hub.stop()
        await asyncio.to_thread(kannel.stop)
