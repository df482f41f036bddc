"""The work-order and ticket state machines: every action that is not allowed from a state is
refused with 409 and changes nothing (state, history, timers)."""

from __future__ import annotations

import pytest

from tests.support.wait import eventually
from tests.workflows.helpers import act, department_id, dispatch, new_work_order
from workflows.errors import InvalidTransition
from workflows.statemachine import (
    TICKET_FLOW,
    TICKET_STATUSES,
    WO_ACTIONS,
    WO_STATES,
    ticket_transition,
    wo_transition,
)

PATH = ["dispatch", "accept", "depart", "arrive", "fix", "complete", "close"]


def test_every_action_outside_its_sources_is_refused():
    for state in WO_STATES:
        for name, action in WO_ACTIONS.items():
            if state in action.sources:
                assert wo_transition(state, name).target == action.target
            else:
                with pytest.raises(InvalidTransition) as err:
                    wo_transition(state, name)
                assert err.value.status == 409 and err.value.details["state"] == state


def test_done_states_only_reopen():
    for state in ("completed", "closed"):
        allowed = {n for n, a in WO_ACTIONS.items() if state in a.sources}
        assert allowed <= {"close", "reopen"}
    assert not [n for n, a in WO_ACTIONS.items() if "cancelled" in a.sources]


def test_ticket_status_flow():
    for status in TICKET_STATUSES:
        for to in TICKET_STATUSES:
            if to in TICKET_FLOW[status]:
                ticket_transition(status, to)
            else:
                with pytest.raises(InvalidTransition):
                    ticket_transition(status, to)


async def _snapshot(client, wid):  # type: ignore[no-untyped-def]
    wo = await client.ok("GET", f"/api/workorders/{wid}")
    return wo["state"], len(wo["history"]), wo["updated_at"], wo["department_id"], wo["planned_end"]


async def _history_kinds(client, wid):  # type: ignore[no-untyped-def]
    return [h["kind"] for h in (await client.ok("GET", f"/api/workorders/{wid}"))["history"]]


async def test_invalid_transitions_over_the_api_change_nothing(hub):
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    pipes = await hub.client("pipes")
    dep = await department_id(dispatcher, "Pipe repairs")
    wo = await new_work_order(hub, agent)
    wid = wo["id"]
    # the supervisor has dispatch and tickets; pipes has department: together they may do anything,
    # so a refusal is the state machine's, not a permission's
    sup = await hub.client("supervisor")
    refused = 0
    for step in [None, *PATH]:
        if step == "dispatch":
            await dispatch(hub, dispatcher, wid, dep)
        elif step is not None:
            await act(pipes if WO_ACTIONS[step].permissions[0] == "department" else dispatcher, wid, step)
        await hub.services.bus.settled()  # what the step's events cause (history) happens after commit
        if step == "complete":  # the customer is told by a timer due at once (its own history entry)
            await eventually(lambda: _history_kinds(dispatcher, wid), until=lambda k: "customer_notified" in k)
        before = await _snapshot(dispatcher, wid)
        state = before[0]
        for name, action in WO_ACTIONS.items():
            if state in action.sources:
                continue
            # the department sees its order once dispatched; before that only dispatch does
            client = pipes if action.permissions[0] == "department" and state != "new" else sup
            body = {"action": name, "reason": "r", "department_id": dep,
                    "planned_start": 1.0, "planned_end": 2.0}
            r = await client.post(f"/api/workorders/{wid}/transitions", body)
            assert r.status_code == 409, (state, name, r.text)
            problem = r.json()
            assert problem["code"] == "invalid_transition" and problem["state"] == state
            assert f"cannot {name}" in problem["detail"]
            assert await _snapshot(dispatcher, wid) == before
            refused += 1
    assert refused > 40


async def test_bad_bodies_are_422_and_change_nothing(hub):
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    dep = await department_id(dispatcher, "Pipe repairs")
    wo = await new_work_order(hub, agent)
    wid = wo["id"]
    before = await _snapshot(dispatcher, wid)
    for body in [{"action": "dispatch"},  # no department and plan
                 {"action": "dispatch", "department_id": dep, "planned_start": 100.0, "planned_end": 50.0},
                 {"action": "dispatch", "department_id": "nope", "planned_start": 1.0, "planned_end": 2.0},
                 {"action": "teleport"},
                 {"action": "dispatch", "department_id": dep, "planned_start": "soon", "planned_end": 2.0},
                 {"action": "cancel"}]:
        r = await dispatcher.post(f"/api/workorders/{wid}/transitions", body)
        assert r.status_code in (404, 422), (body, r.text)
        assert await _snapshot(dispatcher, wid) == before
    r = await agent.post("/api/workorders", {"title": ""})
    assert r.status_code == 422
    r = await agent.post("/api/workorders", {"title": "x", "priority": "whenever"})
    assert r.status_code == 422
    r = await agent.post("/api/workorders", {"title": "x", "extra": 1})
    assert r.status_code == 422
    assert (await dispatcher.ok("GET", "/api/workorders"))["counts"]["new"] == 1


async def test_ticket_invalid_status_change_is_refused(hub):
    agent = await hub.client("agent1")
    tk = await agent.ok("POST", "/api/tickets", {"type": "complaint", "subject": "Rude installer"}, status=201)
    closed = await agent.ok("POST", f"/api/tickets/{tk['id']}/status", {"status": "closed"})
    r = await agent.post(f"/api/tickets/{tk['id']}/status", {"status": "pending"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    again = await agent.ok("GET", f"/api/tickets/{tk['id']}")
    assert again["status"] == "closed" and len(again["history"]) == len(closed["history"])
    r = await agent.post(f"/api/tickets/{tk['id']}/status", {"status": "archived"})
    assert r.status_code == 422
