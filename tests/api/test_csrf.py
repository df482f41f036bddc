"""Requests from elsewhere (issue #16, item 5): a page of another origin — even another port of the
same host, which is "same-site" so the SameSite=Lax session cookie goes with it — cannot make a
logged-in browser change anything, nor open the staff socket; the hub's own pages, scripts that
send JSON, and the widget (its own token, any site unless widget_origins is set) still work."""

from __future__ import annotations

import json

import httpx
import pytest
import socketio

from tests.api.helpers import start_chat
from tests.support.hub import InProcessHub, running_hub


def browser(hub: InProcessHub, cookie: str, origin: str | None, **headers: str) -> httpx.AsyncClient:
    """What a browser sends with the logged-in user's cookie, from a page of ``origin``."""
    h = {"Cookie": cookie, **headers}
    if origin is not None:
        h["Origin"] = origin
    return httpx.AsyncClient(base_url=hub.base_url, headers=h, timeout=10)


async def test_another_origin_cannot_use_the_staff_session(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    new_user = {"username": "mallory", "password": "a-long-password-1", "roles": ["admin"]}
    same_host_other_port = f"http://127.0.0.1:{hub.port + 1}"
    for origin, extra in ((same_host_other_port, {}), ("https://evil.example", {}), ("null", {}),
                          (None, {"Referer": "https://evil.example/page"})):
        async with browser(hub, admin.cookie_header, origin, **extra) as page:
            r = await page.post("/api/users", json=new_user)
            assert r.status_code == 403 and r.json()["code"] == "csrf_refused", (origin, r.text)
            r = await page.delete("/api/auth/sessions/0000000000000000")
            assert r.status_code == 403, (origin, r.text)
    # a form-like body without Origin or Referer (a browser that strips both) is refused too
    async with browser(hub, admin.cookie_header, None, **{"Content-Type": "text/plain"}) as page:
        r = await page.post("/api/users", content=json.dumps(new_user))
        assert r.status_code == 403 and r.json()["code"] == "csrf_refused", r.text
    users = await admin.ok("GET", "/api/users")
    assert "mallory" not in [u["username"] for u in (users["items"] if isinstance(users, dict) else users)]
    # the hub's own pages, and a script that sends JSON without Origin, are served
    async with browser(hub, admin.cookie_header, hub.base_url) as page:
        assert (await page.post("/api/users", json=new_user)).status_code == 201
    async with browser(hub, admin.cookie_header, None) as script:
        r = await script.post("/api/users", json={**new_user, "username": "trent"})
        assert r.status_code == 201, r.text
    # reading is not state-changing; requests without the session cookie are not affected
    async with browser(hub, admin.cookie_header, "https://evil.example") as page:
        assert (await page.get("/api/me")).status_code == 200
    _, widget, session = await start_chat(hub)  # the widget: a bearer token, any site
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10,
                                 headers={"Origin": "https://shop.example",
                                          "Authorization": f"Bearer {session['token']}"}) as site:
        assert (await site.post("/api/widget/handover")).status_code in (200, 409)
    await widget.close()


async def test_the_staff_socket_refuses_other_origins(hub: InProcessHub) -> None:
    sup = await hub.client("supervisor")
    for elsewhere in (f"http://127.0.0.1:{hub.port + 1}", "https://evil.example"):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await _connect_from(hub, sup.cookie_header, elsewhere)
    own = await _connect_from(hub, sup.cookie_header, hub.base_url)
    assert own.connected
    await own.disconnect()


async def _connect_from(hub: InProcessHub, cookie: str, origin: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False, request_timeout=5)
    await client.connect(hub.base_url, namespaces=["/desk"], headers={"Cookie": cookie, "Origin": origin},
                         transports=["websocket"], wait_timeout=5)
    return client


async def test_the_widget_socket_takes_the_sites_listed_in_widget_origins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_hub(tmp_path / "data", widget_origins="https://shop.example") as hub:
        _, widget, session = await start_chat(hub)
        await widget.close()
        token = session["token"]
        for origin, ok in (("https://shop.example", True), (hub.base_url, True), ("https://evil.example", False)):
            client = socketio.AsyncClient(reconnection=False, request_timeout=5)
            try:
                await client.connect(hub.base_url, namespaces=["/widget"], auth={"token": token},
                                     headers={"Origin": origin}, transports=["websocket"], wait_timeout=5)
                assert ok, f"{origin} was let in"
                await client.disconnect()
            except socketio.exceptions.ConnectionError:
                assert not ok, f"{origin} was refused"
