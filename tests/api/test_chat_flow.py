"""The chat path end to end over real HTTP and Socket.IO: widget → ACD → agent → customer."""

from __future__ import annotations

import pytest

from tests.api.helpers import agent_desk, queue_id, start_chat
from tests.support.hub import running_hub


async def test_customer_chat_is_offered_accepted_answered_closed_and_rated(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    customer, widget, session = await start_chat(hub, queue=general)
    cid = session["conversation_id"]

    offer = await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    assert offer["conversation"]["contact"]["name"] == "Zhang Wei"
    assert offer["expires_at"] > 0

    detail = await agent.ok("POST", f"/api/conversations/{cid}/accept")
    assert detail["status"] == "assigned"
    assert detail["assignee_id"] == agent.user["id"]
    assert detail["messages"][0]["body"] == "My gas meter shows an error"
    pop = await desk.wait("screen_pop", lambda d: d["conversation_id"] == cid)
    assert pop["contact"]["email"] == "zhang.wei@example.com"
    assert pop["contact"]["custom"]["account_no"] == "GC-100231"
    status = await widget.wait("status", lambda d: d["status"] == "assigned")
    assert status["agent_name"] == "Alice Chen"

    reply = await agent.ok("POST", f"/api/conversations/{cid}/messages",
                           {"body": "Hello, I can help with that."}, status=201)
    got = await widget.wait("message", lambda d: d["id"] == reply["id"])
    assert got["body"] == "Hello, I can help with that."
    assert got["sender"] == "agent"

    ack = await widget.call("message", {"body": "It says E3", "client_id": "c-1"})
    assert ack["ok"] is True and ack["message"]["body"] == "It says E3"
    seen = await desk.wait("message", lambda d: d["id"] == ack["message"]["id"])
    assert seen["sender"] == "customer"

    # a retried message with the same client id is stored once
    again = await widget.call("message", {"body": "It says E3", "client_id": "c-1"})
    assert again["message"]["id"] == ack["message"]["id"]

    await agent.ok("POST", f"/api/conversations/{cid}/notes", {"body": "internal: meter model X"},
                   status=201)
    history = await customer.ok("GET", "/api/widget/conversation")
    assert [m["body"] for m in history["messages"]] == [
        "My gas meter shows an error", "Hello, I can help with that.", "It says E3"]

    closed = await agent.ok("POST", f"/api/conversations/{cid}/close", {"disposition": "resolved"})
    assert closed["status"] == "closed"
    await widget.wait("csat_request")
    r = await customer.post("/api/widget/csat", {"rating": 5, "comment": "quick"})
    assert r.status_code == 204
    state = await agent.ok("GET", "/api/agent/state")
    assert state["state"] == "wrap_up"  # the demo queue has 30 s of wrap-up
    assert (await agent.ok("POST", "/api/agent/wrapup/end"))["state"] == "ready"
    await desk.close()
    await widget.close()


async def test_transfer_to_queue_reaches_second_agent_with_the_same_contact_record(hub):
    a1, desk1 = await agent_desk(hub, "agent1")
    general = await queue_id(a1, "General enquiries")
    billing = await queue_id(a1, "Billing")
    a2, desk2 = await agent_desk(hub, "agent2", ready=False)
    customer, widget, session = await start_chat(hub, queue=general, name="Li Na",
                                                 email="li.na@example.com")
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await a1.ok("POST", f"/api/conversations/{cid}/accept")
    await a1.ok("POST", "/api/agent/state", {"state": "not_ready", "reason": "break"})
    await a2.ok("POST", "/api/agent/state", {"state": "ready"})
    moved = await a1.ok("POST", f"/api/conversations/{cid}/transfer",
                        {"queue_id": billing, "note": "billing question"})
    assert moved["queue_id"] == billing
    await desk2.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await a2.ok("POST", f"/api/conversations/{cid}/accept")
    pop = await desk2.wait("screen_pop", lambda d: d["conversation_id"] == cid)
    assert pop["contact"]["name"] == "Li Na" and pop["contact"]["vip"] is True
    detail = await a2.ok("GET", f"/api/conversations/{cid}")
    assert any(m["kind"] == "note" and m["body"] == "billing question" for m in detail["messages"])
    # agent1 may no longer reply
    r = await a1.post(f"/api/conversations/{cid}/messages", {"body": "still here?"})
    assert r.status_code in (403, 404, 409)
    for s in (desk1, desk2, widget):
        await s.close()


async def test_nobody_logged_in_means_offline_form_whose_message_is_offered_by_email_when_an_agent_is_ready(hub):
    """#19 item 2: the message left in the offline form is an email conversation in the chosen
    queue: routed as soon as an agent is ready, and the agent's answer goes out by email (the
    email channel's tests send it; tests/browser/test_email.py end to end)."""
    anon = await hub.client()
    cfg = await anon.ok("GET", "/api/widget/config")
    assert cfg["online"] is False
    created = await anon.ok("POST", "/api/widget/offline",
                            {"name": "Wang Fang", "email": "wf@example.com", "message": "Call me back"},
                            status=201)
    sup = await hub.client("supervisor")
    queued = await sup.ok("GET", "/api/conversations?view=queued")
    [item] = [c for c in queued["items"] if c["id"] == created["id"]]
    assert (item["channel"], item["status"], item["queue_id"]) == ("email", "queued", cfg["queue_id"])
    assert (await sup.ok("GET", "/api/conversations?view=pending"))["items"] == []
    agent, desk = await agent_desk(hub, "agent1")
    cfg = await anon.ok("GET", "/api/widget/config")
    assert cfg["online"] is True
    await desk.wait("offer", lambda d: d["conversation"]["id"] == created["id"])
    detail = await agent.ok("POST", f"/api/conversations/{created['id']}/accept")
    assert [m["body"] for m in detail["messages"] if m["sender"] == "customer"] == ["Call me back"]
    await desk.close()


async def test_without_an_email_channel_the_offline_message_waits_in_pending(tmp_path):
    async with running_hub(tmp_path / "data", email_enabled=False) as hub:
        anon = await hub.client()
        created = await anon.ok("POST", "/api/widget/offline",
                                {"name": "Wang Fang", "email": "wf@example.com", "message": "Call me back"},
                                status=201)
        sup = await hub.client("supervisor")
        pending = await sup.ok("GET", "/api/conversations?view=pending")
        assert [c["id"] for c in pending["items"]] == [created["id"]]


async def test_returning_customer_sees_history_and_agent_sees_earlier_conversations(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    _, w1, s1 = await start_chat(hub, queue=general, message="first")
    await desk.wait("offer", lambda d: d["conversation"]["id"] == s1["conversation_id"])
    await agent.ok("POST", f"/api/conversations/{s1['conversation_id']}/accept")
    await agent.ok("POST", f"/api/conversations/{s1['conversation_id']}/close", {})
    await agent.ok("POST", "/api/agent/wrapup/end")
    _, w2, s2 = await start_chat(hub, queue=general, message="second")
    await desk.wait("offer", lambda d: d["conversation"]["id"] == s2["conversation_id"])
    detail = await agent.ok("POST", f"/api/conversations/{s2['conversation_id']}/accept")
    assert [h["id"] for h in detail["history"]] == [s1["conversation_id"]]
    assert detail["contact"]["name"] == "Zhang Wei"
    for s in (desk, w1, w2):
        await s.close()


async def test_transfer_to_a_named_agent_offers_it_to_that_agent_only(hub):
    a1, desk1 = await agent_desk(hub, "agent1")
    a3, desk3 = await agent_desk(hub, "agent3", ready=False)
    a4, desk4 = await agent_desk(hub, "agent4", ready=False)
    general = await queue_id(a1, "General enquiries")
    customer, widget, session = await start_chat(hub, queue=general)
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await a1.ok("POST", f"/api/conversations/{cid}/accept")
    await a3.ok("POST", "/api/agent/state", {"state": "ready"})
    await a4.ok("POST", "/api/agent/state", {"state": "ready"})
    await a1.ok("POST", f"/api/conversations/{cid}/transfer", {"agent_id": a4.user["id"]})
    await desk4.wait("offer", lambda d: d["conversation"]["id"] == cid)
    detail = await a4.ok("POST", f"/api/conversations/{cid}/accept")
    assert detail["assignee_id"] == a4.user["id"]
    assert all(o["conversation"]["id"] != cid for o in desk3.received("offer"))
    r = await a1.post(f"/api/conversations/{cid}/transfer", {"agent_id": a3.user["id"]})
    assert r.status_code in (403, 404, 409)
    for s in (desk1, desk3, desk4, widget):
        await s.close()


async def test_a_component_sets_its_own_meta_key_without_touching_the_others(hub) -> None:  # type: ignore[no-untyped-def]
    """``ConversationService.set_meta``: what voice callbacks (and other components) keep on a
    conversation goes through the service, one key at a time; an unknown conversation is 404."""
    from hub.errors import NotFound

    _, _, session = await start_chat(hub)
    cid = session["conversation_id"]
    conv = hub.services.conversations
    before = dict((await conv.row(cid)).meta or {})
    await conv.set_meta(cid, "callback", {"status": "dialling"})
    await conv.set_meta(cid, "survey", {"sent": True})
    await conv.set_meta(cid, "callback", {"status": "done"})
    assert (await conv.row(cid)).meta == {**before, "callback": {"status": "done"}, "survey": {"sent": True}}
    with pytest.raises(NotFound):
        await conv.set_meta("no-such-conversation", "callback", {})
