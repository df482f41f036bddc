"""A reply queued while the relay is down is not lost when the hub stops: the next run sends it."""

from __future__ import annotations

import pytest

from tests.api.helpers import agent_desk
from tests.channels.email.support import HUB_ADDRESS, Relay, channel, have_swaks, swaks
from tests.support.hub import running_hub
from tests.support.postgres import free_port


async def test_a_queued_reply_is_sent_by_the_next_run_of_the_hub(tmp_path, database_url):
    if not have_swaks():
        pytest.skip("swaks is not installed (apt-get install swaks)")
    relay_port = free_port()
    settings = dict(email_address=HUB_ADDRESS, email_smtp_port=relay_port, email_smtp_timeout_s=2,
                    email_send_attempts=50, email_retry_base_s=30)
    async with running_hub(tmp_path / "data", database_url, email_port=free_port(), **settings) as hub:
        agent, desk = await agent_desk(hub, "agent1")
        r = await swaks(channel(hub).port, "--header", "Subject: Outage?", "--body", "Is there an outage?")
        assert r.accepted, r.output
        offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
        cid = offer["conversation"]["id"]
        await agent.ok("POST", f"/api/conversations/{cid}/accept")
        await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Not anymore."}, status=201)
        [out] = [e for e in await hub.services.conversations.email_rows(cid) if e.direction == "out"]
        assert out.status == "queued"  # the relay is down; the first retry is 30 s away
        await desk.close()

    relay = Relay(relay_port).start()
    try:
        async with running_hub(tmp_path / "data", database_url, email_port=free_port(), **settings) as hub:
            [sent] = await relay.wait(1, within_s=15)
            assert sent["Message-ID"] == out.rfc_message_id
            assert sent["Subject"] == f"Re: Outage? [#{cid}]"
            await channel(hub).sender.drain(within_s=10)
            [again] = [e for e in await hub.services.conversations.email_rows(cid) if e.direction == "out"]
            assert again.status == "sent"
    finally:
        relay.stop()
