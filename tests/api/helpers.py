"""Small steps shared by the API tests (each a thing a user does)."""

from __future__ import annotations

from typing import Any

from tests.support.hub import ApiClient, InProcessHub
from tests.support.sockets import Recorder


async def queue_id(client: ApiClient, name: str) -> str:
    queues = await client.ok("GET", "/api/queues")
    return next(q["id"] for q in queues if q["name"] == name)


async def agent_desk(hub: InProcessHub, username: str, ready: bool = True) -> tuple[ApiClient, Recorder]:
    client = await hub.client(username)
    desk = await Recorder("/desk").connect(hub.base_url, cookie=client.cookie_header)
    if ready:
        state = await client.ok("POST", "/api/agent/state", {"state": "ready"})
        assert state["state"] == "ready"
    return client, desk


async def start_chat(
    hub: InProcessHub, name: str = "Zhang Wei", email: str | None = "zhang.wei@example.com",
    queue: str | None = None, message: str = "My gas meter shows an error", phone: str | None = None,
) -> tuple[ApiClient, Recorder, dict[str, Any]]:
    customer = await hub.client()
    body: dict[str, Any] = {"name": name, "message": message}
    if email:
        body["email"] = email
    if phone:
        body["phone"] = phone
    if queue:
        body["queue_id"] = queue
    session = await customer.ok("POST", "/api/widget/sessions", body, status=201)
    customer.http.headers["Authorization"] = f"Bearer {session['token']}"
    widget = await Recorder("/widget").connect(hub.base_url, auth={"token": session["token"]})
    return customer, widget, session
