"""Email templates (CRUD, RBAC, placeholder checks), the email reply with subject/CC/template, and
bulk and scheduled sends through the real outbound path to an aiosmtpd relay."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bootstrap import build_app
from hub.clock import ManualClock
from tests.api.helpers import agent_desk
from tests.channels.email.support import HUB_ADDRESS, channel, swaks
from tests.support.hub import InProcessHub, running_hub
from tests.support.wait import eventually

WELCOME = {"name": "Welcome", "subject": "Hello {{contact.name}}",
           "body": "Dear {{contact.name}},\n\nyour case {{conversation.id}} is with {{agent.name}}.",
           "html": "<p>Dear <b>{{contact.name}}</b>, case {{ conversation.id }}.</p><script>x()</script>"}


async def poll(fetch: Any, until: Any, within_s: float = 30, every_s: float = 0.05) -> Any:
    return await eventually(fetch, within_s, until=until, every=every_s)


async def test_templates_crud_with_rbac_and_unknown_placeholders_refused(hub):
    supervisor = await hub.client("supervisor")
    agent = await hub.client("agent1")
    tpl = await supervisor.ok("POST", "/api/email/templates", WELCOME, status=201)
    assert "<script>" not in tpl["html"] and "<b>{{contact.name}}</b>" in tpl["html"]
    assert tpl["placeholders"] == ["contact.name", "conversation.id", "agent.name"]

    # agents use templates but do not manage them
    listed = await agent.ok("GET", "/api/email/templates")
    assert [t["name"] for t in listed["items"]] == ["Welcome"]
    assert (await agent.post("/api/email/templates", {**WELCOME, "name": "Mine"})).status_code == 403
    assert (await agent.patch(f"/api/email/templates/{tpl['id']}", {"subject": "x"})).status_code == 403
    assert (await agent.delete(f"/api/email/templates/{tpl['id']}")).status_code == 403

    # bad input: a clear 422 naming the placeholder, and nothing stored or changed
    r = await supervisor.post("/api/email/templates", {**WELCOME, "name": "Bad",
                                                        "body": "Hi {{contact.nmae}} {{__import__('os')}}"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert "{{contact.nmae}}" in problem["detail"] and "__import__" in problem["detail"]
    r = await supervisor.patch(f"/api/email/templates/{tpl['id']}", {"subject": "Hi {contact.age}"})
    assert r.status_code == 422 and "contact.age" in r.json()["detail"]
    assert (await supervisor.post("/api/email/templates", {**WELCOME, "subject": ""})).status_code == 422
    assert (await supervisor.post("/api/email/templates", WELCOME)).status_code == 409
    listed = await supervisor.ok("GET", "/api/email/templates")
    assert [(t["name"], t["subject"]) for t in listed["items"]] == [("Welcome", "Hello {{contact.name}}")]

    changed = await supervisor.ok("PATCH", f"/api/email/templates/{tpl['id']}",
                                  {"subject": "Hi {contact.name}"})  # the automation-rule form
    assert changed["subject"] == "Hi {contact.name}" and changed["body"] == WELCOME["body"]
    assert (await supervisor.delete(f"/api/email/templates/{tpl['id']}")).status_code == 204
    assert (await agent.get(f"/api/email/templates/{tpl['id']}")).status_code == 404


async def test_reply_with_template_cc_and_subject_reaches_the_relay_threaded(hub, relay):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    supervisor = await hub.client("supervisor")
    tpl = await supervisor.ok("POST", "/api/email/templates", WELCOME, status=201)
    r = await swaks(port, "--header", "Subject: Leak at my door",
                    "--header", "Message-Id: <leak-1@customer.example.com>",
                    "--h-From", '"Li <Lei>" <li.lei@example.com>', "--body", "I smell gas.")
    assert r.accepted, r.output
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    cid = offer["conversation"]["id"]
    await agent.ok("POST", f"/api/conversations/{cid}/accept")

    filled = await agent.ok("POST", f"/api/email/templates/{tpl['id']}/render", {"conversation_id": cid})
    assert filled["subject"] == "Hello Li <Lei>"
    assert filled["body"].startswith("Dear Li <Lei>,") and cid in filled["body"]
    assert filled["body"].endswith(f"is with {agent.user['display_name']}.")
    assert "<b>Li &lt;Lei&gt;</b>" in filled["html"]  # values are escaped in HTML

    # bad CC: 422, nothing sent or stored
    r = await agent.post(f"/api/email/conversations/{cid}/reply",
                         {"body": "x", "cc": ["not-an-address", "bad address"]})
    assert r.status_code == 422
    assert r.json()["detail"] == 'CC: not an email address: "not-an-address", "bad address"'
    sent = await agent.ok("POST", f"/api/email/conversations/{cid}/reply", {
        "body": filled["body"], "template_id": tpl["id"], "cc": ["boss@example.com"],
        "subject": "Re: Leak at my door"}, status=201)
    assert sent["email"]["subject"] == f"Re: Leak at my door [#{cid}]"
    [mail] = await relay.wait(1)
    assert mail["To"] == "li.lei@example.com" and mail["Cc"] == "boss@example.com"
    assert mail["In-Reply-To"] == "<leak-1@customer.example.com>"
    assert mail["Subject"] == f"Re: Leak at my door [#{cid}]"
    assert "<b>Li &lt;Lei&gt;</b>" in mail.get_body(("html",)).get_content()
    envelope, _ = relay.messages[0]
    assert sorted(envelope.rcpt_tos) == ["boss@example.com", "li.lei@example.com"]
    msgs = (await agent.ok("GET", f"/api/conversations/{cid}"))["messages"]
    assert sum(m["sender"] == "agent" for m in msgs) == 1  # recorded once, not twice
    view = await poll(lambda: agent.ok("GET", f"/api/email/messages/{sent['id']}"),
                      lambda v: v["status"] == "sent", within_s=10)
    assert view["cc"] == ["boss@example.com"]
    await desk.close()


def _recipients(n: int, start: int = 0) -> list[dict[str, str]]:
    return [{"email": f"customer{i:04d}@example.net", "name": f"Customer {i}"} for i in range(start, start + n)]


async def test_bulk_job_sends_200_mails_through_the_relay_with_progress(hub, relay):
    supervisor = await hub.client("supervisor")
    tpl = await supervisor.ok("POST", "/api/email/templates", {
        "name": "Outage", "subject": "Planned outage for {{contact.name}}",
        "body": "Dear {{contact.name}}, gas supply stops on Monday 9:00-11:00."}, status=201)
    job = await supervisor.ok("POST", "/api/email/bulk", {
        "name": "Outage notice", "template_id": tpl["id"], "recipients": _recipients(200),
        "rate_per_s": 200}, status=201)
    assert job["status"] == "running" and job["total"] == 200
    seen: list[float] = []

    async def fetch() -> dict[str, Any]:
        j = await supervisor.ok("GET", f"/api/email/bulk/{job['id']}")
        seen.append(j["progress"])
        return j

    done = await poll(fetch, lambda j: j["status"] == "done", within_s=60)
    assert done["counts"] == {"waiting": 0, "sent": 200, "failed": 0, "cancelled": 0}
    assert done["progress"] == 100.0
    assert any(0 < p < 100 for p in seen), seen  # progress moved in between
    assert seen == sorted(seen)
    mails = await relay.wait(200, within_s=10)
    assert len(mails) == 200
    by_to = {m["To"].addresses[0].addr_spec: m for m in mails}
    assert str(by_to["customer0007@example.net"]["To"]) == "Customer 7 <customer0007@example.net>"
    assert by_to["customer0007@example.net"]["Subject"] == "Planned outage for Customer 7"
    assert all(m["Precedence"] == "bulk" for m in mails)
    page = await supervisor.ok("GET", f"/api/email/bulk/{job['id']}/recipients?status=sent&limit=5")
    assert page["total"] == 200 and [x["row"] for x in page["items"]] == [1, 2, 3, 4, 5]
    assert page["items"][0]["message_id"] == by_to["customer0000@example.net"]["Message-ID"]


async def test_bulk_bad_input_is_refused_and_stores_nothing(hub, relay):
    supervisor = await hub.client("supervisor")
    agent = await hub.client("agent1")
    tpl = await supervisor.ok("POST", "/api/email/templates", {
        "name": "T", "subject": "S", "body": "B"}, status=201)
    csv = b"email,name\nok@example.net,Ok\nbroken-address,Bad\n,Empty\n"
    r = await supervisor.post("/api/email/bulk/csv", files={"file": ("list.csv", csv, "text/csv")},
                              data={"name": "Bad list", "template_id": tpl["id"]})
    assert r.status_code == 422, r.text
    assert [(e["row"], e["msg"]) for e in r.json()["errors"]] == [
        (2, "not an email address"), (3, "no email address")]
    r = await supervisor.post("/api/email/bulk/csv", files={"file": ("l.csv", b"phone\n123\n", "text/csv")},
                              data={"name": "No email column", "template_id": tpl["id"]})
    assert r.status_code == 422 and "'email' column" in r.json()["detail"]
    r = await supervisor.post("/api/email/bulk", {"name": "x", "template_id": "nope",
                                                  "recipients": _recipients(1)})
    assert r.status_code == 422 and "template" in r.json()["detail"]
    r = await supervisor.post("/api/email/bulk", {"name": "x", "template_id": tpl["id"],
                                                  "recipients": _recipients(1), "scheduled_at": time.time() - 3600})
    assert r.status_code == 422 and "past" in r.json()["detail"]
    assert (await agent.post("/api/email/bulk", {"name": "x", "template_id": tpl["id"],
                                                 "recipients": _recipients(1)})).status_code == 403
    assert (await agent.get("/api/email/bulk")).status_code == 403
    assert (await supervisor.ok("GET", "/api/email/bulk"))["items"] == []
    await asyncio.sleep(0.3)
    assert relay.messages == []


async def test_bulk_job_from_a_contact_filter_and_cancel_stops_it(hub, relay):
    supervisor = await hub.client("supervisor")
    for i in range(12):
        await supervisor.ok("POST", "/api/contacts", {"name": f"Bulk VIP {i}", "email": f"vip{i}@example.org",
                                                      "tags": ["bulktest"]}, status=201)
    tpl = await supervisor.ok("POST", "/api/email/templates", {
        "name": "VIP", "subject": "For {{contact.name}}", "body": "Hello {{contact.name}}"}, status=201)
    job = await supervisor.ok("POST", "/api/email/bulk", {
        "name": "VIPs", "template_id": tpl["id"], "contact_filter": {"tag": "bulktest"},
        "rate_per_s": 4}, status=201)
    assert job["total"] == 12 and job["source"] == "contacts"
    await relay.wait(2, within_s=10)
    cancelled = await supervisor.ok("POST", f"/api/email/bulk/{job['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["cancelled"] >= 8
    await asyncio.sleep(0.8)  # 3 more mails would leave at 4/s if the cancel were ignored
    final = await supervisor.ok("GET", f"/api/email/bulk/{job['id']}")
    assert len(relay.messages) == final["counts"]["sent"] <= 4
    assert final["counts"]["sent"] + final["counts"]["cancelled"] == 12
    assert (await supervisor.post(f"/api/email/bulk/{job['id']}/cancel")).status_code == 409


@pytest.fixture
async def clocked(tmp_path, relay_port) -> AsyncIterator[tuple[InProcessHub, ManualClock]]:  # type: ignore[no-untyped-def]
    """A hub on a manual clock whose scheduler loop is stopped: timers fire only on run_due()."""
    clock = ManualClock(time.time())
    h = InProcessHub(tmp_path / "data", session_ttl_s=60 * 86400, kb_enabled=False, email_port=0,
                     email_address=HUB_ADDRESS,
                     email_smtp_port=relay_port, email_smtp_timeout_s=5, email_retry_base_s=0.05)
    h.app = build_app(h.settings, clock)
    await h.start()
    await h.services.scheduler.stop()
    try:
        yield h, clock
    finally:
        await h.stop()


async def test_scheduled_bulk_job_fires_at_its_time_on_the_hubs_clock(clocked, relay):
    hub, clock = clocked
    supervisor = await hub.client("supervisor")
    tpl = await supervisor.ok("POST", "/api/email/templates", {
        "name": "Reading", "subject": "Meter reading", "body": "Please read your meter."}, status=201)
    job = await supervisor.ok("POST", "/api/email/bulk", {
        "name": "Tomorrow 9:00", "template_id": tpl["id"], "recipients": _recipients(3),
        "scheduled_at": clock.now() + 86400, "rate_per_s": 50}, status=201)
    assert job["status"] == "scheduled" and job["counts"]["waiting"] == 3
    assert await hub.services.scheduler.run_due() == 0
    clock.advance(86400 - 1)
    assert await hub.services.scheduler.run_due() == 0
    await asyncio.sleep(0.3)
    assert relay.messages == []
    clock.advance(1)
    assert await hub.services.scheduler.run_due() == 1
    await relay.wait(3, within_s=10)
    done = await poll(lambda: supervisor.ok("GET", f"/api/email/bulk/{job['id']}"),
                      lambda j: j["status"] == "done")
    assert done["started_at"] == clock.now() and done["counts"]["sent"] == 3


async def test_a_running_bulk_job_resumes_after_a_restart(tmp_path, relay, relay_port):
    settings = {"kb_enabled": False, "email_port": 0, "email_address": HUB_ADDRESS, "email_smtp_port": relay_port,
                "email_smtp_timeout_s": 5, "email_retry_base_s": 0.05}
    async with running_hub(tmp_path / "data", **settings) as hub:
        supervisor = await hub.client("supervisor")
        tpl = await supervisor.ok("POST", "/api/email/templates", {
            "name": "T", "subject": "S {{contact.name}}", "body": "B"}, status=201)
        job = await supervisor.ok("POST", "/api/email/bulk", {
            "name": "Slow", "template_id": tpl["id"], "recipients": _recipients(15), "rate_per_s": 5},
            status=201)
        await relay.wait(3, within_s=10)
    stopped_after = len(relay.messages)
    assert stopped_after < 15
    async with running_hub(tmp_path / "data", **settings) as hub:
        supervisor = await hub.client("supervisor")
        with contextlib.suppress(TimeoutError):
            await relay.wait(15, within_s=20)
        done = await poll(lambda: supervisor.ok("GET", f"/api/email/bulk/{job['id']}"),
                          lambda j: j["status"] == "done", within_s=20)
    assert done["counts"]["sent"] == 15
    got = [m["To"].addresses[0].addr_spec for _, m in relay.messages]
    assert sorted(set(got)) == [f"customer{i:04d}@example.net" for i in range(15)]
    assert len(got) <= 16  # at most the mail in flight at the stop goes twice




async def test_an_automation_rule_answers_new_mail_with_a_stored_email_template(hub, relay):
    """The workflows' ``send_template`` action takes a stored email template (``email_template_id``)
    as well as inline text; an email conversation sends it as a threaded email reply."""
    admin = await hub.client("admin")
    tpl = await admin.ok("POST", "/api/email/templates", {
        "name": "Ack", "subject": "We got your mail",
        "body": "Dear {{contact.name}}, we received your mail about {{conversation.subject}}."}, status=201)
    email_only = {"all": [{"field": "conversation.channel", "op": "eq", "value": "email"}]}
    for bad in ({"type": "send_template"},
                {"type": "send_template", "template": "x", "email_template_id": tpl["id"]},
                {"type": "send_template", "email_template_id": "nope"}):
        r = await admin.post("/api/rules", {"name": "Bad", "event": "conversation.created",
                                            "conditions": email_only, "actions": [bad]})
        assert r.status_code == 422, (bad, r.text)
    await admin.ok("POST", "/api/rules", {
        "name": "Acknowledge mail", "event": "conversation.created", "conditions": email_only,
        "actions": [{"type": "send_template", "email_template_id": tpl["id"]}]}, status=201)
    r = await swaks(channel(hub).port, "--header", "Subject: Smell of gas",
                    "--header", "Message-Id: <smell-1@customer.example.com>",
                    "--h-From", '"Wang Fang" <wang.fang@example.com>', "--body", "Kitchen smells.")
    assert r.accepted, r.output
    [mail] = await relay.wait(1, within_s=15)
    assert mail["To"] == "wang.fang@example.com"
    assert mail["In-Reply-To"] == "<smell-1@customer.example.com>"
    assert mail.get_body(("plain",)).get_content().strip() == (
        "Dear Wang Fang, we received your mail about Smell of gas.")
