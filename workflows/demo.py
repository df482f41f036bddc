"""Demo data of the workflows component: repair departments with their crews, SLA policies on the
office-hours calendar, and a couple of sample rules, in the demo's language (setting
``demo_locale``: ``zh-CN`` a city gas company's 抢修队 / 管网所 / 表务所 and the SLA policies and
work-order categories 报修 / 投诉 / 咨询 / 表务 / 安检; ``en`` the English demo). Runs once (empty
tables only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from workflows import tables as w

if TYPE_CHECKING:
    from workflows.component import WorkflowsComponent

HOUR = 3600.0
DAY = 24 * HOUR
_SUPERVISORS = [{"kind": "supervisors"}]
_DISPATCH = [*_SUPERVISORS, {"kind": "role", "role": "dispatcher"}]


@dataclass(frozen=True)
class WorkflowDemo:
    """``departments``: (name, member username, description); ``policies``: SLA policies whose
    ``calendar`` ``True`` means the demo's office-hours calendar; ``rules``: automation rules."""

    calendar: str
    departments: list[tuple[str, str, str]]
    policies: list[dict[str, Any]]
    rules: list[dict[str, Any]]


EN = WorkflowDemo(
    calendar="Office hours",
    departments=[("Pipe repairs", "pipes", "Leaks, pipes and connections"),
                 ("Meters", "meters", "Meter faults, readings and replacements")],
    policies=[
        {"name": "Complaint (statutory time limit)", "ticket_type": "complaint", "first_response_s": 4 * HOUR,
         "resolution_s": 5 * 12 * HOUR, "reminder_lead_s": 1 * HOUR, "calendar": True,
         "escalate_to": _SUPERVISORS},
        {"name": "Urgent repair", "ticket_type": "repair", "priority": "urgent", "first_response_s": 0.5 * HOUR,
         "resolution_s": 8 * HOUR, "reminder_lead_s": 0.25 * HOUR, "calendar": False,
         "escalate_to": _DISPATCH},
        {"name": "Standard", "first_response_s": 8 * HOUR, "resolution_s": 3 * 12 * HOUR,
         "reminder_lead_s": 2 * HOUR, "calendar": True, "escalate_to": _SUPERVISORS},
        {"name": "VIP", "vip": True, "first_response_s": 1 * HOUR, "resolution_s": 12 * HOUR,
         "reminder_lead_s": 0.5 * HOUR, "calendar": True, "escalate_to": _SUPERVISORS},
    ],
    rules=[
        {"name": "Gas leak reported in chat: urgent repair ticket",
         "event": "message.created",
         "conditions": {"all": [{"field": "message.sender", "op": "eq", "value": "customer"},
                                {"any": [{"field": "message.body", "op": "contains", "value": "gas leak"},
                                         {"field": "message.body", "op": "contains", "value": "smell gas"}]}]},
         "actions": [{"type": "create_ticket", "ticket_type": "repair", "priority": "urgent",
                      "subject": "Gas leak: {contact.name}"},
                     {"type": "notify", "targets": [{"kind": "supervisors"}],
                      "message": "Possible gas leak reported by {contact.name}"}],
         "enabled": True, "position": 0},
        {"name": "Out of hours: tell the customer when we open",
         "event": "conversation.created",
         "conditions": {"all": [{"business_hours": "closed"},
                                {"field": "conversation.channel", "op": "eq", "value": "chat"}]},
         "actions": [{"type": "send_template",
                      "template": "Hello {contact.name}, we are closed now; an agent will answer when we open."}],
         "enabled": False, "position": 1},
    ],
)


def _contains_any(words: list[str]) -> dict[str, Any]:
    return {"any": [{"field": "message.body", "op": "contains", "value": x} for x in words]}


_FROM_CUSTOMER = {"field": "message.sender", "op": "eq", "value": "customer"}

