"""Bad input gets a clear 4xx problem document and changes nothing (acceptance 6)."""

from __future__ import annotations

import pytest

from tests.api.helpers import agent_desk, queue_id, start_chat


async def _count_contacts(client) -> int:
    return (await client.ok("GET", "/api/contacts?limit=500"))["total"]


async def test_malformed_json_is_400_and_changes_nothing(hub):
    admin = await hub.client("admin")
    before = await _count_contacts(admin)
    r = await admin.http.post("/api/contacts", content=b'{"name": "x",',
                              headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "malformed_json"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await _count_contacts(admin) == before


@pytest.mark.parametrize("body, field", [
    ({"name": 5}, "name"),
    ({"name": "Ann", "vip": "yes"}, "vip"),
    ({"name": "Ann", "tags": "a,b"}, "tags"),
    ({"name": "Ann", "unknown": 1}, "unknown"),
    ({"name": ""}, "name"),
    ({"name": "Ann", "email": "not-an-email"}, "email"),
    ({"name": "Ann", "custom": {"no_such_field": 1}}, "custom"),
])
async def test_wrong_types_are_422_with_the_field_named(hub, body, field):
    admin = await hub.client("admin")
    before = await _count_contacts(admin)
    r = await admin.post("/api/contacts", body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_error"
    assert any(field in e["loc"] for e in problem["errors"]), problem
    assert await _count_contacts(admin) == before


async def test_forbidden_roles_get_403(hub):
    agent = await hub.client("agent1")
    r = await agent.post("/api/queues", {"name": "Sneaky"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await agent.get("/api/wallboard")
    assert r.status_code == 403
    r = await agent.post("/api/users", {"username": "x1", "password": "pass1", "roles": ["admin"]})
    assert r.status_code == 403
    admin = await hub.client("admin")
    assert all(q["name"] != "Sneaky" for q in await admin.ok("GET", "/api/queues"))
    anon = await hub.client()
    r = await anon.get("/api/conversations")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_customer_cannot_read_or_write_another_customers_conversation(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    alice, wa, sa = await start_chat(hub, queue=general, name="Ann", email="ann@example.com")
    bob, wb, sb = await start_chat(hub, queue=general, name="Ben", email="ben@example.com")
    mine = await bob.ok("GET", "/api/widget/conversation")
    assert mine["id"] == sb["conversation_id"]
    # staff endpoints are closed to a widget token
    r = await bob.get(f"/api/conversations/{sa['conversation_id']}")
    assert r.status_code == 401
    # an agent endpoint for another conversation id with the widget token: refused
    r = await bob.post(f"/api/conversations/{sa['conversation_id']}/messages", {"body": "hi"})
    assert r.status_code == 401
    # a made-up token opens nothing, neither over HTTP nor Socket.IO
    bob.http.headers["Authorization"] = "Bearer forged"
    assert (await bob.get("/api/widget/conversation")).status_code == 401
    import socketio

    from tests.support.sockets import Recorder
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Recorder("/widget").connect(hub.base_url, auth={"token": "forged"})
    history = await alice.ok("GET", "/api/widget/conversation")
    assert [m["body"] for m in history["messages"]] == ["My gas meter shows an error"]
    for s in (desk, wa, wb):
        await s.close()


async def test_oversize_and_wrong_type_uploads_are_refused_and_nothing_is_kept(hub):
    agent, desk = await agent_desk(hub, "agent1")
    customer, widget, session = await start_chat(hub)
    limit = hub.settings.max_upload_bytes
    r = await customer.http.post("/api/widget/attachments",
                                 files={"file": ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * limit, "image/png")})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = await customer.http.post("/api/widget/attachments",
                                 files={"file": ("run.exe", b"MZ\x90\x00", "application/x-msdownload")})
    assert r.status_code == 415
    r = await customer.http.post("/api/widget/attachments",
                                 files={"file": ("fake.png", b"<script>alert(1)</script>", "image/png")})
    assert r.status_code == 415
    files = [p for p in hub.settings.attachments_dir.rglob("*") if p.is_file()] \
        if hub.settings.attachments_dir.exists() else []
    assert files == []
    ok = await customer.http.post("/api/widget/attachments",
                                  files={"file": ("meter.png", b"\x89PNG\r\n\x1a\nrest", "image/png")})
    assert ok.status_code == 201
    ack = await widget.call("message", {"body": "photo", "client_id": "p1",
                                        "attachment_ids": [ok.json()["id"]]})
    assert ack["ok"] and ack["message"]["attachments"][0]["filename"] == "meter.png"
    # the customer cannot attach a file twice, nor another conversation's file
    again = await widget.call("message", {"body": "again", "client_id": "p2",
                                          "attachment_ids": [ok.json()["id"]]})
    assert again["ok"] is False and again["code"] == "validation_error"
    await desk.close()
    await widget.close()


async def test_socket_events_check_the_sender(hub):
    agent, desk = await agent_desk(hub, "agent1")
    customer, widget, session = await start_chat(hub)
    # agent1 has not accepted: typing into someone else's conversation is refused
    res = await desk.call("typing", {"conversation_id": session["conversation_id"]})
    assert res["ok"] is False
    bad = await widget.call("message", {"body": 42})
    assert bad["ok"] is False and bad["code"] == "validation_error"
    huge = await widget.call("message", {"body": "x" * 10_001, "client_id": "h"})
    assert huge["ok"] is False
    anon = await hub.client()
    import socketio

    from tests.support.sockets import Recorder
    with pytest.raises(socketio.exceptions.ConnectionError):
        await Recorder("/desk").connect(hub.base_url)
    await anon.close()
    await desk.close()
    await widget.close()


async def test_unknown_api_path_is_a_problem_document(hub):
    c = await hub.client()
    r = await c.get("/api/nope")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    doc = await c.ok("GET", "/api/openapi.json")
    assert "/api/widget/sessions" in doc["paths"] and "/api/conversations/{id}/accept" in doc["paths"]
    health = await c.ok("GET", "/api/health")
    assert health["status"] == "ok"


async def test_customer_token_expires(tmp_path):
    import asyncio

    from tests.support.hub import running_hub

    async with running_hub(tmp_path / "data", widget_session_ttl_s=1) as hub:
        customer, widget, session = await start_chat(hub)
        assert (await customer.get("/api/widget/conversation")).status_code == 200
        await widget.close()
        await asyncio.sleep(1.2)
        assert (await customer.get("/api/widget/conversation")).status_code == 401


async def test_json_endpoints_refuse_other_content_types_and_huge_bodies(hub):
    admin = await hub.client("admin")
    r = await admin.http.post("/api/contacts", content=b"name=x", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    r = await admin.http.post("/api/contacts", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("raw, what", [
    (b"[" * 100_000 + b"]" * 100_000, "nested"),  # RecursionError in the JSON parser
    (b'{"name": "Ann", "custom": ' + b"[" * 100 + b"]" * 100 + b"}", "nested"),  # deeper than 64
    (b'{"name": 1' + b"0" * 5000 + b"}", "not valid JSON"),  # an int of 5,001 digits: ValueError
])
async def test_absurd_json_is_400_not_500_and_changes_nothing(hub, raw, what):
    """Issue #16, item 10: found answering 500 (RecursionError, ValueError)."""
    admin = await hub.client("admin")
    before = await _count_contacts(admin)
    r = await admin.http.post("/api/contacts", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "malformed_json", r.text
    assert what in r.json()["detail"]
    assert await _count_contacts(admin) == before


@pytest.mark.parametrize("path", [
    "/api/contacts?offset=" + "9" * 30,  # found answering 500 (OverflowError binding it)
    "/api/contacts?offset=1000000001",
    "/api/kb/articles?offset=" + "9" * 30,
])
async def test_huge_offsets_are_422(hub, path):
    admin = await hub.client("admin")
    r = await admin.get(path)
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text
    assert (await admin.get(path.split("?")[0] + "?offset=1000000000")).status_code == 200


@pytest.mark.parametrize("field", ["vip", "tags", "name"])
async def test_clearing_a_field_a_contact_always_has_is_422(hub, field):
    """Found by a schemathesis run over the OpenAPI document: {"vip": null} answered 500."""
    admin = await hub.client("admin")
    c = await admin.ok("POST", "/api/contacts", {"name": "Ann", "tags": ["a"], "vip": True}, status=201)
    r = await admin.patch(f"/api/contacts/{c['id']}", {field: None})
    assert r.status_code == 422 and field in r.text, r.text
    after = await admin.ok("GET", f"/api/contacts/{c['id']}")
    assert (after["name"], after["tags"], after["vip"]) == ("Ann", ["a"], True)
