"""Who sees which conversation, on every path (issue #16, item 2), and the destructive CRM actions
and their audit trail (item 3).

An agent sees the conversations of the queues they belong to and those they handled
(``ConversationService.can_view``): not others in a contact's history (``GET
/api/contacts/{id}/conversations``, the conversation's own history, the screen pop), not by
linking one to a ticket, not in the fax store's search. Supervisors see everything. A call
recording is served only by its own route (never ``/api/attachments/{id}``), every request for it
audited, a range request too. Deleting, merging, making a VIP and setting the owner need
``contacts_manage`` (supervisors, admins), and ``/api/audit`` shows them, contact exports and
attachment downloads, and logins, each with the client's IP address and user agent.

The demo queues: agent1 is in General and Billing, not in Repairs; agent3 is in General and
Repairs; the supervisor in all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from hub.db import tables as t
from tests.api.helpers import agent_desk, queue_id, start_chat
from tests.channels.fax.support import SECRET, have_tools, make_tiff, post_fax
from tests.support.hub import ApiClient, InProcessHub, running_hub
from tests.voice.calls.recording_seed import seed_recording

ZHANG = "zhang.wei@example.com"  # a demo contact
UA = "SecurityReview/1.0 (visibility)"


async def audit(hub: InProcessHub, type_: str) -> list[dict[str, Any]]:
    admin = await hub.client("admin")
    return [e for e in await admin.ok("GET", "/api/audit?limit=200") if e["type"] == type_]


async def contact_id(client: ApiClient, email: str) -> str:
    found = await client.ok("GET", f"/api/contacts?q={email}")
    return str(found["items"][0]["id"])


async def repairs_conversation(hub: InProcessHub, repairs: str, text: str) -> str:
    """A chat of the demo contact Zhang Wei waiting in the Repairs queue."""
    row = await hub.services.conversations.open(channel="chat", queue_id=repairs, identity={"email": ZHANG},
                                                first_message=text)
    return str(row.id)


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {c["id"] for c in items}


@pytest.mark.storage  # the visibility rule as SQL, on SQLite and PostgreSQL
async def test_an_agent_sees_a_contacts_history_only_of_their_queues_or_what_they_handled(hub: InProcessHub) -> None:
    agent1, desk = await agent_desk(hub, "agent1")
    billing, repairs = await queue_id(agent1, "Billing"), await queue_id(agent1, "Repairs and leaks")
    other = await repairs_conversation(hub, repairs, "gas smell in the cellar")  # never agent1's
    _, widget, session = await start_chat(hub, queue=billing, message="a question about my bill")
    handled = session["conversation_id"]
    await desk.wait("offer", lambda d: d["conversation"]["id"] == handled)
    detail = await agent1.ok("POST", f"/api/conversations/{handled}/accept")
    # the screen pop and the conversation's own history leave out the Repairs chat
    pop = await desk.wait("screen_pop", lambda d: d["conversation_id"] == handled)
    assert other not in ids(pop["history"])
    assert other not in ids(detail["history"])
    assert (await agent1.get(f"/api/conversations/{other}")).status_code == 404  # the convention
    # agent1 hands the chat on to Repairs: still theirs to see, having handled it
    await agent1.ok("POST", "/api/agent/state", {"state": "not_ready", "reason": "break"})
    await agent1.ok("POST", f"/api/conversations/{handled}/transfer", {"queue_id": repairs})
    zhang = await contact_id(agent1, ZHANG)
    mine = ids(await agent1.ok("GET", f"/api/contacts/{zhang}/conversations"))
    assert handled in mine and other not in mine
    assert (await agent1.ok("GET", f"/api/conversations/{handled}"))["queue_id"] == repairs
    # a member of Repairs and a supervisor see both
    for who in ("agent3", "supervisor"):
        client = await hub.client(who)
        assert {handled, other} <= ids(await client.ok("GET", f"/api/contacts/{zhang}/conversations"))
    repairs_agent = await hub.client("agent3")
    assert other in ids((await repairs_agent.ok("GET", f"/api/conversations/{handled}"))["history"])
    await widget.close()
    await desk.close()


async def test_a_ticket_links_only_a_conversation_its_author_may_see(hub: InProcessHub) -> None:
    agent1 = await hub.client("agent1")
    repairs = await queue_id(agent1, "Repairs and leaks")
    other = await repairs_conversation(hub, repairs, "the boiler leaks")
    ticket = await agent1.ok("POST", "/api/tickets", {"subject": "Boiler", "type": "complaint"}, status=201)
    # like creating a ticket from it: as if the conversation did not exist, nothing linked
    r = await agent1.post(f"/api/tickets/{ticket['id']}/links", {"conversation_id": other})
    assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    r = await agent1.post("/api/tickets", {"subject": "x", "type": "complaint", "conversation_id": other})
    assert r.status_code == 404
    assert (await agent1.ok("GET", f"/api/tickets/{ticket['id']}"))["conversations"] == []
    # an agent of Repairs links it
    agent3 = await hub.client("agent3")
    linked = await agent3.ok("POST", f"/api/tickets/{ticket['id']}/links", {"conversation_id": other})
    assert [c["id"] for c in linked["conversations"]] == [other]
    # the ticket's page lists it to those who may see it, not to agent1 (no id, no subject)
    assert [c["id"] for c in (await agent3.ok("GET", f"/api/tickets/{ticket['id']}"))["conversations"]] == [other]
    assert (await agent1.ok("GET", f"/api/tickets/{ticket['id']}"))["conversations"] == []
    sup = await hub.client("supervisor")
    assert [c["id"] for c in (await sup.ok("GET", f"/api/tickets/{ticket['id']}"))["conversations"]] == [other]


@pytest.fixture
async def fax_hub(tmp_path: Path, database_url: str) -> AsyncIterator[InProcessHub]:
    """The hub with the fax provider's webhook secret (a fax arrives as in the fax tests)."""
    if not have_tools():
        pytest.skip("ghostscript and libtiff-tools are needed (apt-get install …)")
    async with running_hub(tmp_path / "data", database_url, fax_inbound_secret=SECRET) as h:
        yield h


