"""Pre-chat identity is a claim, not a proof (issue #16, item 7): a widget customer who types a VIP's
email gets no VIP priority, nothing of the contact's record, and the desk sees "unverified" until a
one-time code (sent by the email channel through a real SMTP relay) or the handling agent proves it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import agent_desk, queue_id, start_chat
from tests.channels.email.support import HUB_ADDRESS, Relay
from tests.support.hub import ApiClient, InProcessHub, running_hub
from tests.support.postgres import free_port

MAX_ATTEMPTS = 3
VIP_EMAIL = "li.na@example.com"  # the demo's VIP contact (hub/demo.py)


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay(free_port()).start()
    yield r
    r.stop()


@pytest.fixture
async def hub(tmp_path: Path, database_url: str, relay: Relay) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", database_url, email_address=HUB_ADDRESS,
                           email_smtp_port=relay.port, email_smtp_timeout_s=5,
                           identity_code_max_attempts=MAX_ATTEMPTS) as h:
        yield h


async def _two_waiting_chats(hub: InProcessHub) -> tuple[dict[str, Any], ApiClient, dict[str, Any]]:
    """A new customer's chat first, then one whose customer types the VIP's email; nobody ready."""
    _, _, plain = await start_chat(hub, name="Wang Ming", email="wang.ming@example.org",
                                   message="first in line")
    claimant, _, claimed = await start_chat(hub, name="Mallory", email=VIP_EMAIL,
                                            message="what is my balance?")
    return plain, claimant, claimed


async def _queued(supervisor: ApiClient, cid: str) -> dict[str, Any]:
    items = (await supervisor.ok("GET", "/api/conversations?view=queued&channel=chat"))["items"]
    return next(c for c in items if c["id"] == cid)


async def _code_from_mail(relay: Relay, count: int = 1) -> tuple[str, Any]:
    mail = (await relay.wait(count))[count - 1]
    body = mail.get_body(("plain",))
    assert body is not None, mail.as_string()
    found = re.search(r"\b(\d{6})\b", body.get_content())
    assert found, mail.as_string()
    return found.group(1), mail


async def test_prechat_with_a_vips_email_waits_at_normal_priority_and_shows_the_customer_nothing_of_the_contact(hub):
    agent, desk = await agent_desk(hub, "agent1", ready=False)
    plain, claimant, claimed = await _two_waiting_chats(hub)
    supervisor = await hub.client("supervisor")

    queued = await _queued(supervisor, claimed["conversation_id"])
    assert queued["priority"] == 0
    assert queued["contact"]["name"] == "Li Na"  # the candidate, marked unverified
    assert queued["contact"]["verified"] is False
    detail = await supervisor.ok("GET", f"/api/conversations/{claimed['conversation_id']}")
    assert detail["contact"]["verified"] is False and detail["contact"]["email"] == VIP_EMAIL
    new_customer = await supervisor.ok("GET", f"/api/conversations/{plain['conversation_id']}")
    assert new_customer["contact"]["verified"] is True  # a contact of its own: nothing to prove

    # the customer sees their own words under their own name, nothing of Li Na's record
    seen = await claimant.get("/api/widget/conversation")
    assert seen.status_code == 200
    assert "Li Na" not in seen.text and "GC-" not in seen.text and "VIP" not in seen.text.upper()
    assert [m["sender_name"] for m in seen.json()["messages"]] == ["Mallory"]
    identity = await claimant.ok("GET", "/api/widget/identity")
    assert identity == {"verified": False, "claimed": True, "methods": ["email", "sms"], "locked": False}

    # no VIP jump: the chat that came first is offered first
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    first = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "chat")
    assert first["conversation"]["id"] == plain["conversation_id"]
    await desk.close()


async def test_screen_pop_shows_the_claimed_contact_marked_unverified(hub):
    agent, desk = await agent_desk(hub, "agent1")
    _, _, claimed = await start_chat(hub, name="Mallory", email=VIP_EMAIL)
    cid = claimed["conversation_id"]
    await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    pop = await desk.wait("screen_pop", lambda d: d["conversation_id"] == cid)
    assert pop["contact"]["name"] == "Li Na" and pop["contact"]["verified"] is False
    await desk.close()


@pytest.mark.storage  # codes counted across transactions, SQLite and PostgreSQL
async def test_code_by_email_verifies_links_the_contact_and_raises_the_priority(hub, relay):
    agent, desk = await agent_desk(hub, "agent1", ready=False)
    plain, claimant, claimed = await _two_waiting_chats(hub)
    cid = claimed["conversation_id"]
    sent = await claimant.ok("POST", "/api/widget/identity/code", {"method": "email"}, status=202)
    assert sent["method"] == "email" and sent["sent_to"] == "l***@example.com"
    code, mail = await _code_from_mail(relay)
    assert mail["To"] == VIP_EMAIL and HUB_ADDRESS in mail["From"]

    # one code a minute per chat and per contact
    again = await claimant.post("/api/widget/identity/code", {"method": "email"})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0

    verified = await claimant.ok("POST", "/api/widget/identity/verify", {"code": code})
    assert verified["verified"] is True and verified["claimed"] is False
    supervisor = await hub.client("supervisor")
    queued = await _queued(supervisor, cid)
    assert queued["priority"] == 10 and queued["contact"]["verified"] is True
    detail = await supervisor.ok("GET", f"/api/conversations/{cid}")
    assert detail["contact"]["name"] == "Li Na" and detail["contact"]["verified"] is True
    assert detail["meta"]["identity"]["method"] == "email_code"

    # the code is single use
    r = await claimant.post("/api/widget/identity/verify", {"code": code})
    assert r.status_code == 409 and r.json()["code"] == "identity_nothing_to_verify"

    # the VIP now goes first, though the other chat came earlier
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    first = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "chat")
    assert first["conversation"]["id"] == cid
    admin = await hub.client("admin")
    audit = await admin.ok("GET", "/api/audit")
    assert any(e["type"] == "conversation.identity_verified" and e["conversation_id"] == cid
               and e["data"]["method"] == "email_code" for e in audit)
    await desk.close()


@pytest.mark.storage  # codes counted across transactions, SQLite and PostgreSQL
async def test_wrong_codes_lock_self_verification(hub, relay):
    claimant, _, claimed = await start_chat(hub, name="Mallory", email=VIP_EMAIL)
    await claimant.ok("POST", "/api/widget/identity/code", {"method": "email"}, status=202)
    code, _ = await _code_from_mail(relay)
    wrong = "000000" if code != "000000" else "111111"
    for left in range(MAX_ATTEMPTS - 1, 0, -1):
        r = await claimant.post("/api/widget/identity/verify", {"code": wrong})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "identity_code_invalid" and r.json()["attempts_left"] == left
    r = await claimant.post("/api/widget/identity/verify", {"code": wrong})
    assert r.status_code == 423 and r.json()["code"] == "identity_verification_locked"
    # locked: even the right code, or a new one, no longer helps
    r = await claimant.post("/api/widget/identity/verify", {"code": code})
    assert r.status_code == 423
    r = await claimant.post("/api/widget/identity/code", {"method": "sms"})
    assert r.status_code == 423
    assert (await claimant.ok("GET", "/api/widget/identity"))["locked"] is True
    supervisor = await hub.client("supervisor")
    detail = await supervisor.ok("GET", f"/api/conversations/{claimed['conversation_id']}")
    assert detail["contact"]["verified"] is False


async def test_the_handling_agent_confirms_the_customer_audited_and_others_may_not(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    _, _, claimed = await start_chat(hub, name="Li Na", email=VIP_EMAIL, queue=general)
    cid = claimed["conversation_id"]
    await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")

    other = await hub.client("agent2")  # not the one handling it
    r = await other.post(f"/api/conversations/{cid}/identity/confirm", {})
    assert r.status_code in (403, 404), r.text
    dispatcher = await hub.client("dispatch")  # no desk, no verify_identity
    r = await dispatcher.post(f"/api/conversations/{cid}/identity/confirm", {})
    assert r.status_code == 403
    still = await agent.ok("GET", f"/api/conversations/{cid}")
    assert still["contact"]["verified"] is False

    confirmed = await agent.ok("POST", f"/api/conversations/{cid}/identity/confirm", {})
    assert confirmed["contact"]["name"] == "Li Na" and confirmed["contact"]["verified"] is True
    detail = await agent.ok("GET", f"/api/conversations/{cid}")
    assert detail["contact"]["verified"] is True and detail["meta"]["identity"]["method"] == "agent"
    admin = await hub.client("admin")
    audit = await admin.ok("GET", "/api/audit")
    [entry] = [e for e in audit if e["type"] == "conversation.identity_verified"]
    assert entry["conversation_id"] == cid and entry["user_id"] == agent.user["id"]
    r = await agent.post(f"/api/conversations/{cid}/identity/confirm", {})
    assert r.status_code == 409 and r.json()["code"] == "identity_nothing_to_verify"
    await desk.close()


async def test_automation_rules_see_only_what_the_customer_typed_until_verified(hub):
    admin = await hub.client("admin")
    await admin.ok("POST", "/api/rules", {
        "name": "Greet", "event": "conversation.created",
        "conditions": {"all": [{"field": "conversation.channel", "op": "eq", "value": "chat"}]},
        "actions": [{"type": "send_template",
                     "template": "Hello {contact.name}, account {contact.custom.account_no}."}]}, status=201)
    await admin.ok("POST", "/api/rules", {
        "name": "VIPs first", "event": "conversation.created",
        "conditions": {"all": [{"field": "contact.vip", "op": "eq", "value": True}]},
        "actions": [{"type": "set_priority", "priority": "urgent"}]}, status=201)
    claimant, _, claimed = await start_chat(hub, name="Mallory", email=VIP_EMAIL)
    await hub.services.bus.settled()  # the rules run after commit
    seen = await claimant.ok("GET", "/api/widget/conversation")
    assert [m["body"] for m in seen["messages"] if m["sender"] != "customer"] == ["Hello Mallory, account ."]
    supervisor = await hub.client("supervisor")
    assert (await _queued(supervisor, claimed["conversation_id"]))["priority"] == 0


async def test_erasing_a_contact_also_erases_the_chats_that_only_claimed_to_be_them(hub):
    admin = await hub.client("admin")
    person = await admin.ok("POST", "/api/contacts", {"name": "Qian Yu", "email": "qian.yu@example.org"},
                            status=201)
    claimant, widget, claimed = await start_chat(hub, name="Someone", email="qian.yu@example.org")
    await widget.close()
    assert (await claimant.post("/api/widget/close")).status_code == 204
    await admin.ok("POST", f"/api/contacts/{person['id']}/erase", {"confirm": True})
    supervisor = await hub.client("supervisor")
    left = await supervisor.get(f"/api/conversations/{claimed['conversation_id']}")
    assert left.status_code == 200 and "qian.yu@example.org" not in left.text
