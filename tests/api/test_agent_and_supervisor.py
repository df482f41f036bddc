"""Agent states with reasons and history (AGENT-1), supervisor force and wallboard (SUP-1),
typing indicators and attachments both ways (CHAT-1), audit log (ADMIN-1)."""

from __future__ import annotations

from tests.api.helpers import agent_desk, queue_id, start_chat
from tests.support.sockets import Recorder
from tests.support.wait import eventually


async def test_state_changes_with_reasons_are_kept_as_history(hub):
    agent, desk = await agent_desk(hub, "agent3")
    await agent.ok("POST", "/api/agent/state", {"state": "not_ready", "reason": "lunch"})
    r = await agent.post("/api/agent/state", {"state": "not_ready", "reason": "nap"})
    assert r.status_code == 422
    r = await agent.post("/api/agent/state", {"state": "busy"})
    assert r.status_code == 422
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    history = await agent.ok("GET", "/api/agent/history")
    assert [(h["state"], h["reason"]) for h in history[:3]] == [
        ("ready", None), ("not_ready", "lunch"), ("ready", None)]
    # pushed to the desk after commit (each push says the agent's state when it is sent): the desk
    # ends up showing ready
    await eventually(lambda: [e["state"] for e in desk.received("agent_state")][-1:] == ["ready"],
                     what="the desk is told the agent is ready")
    await desk.close()


async def test_supervisor_forces_states_and_sees_the_wallboard_live(hub):
    sup = await hub.client("supervisor")
    board = await Recorder("/desk").connect(
        hub.base_url, cookie=sup.cookie_header)
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    snap = await board.wait("wallboard", lambda d: any(a["state"] == "ready" for a in d["agents"]))
    assert next(a for a in snap["agents"] if a["id"] == agent.user["id"])["state"] == "ready"
    await agent.ok("POST", "/api/agent/state", {"state": "not_ready", "reason": "break"})
    customer, widget, session = await start_chat(hub, queue=general)
    # waiting comes from the ACD at once, the day's counters from events after commit: a snapshot
    # may show one before the other, the next (wallboard_interval_s later) shows both
    snap = await board.wait("wallboard", lambda d: next(
        q for q in d["queues"] if q["id"] == general)["waiting"] == 1 and next(
        q for q in d["queues"] if q["id"] == general)["offered_today"] == 1)
    gq = next(q for q in snap["queues"] if q["id"] == general)
    assert gq["longest_wait_s"] >= 0
    forced = await sup.ok("POST", f"/api/agents/{agent.user['id']}/state", {"state": "ready"})
    assert forced["state"] == "ready"
    await desk.wait("offer", lambda d: d["conversation"]["id"] == session["conversation_id"])
    await agent.ok("POST", f"/api/conversations/{session['conversation_id']}/accept")
    snap = await board.wait("wallboard", lambda d: next(
        q for q in d["queues"] if q["id"] == general)["answered_today"] == 1)
    assert next(q for q in snap["queues"] if q["id"] == general)["service_level_today"] == 100.0
    history = await sup.ok("GET", f"/api/agents/{agent.user['id']}/history")
    assert (history[0]["state"], history[0]["forced_by"]) == ("ready", sup.user["id"])
    assert (history[1]["state"], history[1]["reason"], history[1]["forced_by"]) == (
        "not_ready", "break", None)
    # supervisors see the chat (monitor) in the "all" view; agents may not use it
    all_view = await sup.ok("GET", "/api/conversations?view=all")
    assert session["conversation_id"] in [c["id"] for c in all_view["items"]]
    assert (await agent.get("/api/conversations?view=all")).status_code == 403
    r = await agent.post(f"/api/agents/{sup.user['id']}/state", {"state": "logged_out"})
    assert r.status_code == 403
    for s in (board, desk, widget):
        await s.close()