@pytest.mark.storage  # the visibility rule as SQL, on SQLite and PostgreSQL
async def test_the_fax_store_search_shows_an_agent_only_faxes_they_may_see(fax_hub: InProcessHub,
                                                                          tmp_path: Path) -> None:
    hub = fax_hub
    sup = await hub.client("supervisor")
    tiff = make_tiff(tmp_path / "t", ["Meter 4711 reading"])
    r = await post_fax(sup.http, tiff.read_bytes(), **{"from": "+861065529988", "provider_id": "vis-1"})
    assert r.status_code == 201, r.text
    got = r.json()
    repairs = await queue_id(sup, "Repairs and leaks")
    async with hub.services.db.tx() as tx:  # the fax was routed to Repairs
        await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == got["conversation_id"])
                              .values(queue_id=repairs))
    agent1, agent3 = await hub.client("agent1"), await hub.client("agent3")
    search = "/api/fax/faxes?number=65529988"
    assert [f["id"] for f in (await agent3.ok("GET", search))["items"]] == [got["fax_id"]]
    assert [f["id"] for f in (await sup.ok("GET", search))["items"]] == [got["fax_id"]]
    assert (await agent1.ok("GET", search))["items"] == []
    for path in (f"/api/fax/faxes/{got['fax_id']}", f"/api/fax/faxes/{got['fax_id']}/original",
                 f"/api/fax/faxes/{got['fax_id']}/pages/1"):
        assert (await agent1.get(path)).status_code == 404, path
        assert (await agent3.get(path)).status_code == 200, path


