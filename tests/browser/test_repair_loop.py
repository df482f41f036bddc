"""Acceptance 1 of the workflows issue, in a real browser with four staff users and the customer:
a chat becomes a repair work order (agent), the dispatch centre confirms it and assigns the pipe
crew with a planned time (dispatcher), the crew accepts and reports progress with a photo and
completes it (department user), the customer is told in the chat automatically, dispatch closes it;
every step's timestamp is in the work order's history and the supervisor sees it in the report."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import accept_offer, go_ready, log_in, open_desk, open_widget, start_chat, widget_messages

pytestmark = pytest.mark.browser

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00"
       b"\x00IEND\xaeB`\x82")
# a full date and time as the English UI writes it (src/i18n formatDateTime: 12/07/2026, 02:05:09 PM)
STAMP = re.compile(r"^\d\d/\d\d/\d{4}, \d\d:\d\d:\d\d [AP]M$")


def step(page: Page, action: str) -> None:
    page.get_by_test_id(f"wo-action-{action}").click()
    expect(page.locator(f'[data-testid="wo-history-item"][data-action="{action}"]')).to_have_count(1)


def test_repair_loop_with_four_users(customer: Page, agent1: Page, person: Callable[[str], Page],
                                     supervisor: Page, artifacts: Path, tmp_path: Path) -> None:
    dispatcher = person("dispatch")
    crew = person("pipes")

    # the customer reports the problem in the chat; Alice answers and opens a work order from it
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(customer)
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", "Water pipe burst in front of my meter box")
    accept_offer(agent1, "Zhang Wei")
    agent1.get_by_test_id("create-workorder-open").click()
    expect(agent1.get_by_test_id("cfc-title")).to_have_value("Water pipe burst in front of my meter box")
    expect(agent1.get_by_test_id("cfc-description")).to_have_value(re.compile("Zhang Wei: Water pipe burst"))
    agent1.get_by_test_id("cfc-address").fill("12 Park Road")
    agent1.get_by_test_id("cfc-priority").select_option("high")
    agent1.get_by_test_id("cfc-save").click()
    expect(agent1.get_by_test_id("wf-created")).to_contain_text("Created work order #1")

    # the dispatch centre confirms it and plans the visit with the pipe crew
    log_in(dispatcher, "dispatch")
    expect(dispatcher).to_have_url("/workorders")
    expect(dispatcher.get_by_test_id("bell-count")).to_have_text("1")
    row = dispatcher.get_by_test_id("wo-row").filter(has_text="Water pipe burst")
    expect(row.get_by_test_id("wo-state")).to_have_text("new")
    expect(dispatcher.get_by_test_id("wo-count-new")).to_contain_text("1")
    row.get_by_test_id("wo-open").click()
    expect(dispatcher.get_by_test_id("wo-contact")).to_contain_text("Zhang Wei")
    dispatcher.get_by_test_id("wo-dispatch-department").select_option(label="Pipe repairs")
    step(dispatcher, "dispatch")
    expect(dispatcher.get_by_test_id("wo-detail-state")).to_have_text("dispatched")
    expect(dispatcher.get_by_test_id("wo-department")).to_have_text("Pipe repairs")

    # the crew is told (bell), accepts, reports progress with a photo, and completes
    log_in(crew, "pipes")
    expect(crew).to_have_url("/workorders")
    expect(crew.get_by_test_id("bell-count")).to_have_text("1")
    crew.get_by_test_id("bell").click()
    crew.get_by_test_id("bell-item").filter(has_text="assigned to your department").click()
    expect(crew.get_by_test_id("wo-detail-state")).to_have_text("dispatched")
    expect(crew.get_by_test_id("bell-count")).to_have_count(0)
    step(crew, "accept")
    crew.get_by_test_id("wo-step-note").fill("leaving the depot now")
    step(crew, "depart")
    step(crew, "arrive")
    photo = tmp_path / "burst-pipe.png"
    photo.write_bytes(PNG)
    crew.get_by_test_id("wo-photo").set_input_files(str(photo))
    expect(crew.get_by_test_id("wo-attachment")).to_have_text("burst-pipe.png")
    step(crew, "fix")
    crew.get_by_test_id("wo-result-input").fill("Pipe section replaced, water back on")
    step(crew, "complete")
    expect(crew.get_by_test_id("wo-detail-state")).to_have_text("completed")

    # the customer sees the notice in the chat, without anyone typing it
    notice = widget_messages(widget, "agent").filter(has_text="has been completed")
    expect(notice).to_contain_text("Pipe section replaced, water back on")

    # dispatch closes it; every step has its timestamp in the history
    dispatcher.reload()
    expect(dispatcher.locator('[data-testid="wo-history-item"][data-kind="customer_notified"]')).to_contain_text(
        "conversation: sent")
    step(dispatcher, "close")
    expect(dispatcher.get_by_test_id("wo-detail-state")).to_have_text("closed")
    items = dispatcher.get_by_test_id("wo-history-item")
    for action in ("create", "dispatch", "accept", "depart", "arrive", "fix", "complete", "close"):
        item = dispatcher.locator(f'[data-testid="wo-history-item"][data-action="{action}"]')
        expect(item).to_have_count(1)
        expect(item.get_by_test_id("wo-history-at")).to_have_text(STAMP)
    expect(items.filter(has_text="leaving the depot now")).to_have_count(1)
    expect(dispatcher.locator('[data-testid="wo-history-item"][data-kind="customer_notified"]')
           .get_by_test_id("wo-history-at")).to_have_text(STAMP)
    dispatcher.screenshot(path=str(artifacts / "repair-loop-dispatcher.png"), full_page=True)

    # the supervisor sees it in the report
    log_in(supervisor, "supervisor")
    supervisor.goto("/workorders/report")
    expect(supervisor.locator('[data-testid="report-state"][data-state="closed"]')
           .get_by_test_id("report-state-count")).to_have_text("1")
    expect(supervisor.get_by_test_id("report-total")).to_have_text("1")
    expect(supervisor.get_by_test_id("report-department").filter(has_text="Pipe repairs")).to_be_visible()
    supervisor.screenshot(path=str(artifacts / "repair-loop-report.png"), full_page=True)