async def test_typing_indicators_and_attachments_reach_the_other_side(hub):
    agent, desk = await agent_desk(hub, "agent1")
    customer, widget, session = await start_chat(hub)
    cid = session["conversation_id"]
    await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    await widget.emit("typing", {})
    got = await desk.wait("typing", lambda d: d["conversation_id"] == cid)
    assert got["sender"] == "customer"
    assert (await desk.call("typing", {"conversation_id": cid}))["ok"] is True
    await widget.wait("typing", lambda d: d["sender"] == "agent")
    # customer's photo: the agent can open it; a stranger cannot
    up = await customer.http.post("/api/widget/attachments",
                                  files={"file": ("leak.jpg", b"\xff\xd8\xff\xe0jpegdata", "image/jpeg")})
    assert up.status_code == 201
    ack = await widget.call("message", {"body": "see photo", "client_id": "x1",
                                        "attachment_ids": [up.json()["id"]]})
    assert ack["ok"]
    r = await agent.get(f"/api/attachments/{up.json()['id']}")
    assert r.status_code == 200 and r.content == b"\xff\xd8\xff\xe0jpegdata"
    assert r.headers["x-content-type-options"] == "nosniff"
    admin = await hub.client("admin")
    await admin.ok("POST", "/api/users", {"username": "outsider", "password": "outsider-pass-1",
                                          "roles": ["agent"]}, status=201)
    outsider = await hub.client()
    await outsider.login("outsider", "outsider-pass-1")  # an agent of no queue of this chat
    assert (await outsider.get(f"/api/attachments/{up.json()['id']}")).status_code == 404
    # agent's PDF reaches the customer as an attachment of the reply
    pdf = await agent.http.post("/api/attachments", files={"file": ("tariff.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert pdf.status_code == 201
    reply = await agent.ok("POST", f"/api/conversations/{cid}/messages",
                           {"body": "our tariff", "attachment_ids": [pdf.json()["id"]]}, status=201)
    seen = await widget.wait("message", lambda d: d["id"] == reply["id"])
    assert seen["attachments"][0]["filename"] == "tariff.pdf"
    r = await customer.get(f"/api/attachments/{pdf.json()['id']}")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    await desk.close()
    await widget.close()


async def test_admin_changes_and_logins_are_in_the_audit_log(hub):
    admin = await hub.client("admin")
    await admin.ok("POST", "/api/skills", {"name": "meters"}, status=201)
    bad = await hub.client()
    r = await bad.post("/api/auth/login", {"username": "agent1", "password": "wrong"})
    assert r.status_code == 401
    audit = await admin.ok("GET", "/api/audit?limit=10")
    types = [a["type"] for a in audit]
    assert types[0] == "user.login_failed" and "admin.changed" in types and "user.login" in types
    agent = await hub.client("agent1")
    assert (await agent.get("/api/audit")).status_code == 403


async def test_repeated_wrong_passwords_are_rate_limited(hub):
    c = await hub.client()
    for _ in range(hub.settings.login_max_failures):
        assert (await c.post("/api/auth/login", {"username": "agent2", "password": "x"})).status_code == 401
    r = await c.post("/api/auth/login", {"username": "agent2", "password": "demo"})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"  # issue #16: 429, Retry-After
    assert int(r.headers["Retry-After"]) >= 1


async def test_the_session_answers_without_a_401_and_says_what_runs(hub):
    """The web UI asks who is signed in (nobody: null, no 401 logged on the login page) and what
    parts of the hub run, so it never calls what is off (voice here)."""
    anonymous = await hub.client()
    r = await anonymous.get("/api/auth/session")
    assert r.status_code == 200 and r.json() == {"user": None}
    agent = await hub.client("agent1")
    me = (await agent.ok("GET", "/api/auth/session"))["user"]
    assert me["username"] == "agent1" and "desk" in me["permissions"]
    assert me["features"]["voice"] is False and me["features"]["softphone"] is False
    assert me["features"]["kb"] is True
    assert (await agent.ok("GET", "/api/me"))["features"] == me["features"]


async def test_every_signed_in_person_reads_the_directory_and_agents_see_states(hub):
    """Transfer targets and owner pickers: every queue and every active agent (issue #19: an
    agent's transfer dialog listed no agents); states only for the desk and supervisors."""
    agent, desk = await agent_desk(hub, "agent2")  # ready
    d = await (await hub.client("agent1")).ok("GET", "/api/directory")
    assert {"General enquiries", "Billing"} <= {q["name"] for q in d["queues"]}
    bob = next(a for a in d["agents"] if a["display_name"] == "Bob Li")
    assert bob["state"] == "ready"
    assert not any(a["display_name"] == "Admin" for a in d["agents"])  # not an agent
    km = await (await hub.client("km")).ok("GET", "/api/directory")
    assert {a["display_name"] for a in km["agents"]} == {a["display_name"] for a in d["agents"]}
    assert all(a["state"] is None for a in km["agents"])
    assert (await (await hub.client()).get("/api/directory")).status_code == 401
    await desk.close()


async def test_a_chat_transferred_to_another_queue_counts_as_offered_and_answered_there(hub):
    """#19 item 10: the wallboard counted a transferred chat as answered in the target queue but
    never as offered there (answered > offered)."""
    sup = await hub.client("supervisor")
    board = await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    agent3, desk3 = await agent_desk(hub, "agent3")  # General, not Billing
    general = await queue_id(agent3, "General enquiries")
    billing = await queue_id(agent3, "Billing")
    _customer, widget, session = await start_chat(hub, queue=general)
    cid = session["conversation_id"]
    await desk3.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent3.ok("POST", f"/api/conversations/{cid}/accept")
    agent2, desk2 = await agent_desk(hub, "agent2")  # Billing
    await agent3.ok("POST", f"/api/conversations/{cid}/transfer", {"queue_id": billing})
    await desk2.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent2.ok("POST", f"/api/conversations/{cid}/accept")

    def figures(d):  # type: ignore[no-untyped-def]
        return {q["id"]: (q["offered_today"], q["answered_today"]) for q in d["queues"]}

    snap = await board.wait("wallboard", lambda d: figures(d)[billing] == (1, 1) and figures(d)[general] == (1, 1))
    assert figures(snap)[billing] == (1, 1) and figures(snap)[general] == (1, 1)
    # the same after a restart of the figures (loaded from the event log)
    await hub.services.wallboard.start()
    counts = {q["id"]: (q["offered_today"], q["answered_today"])
              for q in (await hub.services.wallboard.snapshot())["queues"]}
    assert counts[billing] == (1, 1) and counts[general] == (1, 1)
    for r in (board, desk3, desk2, widget):
        await r.close()
