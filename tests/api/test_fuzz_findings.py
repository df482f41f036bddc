"""What the schemathesis run over the API (tests/api/test_schemathesis.py) found, each pinned by a
plain request: a clear 4xx problem with a stable code, the problem document's own fields intact,
and nothing changed."""

from __future__ import annotations

import pytest

from tests.support.hub import InProcessHub


async def test_nulls_for_a_queues_required_settings_are_refused_and_change_nothing(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    before = (await admin.ok("GET", "/api/queues"))[0]
    r = await admin.patch(f"/api/queues/{before['id']}", {"members": None, "strategy": None, "overflow": None})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_error"
    assert {e["loc"][1] for e in problem["errors"]} == {"members", "strategy"}  # overflow may be cleared
    after = next(q for q in await admin.ok("GET", "/api/queues") if q["id"] == before["id"])
    assert after == before


@pytest.mark.storage  # SQLite's and PostgreSQL's words for a refused row differ
async def test_a_second_calendar_of_the_same_name_is_a_conflict(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    body = {"name": "Night shift", "tz": "UTC", "weekly": {"0": [["22:00", "23:59"]]}, "holidays": []}
    await admin.ok("POST", "/api/calendars", body, status=201)
    r = await admin.post("/api/calendars", body)
    assert r.status_code == 409 and r.json()["code"] == "duplicate", r.text
    assert [c["name"] for c in await admin.ok("GET", "/api/calendars")].count("Night shift") == 1


@pytest.mark.storage  # SQLite's and PostgreSQL's words for a refused row differ
async def test_a_contact_owned_by_an_unknown_agent_is_refused(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    total = (await admin.ok("GET", "/api/contacts"))["total"]
    r = await admin.post("/api/contacts", {"name": "Owner Probe", "owner_agent_id": ""})
    assert r.status_code == 422 and r.json()["code"] == "unknown_reference", r.text
    assert (await admin.ok("GET", "/api/contacts"))["total"] == total


async def test_a_refused_ticket_transition_keeps_the_problems_status_a_number(hub: InProcessHub) -> None:
    agent = await hub.client("agent1")
    ticket = await agent.ok("POST", "/api/tickets", {"type": "repair", "subject": "Leaking pipe"}, status=201)
    r = await agent.post(f"/api/tickets/{ticket['id']}/status", {"status": "new"})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["status"] == 409 and problem["code"] == "invalid_transition"
    assert problem["from"] == "new" and problem["to"] == "new" and "open" in problem["allowed"]
