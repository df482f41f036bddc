"""SIGKILL between an event's commit and a durable consumer's effect (issue #14, acceptance 2).

The hub runs as ``server.py`` processes on one data directory. The ticket is created by a process
that runs no durable consumer (``HUB_EVENT_CONSUMERS=none``: as if it died right after the commit,
before any rule ran), which is then SIGKILLed; the next process replays the event log from the
rules' checkpoint: the rule's work order and its notifications happen, once. It is SIGKILLed as
soon as they are visible (its checkpoint may not be saved yet), and a further run does not repeat
them. The outbound SMS/email reply consumers have their own crash tests in tests/channels."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.hub import HubProcess

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL
# what these processes do not need (start time)
LEAN = {"HUB_KB_ENABLED": "false", "HUB_SMS_ENABLED": "false", "HUB_FAX_ENABLED": "false",
        "HUB_EMAIL_ENABLED": "false"}


def login(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=10)
    r = c.post("/api/auth/login", json={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    return c


def ok(c: httpx.Client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    r = c.request(method, path, json=body)
    assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


def effects(base: str, ticket_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The work orders of the ticket and the supervisor's rule notifications."""
    dispatch = login(base, "dispatch")
    sup = login(base, "supervisor")
    try:
        wos = [w for w in ok(dispatch, "GET", "/api/workorders")["items"] if w["ticket_id"] == ticket_id]
        notes = [n["title"] for n in ok(sup, "GET", "/api/notifications")["items"] if n["kind"] == "rule"]
        return wos, notes
    finally:
        dispatch.close()
        sup.close()


async def test_a_rule_whose_event_was_committed_before_a_crash_acts_once_after_restart(tmp_path: Path,
                                                                                       database_url: str):
    data = tmp_path / "data"
    first = HubProcess(data, database_url, env=LEAN).start()  # consumers run: their checkpoints exist
    try:
        admin = login(first.base_url, "admin")
        ok(admin, "POST", "/api/rules", {
            "name": "Repairs become work orders", "event": "ticket.created",
            "conditions": {"all": [{"field": "ticket.type", "op": "eq", "value": "repair"}]},
            "actions": [{"type": "create_work_order", "title": "Repair: {ticket.subject}"},
                        {"type": "notify", "targets": [{"kind": "supervisors"}],
                         "message": "Work order for {ticket.subject}"}]}, status=201)
        admin.close()
    finally:
        first.stop()

    second = HubProcess(data, database_url, env={**LEAN, "HUB_EVENT_CONSUMERS": "none"}).start()
    try:
        agent = login(second.base_url, "agent1")
        tk = ok(agent, "POST", "/api/tickets", {"type": "repair", "subject": "Leaking pipe"}, status=201)
        agent.close()
        await asyncio.sleep(1.0)  # time enough for a rule to run, had any consumer been here
        assert effects(second.base_url, tk["id"]) == ([], [])
    finally:
        second.kill()

    third = HubProcess(data, database_url, env=LEAN).start()
    try:
        deadline = time.monotonic() + 15
        while True:
            wos, notes = effects(third.base_url, tk["id"])
            if wos and notes:
                break
            assert time.monotonic() < deadline, "the replayed rule did not act"
            await asyncio.sleep(0.05)
    finally:
        third.kill()  # at once: the rules' checkpoint may still be behind the ticket's event
    assert [w["title"] for w in wos] == ["Repair: Leaking pipe"]
    assert notes == ["Work order for Leaking pipe"]

    fourth = HubProcess(data, database_url, env=LEAN).start()
    try:
        await asyncio.sleep(2.0)  # a replay, if any, has run by now
        wos, notes = effects(fourth.base_url, tk["id"])
        assert [w["title"] for w in wos] == ["Repair: Leaking pipe"]
        assert notes == ["Work order for Leaking pipe"]
    finally:
        fourth.stop()
