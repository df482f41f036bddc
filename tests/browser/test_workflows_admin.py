"""Workflows pages in the browser: a ticket with its SLA countdown, the rules editor with a dry
run, the SLA policy editor and the departments page; and what the hub writes for staff — a
notification, a ticket's history lines, an IVR flow's problems — in a Chinese user's language."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import go_to, log_in

pytestmark = pytest.mark.browser


def test_ticket_countdown_rules_dry_run_sla_editor_and_staff_texts_in_chinese(
        agent1: Page, person: Callable[..., Page], admin_api: httpx.Client) -> None:
    admin = person("admin")
    # an agent opens a complaint ticket by hand and sees its deadlines count down
    log_in(agent1, "agent1")
    agent1.get_by_test_id("nav-tickets").click()
    agent1.get_by_test_id("ticket-new").click()
    agent1.get_by_test_id("ticket-type").select_option("complaint")
    agent1.get_by_test_id("ticket-subject").fill("Installer was rude")
    agent1.get_by_test_id("ticket-save").click()
    row = agent1.get_by_test_id("ticket-row").filter(has_text="Installer was rude")
    countdown = re.compile(r"^(overdue )?\d+(d \d+h|h \d\dm|m \d\ds)( left)?$")
    expect(row.get_by_test_id("ticket-frt")).to_have_text(countdown)
    expect(row.get_by_test_id("ticket-res")).to_have_text(countdown)
    row.get_by_role("link", name="Installer was rude").click()
    expect(agent1.get_by_test_id("ticket-sla-frt")).to_contain_text("due")
    agent1.get_by_test_id("ticket-to-pending").click()
    expect(agent1.get_by_test_id("ticket-status")).to_have_text("pending")
    expect(agent1.get_by_test_id("ticket-sla-res")).to_contain_text("paused")
    expect(agent1.locator('[data-testid="ticket-history-item"][data-kind="status"]')).to_contain_text("new → pending")
    ticket_id = agent1.url.rsplit("/", 1)[-1]

    # the admin writes a rule and tries it on that ticket without running it
    log_in(admin, "admin")
    go_to(admin, "nav-rules")
    admin.get_by_test_id("rule-new").click()
    admin.get_by_test_id("rule-name").fill("Complaints are high")
    admin.get_by_test_id("rule-event").select_option("ticket.created")
    admin.get_by_test_id("rule-conditions").fill(
        '{"all": [{"field": "ticket.type", "op": "eq", "value": "complaint"}]}')
    admin.get_by_test_id("rule-actions").fill('[{"type": "set_priority", "priority": "high"}]')
    admin.get_by_test_id("rule-save").click()
    expect(admin.get_by_test_id("rule-row").filter(has_text="Complaints are high")).to_be_visible()
    admin.get_by_test_id("rule-conditions").fill('{"all": [{"field": "ticket", "op": "eq"}]}')
    admin.get_by_test_id("rule-save").click()
    expect(admin.get_by_test_id("rule-error")).to_contain_text("field")
    admin.get_by_test_id("dry-type").select_option("ticket.created")
    admin.get_by_test_id("dry-ticket").fill(ticket_id)
    admin.get_by_test_id("dry-run").click()
    expect(admin.get_by_test_id("dry-firing")).to_have_text("Complaints are high")
    expect(admin.get_by_test_id("dry-result")).to_contain_text("set the priority of the ticket to high")

    # SLA policies and departments
    go_to(admin, "nav-sla")
    expect(admin.get_by_test_id("sla-row").filter(has_text="Complaint (statutory time limit)")).to_be_visible()
    admin.get_by_test_id("sla-new").click()
    admin.get_by_test_id("sla-name").fill("Gold customers")
    admin.get_by_test_id("sla-frt").fill("0.5")
    admin.get_by_test_id("sla-save").click()  # the default 1 h reminder lead is too long
    expect(admin.get_by_test_id("sla-error")).to_contain_text("reminder_lead_s must be shorter")
    admin.get_by_test_id("sla-lead").fill("0.25")
    admin.get_by_test_id("sla-save").click()
    expect(admin.get_by_test_id("sla-row").filter(has_text="Gold customers")).to_contain_text("0.5 h")
    go_to(admin, "nav-admin-departments")
    expect(admin.get_by_test_id("department-row").filter(has_text="Pipe repairs")).to_contain_text("Pipe repair crew")

    # issue #17: a Chinese supervisor reads what the hub wrote for staff in Chinese. A ticket whose
    # first response is due in 2 s escalates to the supervisors: the bell and the ticket's history
    r = admin_api.post("/api/sla-policies", json={
        "name": "Urgent feedback", "ticket_type": "feedback", "priority": "urgent", "first_response_s": 2,
        "resolution_s": 3600, "reminder_lead_s": 1, "escalate_to": [{"kind": "supervisors"}]})
    assert r.status_code == 201, r.text
    r = admin_api.post("/api/tickets", json={"type": "feedback", "priority": "urgent", "subject": "账单金额有误"})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    sup = person("supervisor", "zh-CN")
    log_in(sup, "supervisor")
    expect(sup.get_by_test_id("bell-count")).to_have_text("1")  # pushed live when it escalates
    sup.get_by_test_id("bell").click()
    item = sup.get_by_test_id("bell-item").filter(has_text=f"工单 #{number}：首次响应已超时")
    expect(item).to_contain_text("账单金额有误")
    item.click()
    history = sup.get_by_test_id("ticket-history-item")
    expect(history.and_(sup.locator("[data-kind=sla_escalated]"))).to_contain_text("首次响应期限已过，已升级")
    expect(history.and_(sup.locator("[data-kind=sla_escalated]"))).to_contain_text("系统")
    expect(history.and_(sup.locator("[data-kind=sla_reminder]"))).to_contain_text(re.compile(r"首次响应将于 .+ 到期"))
    assert "deadline passed" not in sup.get_by_test_id("ticket-history").inner_text()

    # the admin switches to Chinese: a flow's problems and the dry run are said in Chinese
    admin.get_by_test_id("language-switch").select_option("zh-CN")
    go_to(admin, "nav-rules")
    admin.get_by_test_id("dry-type").select_option("ticket.created")
    admin.get_by_test_id("dry-ticket").fill(ticket_id)
    admin.get_by_test_id("dry-run").click()
    expect(admin.get_by_test_id("dry-action")).to_have_text("将该工单的优先级设为高")
    flow = {"name": "燃气热线", "start": "bye", "nodes": {
        "bye": {"type": "hangup", "prompt": [{"text": "再见"}]},
        "leakmenu": {"type": "menu", "prompt": [{"text": "报修请按 1"}], "options": {}}}}
    r = admin_api.post("/api/ivr/flows", json={"name": flow["name"], "definition": flow})
    assert r.status_code == 201, r.text
    admin.goto("/admin/ivr")
    admin.get_by_test_id("ivr-flow-row").filter(has_text="燃气热线").get_by_role("link").click()
    problems = admin.get_by_test_id("ivr-problem")
    expect(problems.filter(has_text="从起始节点无法到达")).to_have_count(1)
    expect(problems.filter(has_text="菜单至少需要一个选项")).to_have_count(1)
    problems.filter(has_text="从起始节点无法到达").get_by_role("link").click()  # the node's form says it too
    expect(admin.get_by_test_id("ivr-node-problem").filter(has_text="从起始节点无法到达")).to_have_count(1)
