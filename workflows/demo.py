"""Demo data of the workflows component: two repair departments with their crews, SLA policies
on the office-hours calendar, and a couple of sample rules. Runs once (empty tables only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from workflows import tables as w

if TYPE_CHECKING:
    from workflows.component import WorkflowsComponent

HOUR = 3600.0


async def seed(wf: WorkflowsComponent) -> bool:
    s = wf.services
    async with s.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(w.departments))).scalar():
            return False
    users = {u.username: u.id for u in await s.auth.list_users()}
    for name, member, desc in [("Pipe repairs", "pipes", "Leaks, pipes and connections"),
                               ("Meters", "meters", "Meter faults, readings and replacements")]:
        await wf.departments.create({"name": name, "description": desc,
                                     "members": [users[member]] if member in users else []})
    office = next((c["id"] for c in await s.directory.list_calendars() if c["name"] == "Office hours"), None)
    escalate = [{"kind": "supervisors"}]
    for data in [
        {"name": "Complaint (statutory time limit)", "ticket_type": "complaint", "first_response_s": 4 * HOUR,
         "resolution_s": 5 * 12 * HOUR, "reminder_lead_s": 1 * HOUR, "calendar_id": office,
         "escalate_to": escalate},
        {"name": "Urgent repair", "ticket_type": "repair", "priority": "urgent", "first_response_s": 0.5 * HOUR,
         "resolution_s": 8 * HOUR, "reminder_lead_s": 0.25 * HOUR, "calendar_id": None,
         "escalate_to": [*escalate, {"kind": "role", "role": "dispatcher"}]},
        {"name": "Standard", "first_response_s": 8 * HOUR, "resolution_s": 3 * 12 * HOUR,
         "reminder_lead_s": 2 * HOUR, "calendar_id": office, "escalate_to": escalate},
        {"name": "VIP", "vip": True, "first_response_s": 1 * HOUR, "resolution_s": 12 * HOUR,
         "reminder_lead_s": 0.5 * HOUR, "calendar_id": office, "escalate_to": escalate},
    ]:
        await wf.sla_policies.create({"ticket_type": None, "priority": None, "vip": None, **data}, None)
    admin = next((u for u in await s.auth.list_users() if u.username == "admin"), None)
    if admin is None:
        return True
    await wf.rules.create({
        "name": "Gas leak reported in chat: urgent repair ticket",
        "event": "message.created",
        "conditions": {"all": [{"field": "message.sender", "op": "eq", "value": "customer"},
                               {"any": [{"field": "message.body", "op": "contains", "value": "gas leak"},
                                        {"field": "message.body", "op": "contains", "value": "smell gas"}]}]},
        "actions": [{"type": "create_ticket", "ticket_type": "repair", "priority": "urgent",
                     "subject": "Gas leak: {contact.name}"},
                    {"type": "notify", "targets": [{"kind": "supervisors"}],
                     "message": "Possible gas leak reported by {contact.name}"}],
        "enabled": True, "position": 0}, admin)
    await wf.rules.create({
        "name": "Out of hours: tell the customer when we open",
        "event": "conversation.created",
        "conditions": {"all": [{"business_hours": "closed"},
                               {"field": "conversation.channel", "op": "eq", "value": "chat"}]},
        "actions": [{"type": "send_template",
                     "template": "Hello {contact.name}, we are closed now; an agent will answer when we open."}],
        "enabled": False, "position": 1}, admin)
    return True