async def test_a_recording_is_served_only_by_its_own_route_and_every_request_is_audited(hub: InProcessHub) -> None:
    s = hub.services
    agent1, agent2 = await hub.client("agent1"), await hub.client("agent2")
    general = await queue_id(agent1, "General enquiries")
    conv = await s.conversations.open(channel="voice", queue_id=general, identity={"name": "Max Muster",
                                                                               "phone": "+4930111222"})
    seeded = await seed_recording(s, caller="+4930111222", queue_id=general, agent_id=agent1.user["id"],
                                  started_at=1_780_000_000.0, duration=2.0, conversation_id=conv.id)
    aid, rid = seeded.attachment["id"], seeded.recording["id"]
    # agent2 is a member of the call's queue, the supervisor sees everything: neither gets the WAV
    # through the attachments route, as if it did not exist
    sup = await hub.client("supervisor")
    for client in (agent2, sup):
        assert (await client.get(f"/api/conversations/{conv.id}")).status_code == 200
        r = await client.get(f"/api/attachments/{aid}")
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.status_code
    # its own route: the agent who answered, and the supervisor; a range request is audited too
    sup.http.headers["User-Agent"] = UA
    r = await sup.get(f"/api/voice/recordings/{rid}/audio", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == seeded.wav[100:200]
    assert (await agent1.get(f"/api/voice/recordings/{rid}/audio")).content == seeded.wav
    assert (await agent2.get(f"/api/voice/recordings/{rid}/audio")).status_code == 404
    entries = await audit(hub, "voice.recording_downloaded")
    assert [(e["user_id"], e["data"]["range"]) for e in entries] == [
        (agent1.user["id"], None), (sup.user["id"], "bytes=100-199")]
    assert entries[1]["data"]["ip"] == "127.0.0.1" and entries[1]["data"]["user_agent"] == UA


async def test_attachment_downloads_are_audited_with_user_ip_and_user_agent(hub: InProcessHub) -> None:
    agent1 = await hub.client("agent1")
    agent1.http.headers["User-Agent"] = UA
    up = await agent1.http.post("/api/attachments", files={"file": ("meter.txt", b"reading 4711", "text/plain")})
    assert up.status_code == 201, up.text
    r = await agent1.get(f"/api/attachments/{up.json()['id']}", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.content == b"read"
    [entry] = await audit(hub, "attachment.downloaded")
    assert entry["user_id"] == agent1.user["id"]
    assert entry["data"] == {"attachment_id": up.json()["id"], "filename": "meter.txt", "via": "attachment",
                             "range": "bytes=0-3", "ip": "127.0.0.1", "user_agent": UA}


async def test_agents_may_not_delete_merge_or_set_vip_or_owner_supervisors_may_and_it_is_audited(
        hub: InProcessHub) -> None:
    agent1, sup = await hub.client("agent1"), await hub.client("supervisor")
    assert "contacts_manage" not in (await agent1.ok("GET", "/api/me"))["permissions"]
    assert "contacts_manage" in (await sup.ok("GET", "/api/me"))["permissions"]
    a = await agent1.ok("POST", "/api/contacts", {"name": "Sam", "email": "sam@example.com"}, status=201)
    b = await agent1.ok("POST", "/api/contacts", {"name": "Samuel", "phone": "+44 7000"}, status=201)
    owner = sup.user["id"] if sup.user else ""
    refused: list[tuple[str, str, Any]] = [
        ("DELETE", f"/api/contacts/{a['id']}", None),
        ("POST", "/api/contacts/merge", {"primary_id": a["id"], "duplicate_ids": [b["id"]]}),
        ("PATCH", f"/api/contacts/{a['id']}", {"vip": True}),
        ("PATCH", f"/api/contacts/{a['id']}", {"owner_agent_id": owner}),
        ("POST", "/api/contacts", {"name": "Vic", "vip": True}),
    ]
    for method, path, body in refused:
        r = await agent1.http.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (method, path, r.text)
    unchanged = await agent1.ok("GET", f"/api/contacts/{a['id']}")
    assert unchanged["vip"] is False and unchanged["owner_agent_id"] is None
    assert (await agent1.get(f"/api/contacts/{b['id']}")).status_code == 200
    # the contact form sends VIP and owner with every edit: unchanged, they need nothing more
    edited = await agent1.ok("PATCH", f"/api/contacts/{a['id']}",
                             {"company": "Sam Ltd", "vip": False, "owner_agent_id": None})
    assert edited["company"] == "Sam Ltd"

    sup.http.headers["User-Agent"] = UA
    await sup.ok("PATCH", f"/api/contacts/{a['id']}", {"vip": True, "owner_agent_id": owner})
    await sup.ok("POST", "/api/contacts/merge", {"primary_id": a["id"], "duplicate_ids": [b["id"]]})
    assert (await sup.delete(f"/api/contacts/{a['id']}")).status_code == 204
    assert (await sup.get("/api/contacts/export?format=xlsx")).status_code == 200
    assert (await agent1.get("/api/contacts/export")).status_code == 403

    where = {"ip": "127.0.0.1", "user_agent": UA}
    [standing] = [e for e in await audit(hub, "contact.standing_changed") if e["data"]["contact_id"] == a["id"]]
    assert standing["user_id"] == owner and standing["data"] == {
        "contact_id": a["id"], "vip": {"from": False, "to": True},
        "owner_agent_id": {"from": None, "to": owner}, **where}
    [merged] = await audit(hub, "contact.merged")
    assert merged["user_id"] == owner and merged["data"] == {"contact_id": a["id"], "merged": [b["id"]], **where}
    [deleted] = await audit(hub, "contact.deleted")
    assert deleted["user_id"] == owner and deleted["data"] == {"contact_id": a["id"], **where}
    [exported] = await audit(hub, "contact.exported")
    assert exported["user_id"] == owner and exported["data"]["format"] == "xlsx"
    assert exported["data"]["rows"] >= 3 and exported["data"]["ip"] == "127.0.0.1"
    assert exported["data"]["user_agent"] == UA


async def test_logins_failed_logins_and_logouts_are_audited_with_ip_and_user_agent(hub: InProcessHub) -> None:
    browser = ApiClient(hub.base_url)
    browser.http.headers["User-Agent"] = UA
    try:
        r = await browser.post("/api/auth/login", {"username": "agent4", "password": "not-the-password"})
        assert r.status_code == 401
        await browser.login("agent4")
        assert (await browser.post("/api/auth/logout")).status_code == 204
    finally:
        await browser.close()
    where = {"ip": "127.0.0.1", "user_agent": UA}
    [failed] = [e for e in await audit(hub, "user.login_failed") if e["data"]["username"] == "agent4"]
    assert failed["data"] == {"username": "agent4", **where}
    assert browser.user is not None
    [login] = [e for e in await audit(hub, "user.login") if e["user_id"] == browser.user["id"]]
    assert login["data"] == where
    [logout] = [e for e in await audit(hub, "user.logout") if e["user_id"] == browser.user["id"]]
    assert logout["data"] == where
