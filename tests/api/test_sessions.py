"""Sessions end for real (issue #16, item 1): logging out, being deactivated or given a new password,
an administrator's or the user's own "end session" end the sessions and close their open desk
sockets at once, so customer messages stop reaching them; a change of roles closes the sockets
so they reconnect with the rooms the new roles allow; a socket does not outlive its session's
expiry. Users list and end their own sessions; administrators anyone's. Real Socket.IO clients."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from sqlalchemy import update

from hub.db import tables as t
from tests.api.helpers import agent_desk, start_chat
from tests.support.hub import ApiClient, InProcessHub
from tests.support.sockets import Recorder
from tests.support.wait import eventually


async def closed(desk: Recorder, reason: str) -> None:
    """The hub told the desk why and closed its socket."""
    ended = await desk.wait("session_ended", timeout=5)
    assert ended["reason"] == reason, ended
    await eventually(lambda: not desk.sio.connected, within=5, what="the socket is closed")


async def customer_says(widget: Recorder, text: str, key: str) -> None:
    ack = await widget.call("message", {"body": text, "client_id": key})
    assert ack["ok"], ack


async def test_logout_closes_the_supervisors_socket_and_messages_stop_reaching_it(hub: InProcessHub) -> None:
    sup = await hub.client("supervisor")
    desk = await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    _, widget, session = await start_chat(hub)
    await customer_says(widget, "is anyone there?", "m1")
    await desk.wait("message", lambda m: m["body"] == "is anyone there?")  # supervisors see chats
    r = await sup.post("/api/auth/logout")
    assert r.status_code == 204
    await closed(desk, "logout")
    await customer_says(widget, "my card number is 4111", "m2")
    await hub.services.bus.settled()
    assert "my card number is 4111" not in [m["body"] for m in desk.received("message")]
    # the cookie is dead, and a socket cannot be opened with it
    again = ApiClient(hub.base_url)
    again.http.cookies.set("hub_session", sup.http.cookies.get("hub_session") or "x")
    assert (await again.get("/api/me")).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    await widget.close()
    await again.http.aclose()


async def test_deactivating_an_agent_or_resetting_their_password_closes_their_sockets(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    agent1, desk1 = await agent_desk(hub, "agent1", ready=False)
    agent2, desk2 = await agent_desk(hub, "agent2", ready=False)
    assert agent1.user is not None and agent2.user is not None
    await admin.ok("PATCH", f"/api/users/{agent1.user['id']}", {"active": False})
    await closed(desk1, "deactivated")
    assert (await agent1.get("/api/me")).status_code == 401
    await admin.ok("PATCH", f"/api/users/{agent2.user['id']}", {"password": "a-new-secret-42"})
    await closed(desk2, "password_changed")
    assert (await agent2.get("/api/me")).status_code == 401
    assert desk1.sio.connected is False
    # nobody else was touched
    sup = await hub.client("supervisor")
    assert (await sup.get("/api/me")).status_code == 200


async def test_a_user_lists_and_ends_their_own_sessions_only(hub: InProcessHub) -> None:
    laptop = ApiClient(hub.base_url)
    laptop.http.headers["User-Agent"] = "Laptop/1.0"
    await laptop.login("agent1")
    phone = ApiClient(hub.base_url)
    phone.http.headers["User-Agent"] = "Phone/2.0"
    await phone.login("agent1")
    phone_desk = await Recorder("/desk").connect(hub.base_url, cookie=phone.cookie_header)
    mine = (await laptop.ok("GET", "/api/auth/sessions"))["items"]
    assert sorted(s["user_agent"] for s in mine) == ["Laptop/1.0", "Phone/2.0"]
    assert [s["user_agent"] for s in mine if s["current"]] == ["Laptop/1.0"]
    assert all(s["ip"] == "127.0.0.1" and s["expires_at"] > s["created_at"] for s in mine)
    other = next(s["id"] for s in mine if not s["current"])
    # someone else cannot end it, nor see it; a made-up id is not found
    agent2 = await hub.client("agent2")
    r = await agent2.delete(f"/api/auth/sessions/{other}")
    assert r.status_code == 404
    assert other not in [s["id"] for s in (await agent2.ok("GET", "/api/auth/sessions"))["items"]]
    assert (await laptop.delete("/api/auth/sessions/not-a-session")).status_code == 404
    assert (await phone.get("/api/me")).status_code == 200
    # the laptop ends the phone's session: the phone is logged out, its socket closed
    assert (await laptop.delete(f"/api/auth/sessions/{other}")).status_code == 204
    await closed(phone_desk, "ended_by_user")
    assert (await phone.get("/api/me")).status_code == 401
    assert (await laptop.get("/api/me")).status_code == 200
    assert [s["user_agent"] for s in (await laptop.ok("GET", "/api/auth/sessions"))["items"]] == ["Laptop/1.0"]
    anonymous = await hub.client()
    assert (await anonymous.get("/api/auth/sessions")).status_code == 401
    for c in (laptop, phone):
        await c.http.aclose()


async def test_an_admin_ends_anyones_sessions_and_others_may_not(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    agent, desk = await agent_desk(hub, "agent1", ready=False)
    assert agent.user is not None
    uid = agent.user["id"]
    listed = (await admin.ok("GET", f"/api/users/{uid}/sessions"))["items"]
    assert len(listed) == 1 and listed[0]["current"] is False
    sup = await hub.client("supervisor")
    assert (await sup.get(f"/api/users/{uid}/sessions")).status_code == 403
    assert (await sup.delete(f"/api/users/{uid}/sessions")).status_code == 403
    assert (await agent.get("/api/me")).status_code == 200  # refused requests changed nothing
    assert (await admin.delete(f"/api/users/{uid}/sessions/{'0' * 16}")).status_code == 404
    assert (await admin.delete("/api/users/nobody/sessions")).status_code == 404
    assert (await admin.delete(f"/api/users/{uid}/sessions")).status_code == 204
    await closed(desk, "ended_by_admin")
    assert (await agent.get("/api/me")).status_code == 401
    audit = await admin.ok("GET", "/api/audit")
    items: list[dict[str, Any]] = audit["items"] if isinstance(audit, dict) else audit
    assert any(e["data"].get("entity") == "session" and e["data"].get("id") == uid for e in items), items


async def test_new_roles_close_the_socket_which_reconnects_with_the_new_access(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    sup = await hub.client("supervisor")
    assert sup.user is not None
    desk = await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    await admin.ok("PATCH", f"/api/users/{sup.user['id']}", {"roles": ["agent"]})
    await closed(desk, "roles_changed")
    me = await sup.ok("GET", "/api/me")  # still logged in, as an agent now
    assert me["roles"] == ["agent"] and "supervise" not in me["permissions"]
    again = await Recorder("/desk").connect(hub.base_url, cookie=sup.cookie_header)
    _, widget, _ = await start_chat(hub)
    await customer_says(widget, "only supervisors and the assignee see this", "r1")
    await hub.services.bus.settled()
    assert not again.received("message")  # no longer in the supervisors' room
    await again.close()
    await widget.close()


async def test_a_socket_does_not_outlive_its_session(hub: InProcessHub) -> None:
    agent = await hub.client("agent1")
    assert agent.user is not None
    soon = hub.services.clock.now() + 1.0
    async with hub.services.db.tx() as tx:  # a session about to expire
        await tx.conn.execute(update(t.sessions).where(t.sessions.c.user_id == agent.user["id"])
                              .values(expires_at=soon))
    desk = await Recorder("/desk").connect(hub.base_url, cookie=agent.cookie_header)
    await closed(desk, "expired")
    assert (await agent.get("/api/me")).status_code == 401
