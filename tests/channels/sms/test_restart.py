"""Queued outbound messages survive a restart: a reply queued while Kannel's sendsms is unreachable
is sent by the next run of the hub; inbound messages stored before routing are routed."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.helpers import agent_desk
from tests.channels.sms.conftest import OUR_NUMBER, TOKEN, sms_settings
from tests.support.hub import InProcessHub
from tests.support.kannel import Kannel, have_kannel
from tests.support.postgres import free_port

CUSTOMER = "+8613900139000"


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
        agent, desk = await agent_desk(hub, "agent1")
        await asyncio.to_thread(kannel.inject, CUSTOMER, OUR_NUMBER, "Is there an outage?")
        offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=15)
        cid = offer["conversation"]["id"]
        await agent.ok("POST", f"/api/conversations/{cid}/accept")
        await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Not any more."},
                       status=201)
        async with asyncio.timeout(10):
            while True:
                [out] = [m for m in (await agent.ok("GET", f"/api/sms/conversations/{cid}"))["messages"]
                         if m["direction"] == "out"]
                if out["attempts"] >= 1:
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
                [out] = [m for m in (await supervisor.ok("GET", f"/api/sms/conversations/{cid}"))["messages"]
                         if m["direction"] == "out"]
                if out["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
    finally:
        await hub.stop()
        await asyncio.to_thread(kannel.stop)