# The SLA policies and work-order categories of the reference customer (a city gas company):
# 报修 (repairs: a leak at once, other repairs within the day), 投诉 (complaints: the time limit
# with a reminder before it), 咨询 (enquiries), 表务 (meter work) and 安检 (safety inspections).
ZH = WorkflowDemo(
    calendar="营业时间",
    departments=[("抢修队", "pipes", "燃气泄漏、管道及接口抢修，24 小时值守"),
                 ("管网所", "network", "市政及庭院管网、调压设施、停气与恢复供气"),
                 ("表务所", "meters", "燃气表故障、换表、IC 卡及智能表问题、抄表核查")],
    policies=[
        {"name": "报修（紧急：燃气泄漏）", "ticket_type": "repair", "priority": "urgent",
         "first_response_s": 0.25 * HOUR, "resolution_s": 4 * HOUR, "reminder_lead_s": 0.1 * HOUR,
         "calendar": False, "escalate_to": _DISPATCH},
        {"name": "报修（一般）", "ticket_type": "repair", "first_response_s": 2 * HOUR,
         "resolution_s": 1 * DAY, "reminder_lead_s": 1 * HOUR, "calendar": False,
         "escalate_to": _DISPATCH},
        {"name": "投诉（时限五个工作日）", "ticket_type": "complaint", "first_response_s": 4 * HOUR,
         "resolution_s": 5 * 12 * HOUR, "reminder_lead_s": 2 * HOUR, "calendar": True,
         "escalate_to": _SUPERVISORS},
        {"name": "咨询", "ticket_type": "inquiry", "first_response_s": 8 * HOUR,
         "resolution_s": 2 * 12 * HOUR, "reminder_lead_s": 2 * HOUR, "calendar": True,
         "escalate_to": _SUPERVISORS},
        {"name": "表务与安检（业务办理）", "ticket_type": "request", "first_response_s": 8 * HOUR,
         "resolution_s": 3 * 12 * HOUR, "reminder_lead_s": 4 * HOUR, "calendar": True,
         "escalate_to": _DISPATCH},
        {"name": "VIP 客户", "vip": True, "first_response_s": 1 * HOUR, "resolution_s": 12 * HOUR,
         "reminder_lead_s": 0.5 * HOUR, "calendar": True, "escalate_to": _SUPERVISORS},
    ],
    rules=[
        {"name": "在线反映燃气泄漏：自动生成紧急报修工单并通知班长",
         "event": "message.created",
         "conditions": {"all": [_FROM_CUSTOMER,
                                _contains_any(["漏气", "燃气泄漏", "煤气味", "燃气味", "天然气味"])]},
         "actions": [{"type": "create_ticket", "ticket_type": "repair", "priority": "urgent",
                      "category": "报修", "subject": "燃气泄漏：{contact.name}"},
                     {"type": "notify", "targets": [{"kind": "supervisors"}],
                      "message": "{contact.name} 反映疑似燃气泄漏，请立即处理"}],
         "enabled": True, "position": 0},
        {"name": "客户要求安检：生成安检预约单",
         "event": "message.created",
         "conditions": {"all": [_FROM_CUSTOMER, _contains_any(["安检", "安全检查"])]},
         "actions": [{"type": "create_ticket", "ticket_type": "request", "category": "安检",
                      "subject": "安检预约：{contact.name}"}],
         "enabled": True, "position": 1},
        {"name": "下班时间：告知客户营业时间",
         "event": "conversation.created",
         "conditions": {"all": [{"business_hours": "closed"},
                                {"field": "conversation.channel", "op": "eq", "value": "chat"}]},
         "actions": [{"type": "send_template",
                      "template": "{contact.name}您好，现在是非工作时间，客服上班后会第一时间回复您。"
                                  "如闻到燃气味，请立即开窗通风并到室外拨打抢修电话。"}],
         "enabled": False, "position": 2},
    ],
)

DEMOS = {"en": EN, "zh-CN": ZH}


async def seed(wf: WorkflowsComponent) -> bool:
    s = wf.services
    async with s.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(w.departments))).scalar():
            return False
    demo = DEMOS[s.settings.demo_locale]
    users = {u.username: u.id for u in await s.auth.list_users()}
    for name, member, desc in demo.departments:
        await wf.departments.create({"name": name, "description": desc,
                                     "members": [users[member]] if member in users else []})
    office = next((c["id"] for c in await s.directory.list_calendars() if c["name"] == demo.calendar),
                  None)
    for policy in demo.policies:
        data = {k: v for k, v in policy.items() if k != "calendar"}
        await wf.sla_policies.create({"ticket_type": None, "priority": None, "vip": None, **data,
                                      "calendar_id": office if policy["calendar"] else None}, None)
    admin = next((u for u in await s.auth.list_users() if u.username == "admin"), None)
    if admin is None:
        return True
    for rule in demo.rules:
        await wf.rules.create(rule, admin)
    return True
