"""A reply queued while the relay is down is not lost when the hub stops: the next run sends it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from channels.email.store import EmailStore
from tests.api.helpers import agent_desk
from tests.channels.email.support import HUB_ADDRESS, Relay, channel, conversations_of, have_swaks, swaks
from tests.support.hub import running_hub
from tests.support.postgres import free_port

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)


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
        await hub.services.bus.settled()  # the channel queues the reply after the message's commit
        [out] = [e for e in await channel(hub).emails.rows(cid) if e.direction == "out"]
        assert out.status == "queued"  # the relay is down; the first retry is 30 s away
        await desk.close()

    relay = Relay(relay_port).start()
    try:
        async with running_hub(tmp_path / "data", database_url, email_port=free_port(), **settings) as hub:
            [sent] = await relay.wait(1, within_s=15)
            assert sent["Message-ID"] == out.rfc_message_id
            assert sent["Subject"] == f"Re: Outage? [#{cid}]"
            await channel(hub).sender.drain(within_s=10)
            [again] = [e for e in await channel(hub).emails.rows(cid) if e.direction == "out"]
            assert again.status == "sent"
    finally:
        relay.stop()


async def test_an_agent_reply_committed_while_the_email_channel_was_not_running_is_mailed_once(
        tmp_path, database_url):  # type: ignore[no-untyped-def]
    """The crash window between the message's commit and its outbound email row: the reply is
    committed through the hub's conversation API by a run of the hub without the email channel
    (nothing reacts to the message event, as after a crash right after the commit); the next run
    with the channel mails it to the relay, threaded, and a further restart does not again."""
    if not have_swaks():
        pytest.skip("swaks is not installed (apt-get install swaks)")
    relay = Relay(free_port()).start()
    settings = dict(email_address=HUB_ADDRESS, email_smtp_port=relay.port, email_smtp_timeout_s=5,
                    email_send_attempts=3, email_retry_base_s=0.05)

    def run(**extra: object) -> Any:
        return running_hub(tmp_path / "data", database_url, email_port=free_port(), **settings, **extra)

    try:
        async with run() as hub:
            agent, desk = await agent_desk(hub, "agent1")
            r = await swaks(channel(hub).port, "--header", "Subject: Bill?", "--body", "Where is my bill?")
            assert r.accepted, r.output
            offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
            cid = offer["conversation"]["id"]
            await agent.ok("POST", f"/api/conversations/{cid}/accept")
            await desk.close()

        async with run(email_enabled=False) as hub:  # the channel's reply subscription is not running
            agent = await hub.client("agent1")
            reply = await agent.ok("POST", f"/api/conversations/{cid}/messages",
                                   {"body": "It was posted today."}, status=201)
            assert hub.services.ports.email is None
            emails = EmailStore(hub.services.db, hub.services.clock)  # the channel's table, read directly
            assert await emails.for_message(reply["id"]) is None

        async with run() as hub:
            [sent] = await relay.wait(1, within_s=15)
            assert sent["Subject"] == f"Re: Bill? [#{cid}]" and sent["To"] == "zhang.wei@example.com"
            assert "It was posted today." in sent.get_body(("plain",)).get_content()
            await channel(hub).sender.drain(within_s=10)
            agent = await hub.client("agent1")
            view = await agent.ok("GET", f"/api/email/messages/{reply['id']}")
            assert view["status"] == "sent" and view["direction"] == "out"
            assert sent["Message-ID"] == view["rfc_message_id"]

        async with run() as hub:
            assert await channel(hub).replies.reconciled() == 0
            await channel(hub).sender.drain(within_s=10)
            outs = [e for e in await channel(hub).emails.rows(cid) if e.direction == "out"]
            assert [(e.message_id, e.status) for e in outs] == [(reply["id"], "sent")]
        assert len(relay.messages) == 1
    finally:
        relay.stop()


async def test_a_reply_with_no_address_to_mail_is_noted_once_and_not_retried(hub, relay):  # type: ignore[no-untyped-def]
    """A mail whose From has no usable address (and no Reply-To): there is nobody to mail a reply
    to. Such a mail is kept unrouted ("no sender"), so the agent's message is added through the
    hub's conversation service. One note says why it was not mailed; the reconcile a restart
    runs neither retries nor notes it again."""
    r = await swaks(channel(hub).port, "--header", "From: Night Porter <porter>", "--header",
                    "Subject: Lights", "--body", "The stair lights are out.")
    assert r.accepted, r.output
    supervisor = await hub.client("supervisor")
    [conv] = await conversations_of(supervisor)
    cid = conv["id"]
    reply = await hub.services.conversations.add_message(cid, sender="agent", body="On it.",
                                                         sender_name="Agent One")

    async def system_messages() -> list[str]:
        detail = await supervisor.ok("GET", f"/api/conversations/{cid}")
        return [m["body"] for m in detail["messages"] if m["sender"] == "system"]

    async with asyncio.timeout(15):
        while not await system_messages():  # noqa: ASYNC110 - polling the API like a client
            await asyncio.sleep(0.1)
    assert await system_messages() == [
        "This reply was not sent by email: the customer has no email address to reply to"]
    assert await channel(hub).emails.for_message(reply["id"]) is None
    assert await channel(hub).replies.reconcile() == 0
    assert len(await system_messages()) == 1 and relay.messages == []
