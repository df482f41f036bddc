"""SLA and work-order timers on a manual clock (acceptance 2, business-hours part): reminders and
escalations fire at the right business-hours instant across a weekend and a holiday, pausing a
ticket stops its resolution clock, resolving it cancels its timers, and a work order is reminded
inside its planned window and flagged late after it. Timers fire only when the test calls
``scheduler.run_due()`` (the scheduler loop is stopped)."""

from __future__ import annotations

from datetime import datetime

from tests.api.helpers import start_chat
from tests.support.wait import eventually
from tests.workflows.conftest import SHANGHAI
from tests.workflows.helpers import act, department_id, dispatch, new_work_order, notifications

HOUR = 3600.0


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 2) -> float:
    return datetime(2027, month, day, hour, minute, second, tzinfo=SHANGHAI).timestamp()


async def _kinds(client, kind):  # type: ignore[no-untyped-def]
    return [n for n in await notifications(client) if n["kind"] == kind]


async def _setup(hub):  # type: ignore[no-untyped-def]
    admin = await hub.client("admin")
    cal = await admin.ok("POST", "/api/calendars", {
        "name": "Weekdays 9-17", "tz": "Asia/Shanghai",
        "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)}, "holidays": ["2027-02-01"]}, status=201)
    agent1 = await hub.client("agent1")
    queue = await admin.ok("POST", "/api/queues", {
        "name": "Complaints", "members": [agent1.user["id"]], "calendar_id": cal["id"]}, status=201)
    policy = await admin.ok("POST", "/api/sla-policies", {
        "name": "High complaints", "ticket_type": "complaint", "priority": "high",
        "first_response_s": 4 * HOUR, "resolution_s": 16 * HOUR, "reminder_lead_s": 1 * HOUR,
        "escalate_to": [{"kind": "supervisors"}]}, status=201)
    return admin, agent1, queue, policy


async def test_ticket_deadlines_cross_the_weekend_and_the_holiday(clocked_hub, clock):
    hub = clocked_hub
    sched = hub.services.scheduler
    _admin, agent1, queue, policy = await _setup(hub)
    sup = await hub.client("supervisor")
    tk = await agent1.ok("POST", "/api/tickets", {
        "type": "complaint", "priority": "high", "subject": "Billed twice", "queue_id": queue["id"],
        "assignee_id": agent1.user["id"]}, status=201)
    tid = tk["id"]
    assert tk["sla"]["policy_id"] == policy["id"]
    # Friday 15:00 + 4 business hours: Fri 15-17 (2 h), weekend and Monday's holiday closed, Tue 9-11
    assert tk["sla"]["first_response_due"] == at(2, 11)
    # + 16 business hours: Fri 2 h, Tue 8 h, Wed 9-15 6 h
    assert tk["sla"]["resolution_due"] == at(3, 15)

    for moment in (at(29, 16, 59, month=1), at(30, 12, month=1), at(1, 16), at(2, 9, 59, 59)):
        clock.advance(moment - clock.now())
        await sched.run_due()
        assert await _kinds(agent1, "sla_reminder") == [], moment
    clock.advance(at(2, 10, 0, 1) - clock.now())
    await sched.run_due()
    reminders = await _kinds(agent1, "sla_reminder")
    assert [n["title"] for n in reminders] == [f"Ticket #{tk['number']}: first response due soon"]
    # … and the same as a code with parameters, which the UI says in the reader's language
    assert [n["text"] for n in reminders] == [{"code": "notify.sla_reminder", "params": {
        "number": tk["number"], "which": "first_response", "subject": "Billed twice"}}]
    assert await _kinds(sup, "sla_escalation") == []

    clock.advance(at(2, 10, 59, 59) - clock.now())
    await sched.run_due()
    assert await _kinds(sup, "sla_escalation") == []
    clock.advance(at(2, 11, 0, 1) - clock.now())
    await sched.run_due()
    await sched.run_due()
    esc = await _kinds(sup, "sla_escalation")
    assert [n["title"] for n in esc] == [f"Ticket #{tk['number']}: first response overdue"]
    assert esc[0]["text"]["code"] == "notify.sla_escalation" and esc[0]["text"]["params"]["which"] == "first_response"
    detail = await agent1.ok("GET", f"/api/tickets/{tid}")
    assert detail["sla"]["first_response_breached"] is True
    assert detail["sla"]["resolution_breached"] is False
    kinds = [h["kind"] for h in detail["history"]]
    assert kinds == ["created", "sla_reminder", "sla_escalated"]
    # the hub's own lines: a code and parameters for the UI, the English in the body
    assert [(h["body"], h["text"]) for h in detail["history"]] == [
        (None, None),
        (f"first response due at {at(2, 11):.0f}",
         {"code": "history.sla_reminder", "params": {"which": "first_response", "due": at(2, 11)}}),
        ("first response deadline passed; escalated",
         {"code": "history.sla_escalated", "params": {"which": "first_response"}})]
    assert [h["at"] for h in detail["history"]][1:] == [at(2, 10, 0, 1), at(2, 11, 0, 1)]

    # Tue 12:00 the agent answers and then waits on the customer: 5 business hours used
    clock.advance(at(2, 11, 30) - clock.now())
    opened = await agent1.ok("POST", f"/api/tickets/{tid}/status", {"status": "open"})
    assert opened["first_response_at"] == at(2, 11, 30)
    clock.advance(at(2, 12) - clock.now())
    paused = await agent1.ok("POST", f"/api/tickets/{tid}/status", {"status": "pending"})
    assert paused["sla"]["paused"] is True and paused["sla"]["resolution_due"] is None
    clock.advance(at(3, 16) - clock.now())  # past the original resolution deadline
    await sched.run_due()
    assert await _kinds(agent1, "sla_reminder") == reminders
    assert len(await _kinds(sup, "sla_escalation")) == 1

    # Thursday 09:00 the customer answers: 11 business hours remain -> Thu 8 h + Fri 9-12
    clock.advance(at(4, 9) - clock.now())
    resumed = await agent1.ok("POST", f"/api/tickets/{tid}/status", {"status": "open"})
    assert resumed["sla"]["resolution_due"] == at(5, 12)
    clock.advance(at(5, 11, 0, 1) - clock.now())
    await sched.run_due()
    titles = [n["title"] for n in await _kinds(agent1, "sla_reminder")]
    assert titles[0] == f"Ticket #{tk['number']}: resolution due soon"

    # resolved before the deadline: the escalation never comes
    clock.advance(at(5, 11, 30) - clock.now())
    await agent1.ok("POST", f"/api/tickets/{tid}/status", {"status": "resolved"})
    clock.advance(at(5, 13) - clock.now())
    await sched.run_due()
    assert len(await _kinds(sup, "sla_escalation")) == 1
    final = await agent1.ok("GET", f"/api/tickets/{tid}")
    assert final["sla"]["resolution_breached"] is False


async def test_priority_change_recomputes_deadlines(clocked_hub, clock):
    hub = clocked_hub
    _admin, agent1, queue, policy = await _setup(hub)
    tk = await agent1.ok("POST", "/api/tickets", {
        "type": "complaint", "priority": "normal", "subject": "Slow reply", "queue_id": queue["id"]},
        status=201)
    assert tk["sla"]["policy_id"] != policy["id"]  # the demo complaint policy
    moved = await agent1.ok("PATCH", f"/api/tickets/{tk['id']}", {"priority": "high"})
    assert moved["sla"]["policy_id"] == policy["id"]
    assert moved["sla"]["first_response_due"] == at(2, 11)
    assert any(h["kind"] == "updated" and h["data"]["priority"] == {"from": "normal", "to": "high"}
               for h in moved["history"])


async def test_work_order_reminders_inside_the_planned_window_and_late_alert(clocked_hub, clock):
    hub = clocked_hub
    sched = hub.services.scheduler
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    pipes = await hub.client("pipes")
    dep = await department_id(dispatcher, "Pipe repairs")
    wo = await new_work_order(hub, agent)
    ok = await new_work_order(hub, agent, title="Done in time")
    await dispatch(hub, dispatcher, wo["id"], dep, start_in=HOUR, length=2 * HOUR)
    await dispatch(hub, dispatcher, ok["id"], dep, start_in=HOUR, length=2 * HOUR)
    for step in ("accept", "depart", "arrive", "fix", "complete"):
        await act(pipes, ok["id"], step)
    await act(pipes, wo["id"], "accept")

    clock.advance(HOUR - 1)
    await sched.run_due()
    assert await _kinds(pipes, "workorder_reminder") == []
    clock.advance(2)
    await sched.run_due()
    rem = await _kinds(pipes, "workorder_reminder")
    assert [n["title"] for n in rem] == [
        f"Work order #{wo['number']}: planned start is now and the crew has not departed"]
    assert [n["text"] for n in rem] == [{"code": "notify.workorder_reminder_start",
                                         "params": {"number": wo["number"], "title": wo["title"]}}]
    await act(pipes, wo["id"], "depart")
    clock.advance(1.5 * HOUR)  # just after 30 min before the planned end (the default lead)
    await sched.run_due()
    assert len(await _kinds(pipes, "workorder_reminder")) == 2
    assert await _kinds(dispatcher, "workorder_late") == []
    clock.advance(0.5 * HOUR)
    await sched.run_due()
    late_d = await _kinds(dispatcher, "workorder_late")
    late_p = await _kinds(pipes, "workorder_late")
    assert [n["title"] for n in late_d] == [f"Work order #{wo['number']} is late (departed)"]
    assert late_d[0]["text"] == {"code": "notify.workorder_late",
                                 "params": {"number": wo["number"], "state": "departed", "title": wo["title"]}}
    assert len(late_p) == 1
    detail = await dispatcher.ok("GET", f"/api/workorders/{wo['id']}")
    assert detail["late"] is True and detail["overdue"] is True
    assert [(h["kind"], h["text"]["code"], h["body"])
            for h in detail["history"] if h["kind"] in ("reminder", "late")] == [
        ("reminder", "history.wo_reminder_start", "planned start is now and the crew has not departed"),
        ("reminder", "history.wo_reminder_due_soon", "the planned window ends soon and the work is not completed"),
        ("late", "history.wo_late", "the planned end has passed")]
    done = await dispatcher.ok("GET", f"/api/workorders/{ok['id']}")
    assert done["late"] is False and not [h for h in done["history"] if h["kind"] in ("reminder", "late")]


async def test_a_ticket_from_a_chat_the_agent_already_answered_starts_with_its_first_response_given(
        clocked_hub, clock):  # type: ignore[no-untyped-def]
    """#19 item 10: the agent replied in the chat, then opened the complaint ticket from it; four
    business hours later the first response must not be overdue (it was given before the ticket)."""
    hub = clocked_hub
    sched = hub.services.scheduler
    _admin, agent1, queue, _policy = await _setup(hub)
    await agent1.ok("POST", "/api/agent/state", {"state": "ready"})
    _customer, widget, session = await start_chat(hub, message="You billed me twice!")
    cid = session["conversation_id"]
    try:
        offered = await eventually(lambda: agent1.ok("GET", "/api/conversations?view=offered"),
                                   until=lambda body: body["items"])
        assert [c["id"] for c in offered["items"]] == [cid]
        await agent1.ok("POST", f"/api/conversations/{cid}/accept")
        await agent1.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Sorry! Let me look into it."},
                        status=201)
        await agent1.ok("POST", f"/api/conversations/{cid}/notes", {"body": "a note is not an answer"}, status=201)
        clock.advance(600)
        tk = await agent1.ok("POST", "/api/tickets", {
            "type": "complaint", "priority": "high", "subject": "Billed twice", "queue_id": queue["id"],
            "assignee_id": agent1.user["id"], "conversation_id": cid}, status=201)
        assert tk["first_response_at"] == clock.now()
        clock.advance(at(3, 9) - clock.now())  # past the 4 business hours
        await sched.run_due()
        detail = await agent1.ok("GET", f"/api/tickets/{tk['id']}")
        assert detail["sla"]["first_response_breached"] is False
        sup = await hub.client("supervisor")
        assert [n for n in await _kinds(sup, "sla_escalation") if "first response" in n["title"]] == []
        assert "first_response" in [h["kind"] for h in detail["history"]]
    finally:
        await widget.close()


async def test_a_ticket_from_a_chat_nobody_answered_yet_keeps_its_first_response_clock(
        clocked_hub, clock):  # type: ignore[no-untyped-def]
    hub = clocked_hub
    _admin, agent1, queue, _policy = await _setup(hub)
    _customer, widget, session = await start_chat(hub, message="You billed me twice!")
    try:
        tk = await agent1.ok("POST", "/api/tickets", {
            "type": "complaint", "priority": "high", "subject": "Billed twice", "queue_id": queue["id"],
            "conversation_id": session["conversation_id"]}, status=201)
        assert tk["first_response_at"] is None and tk["sla"]["first_response_due"] == at(2, 11)
    finally:
        await widget.close()
