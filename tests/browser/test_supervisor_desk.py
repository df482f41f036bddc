"""Supervisors on the desk (#19 parity list): the "All" tab lists every conversation of the centre,
and a supervisor who opens an agent's live chat can whisper to the agent (an internal note the
agent sees at once and the customer never does). Agents have no such tab."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    accept_offer,
    bodies,
    desk_messages,
    go_ready,
    log_in,
    open_desk,
    open_widget,
    start_chat,
)

pytestmark = pytest.mark.browser


def test_a_supervisor_finds_a_live_chat_in_the_all_tab_and_whispers_to_the_agent(
        customer: Page, agent1: Page, supervisor: Page) -> None:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    expect(agent1.get_by_test_id("inbox-tab-all")).to_have_count(0)
    widget = open_widget(customer)
    start_chat(widget, "Wu Lei", "wu.lei@example.com", "I want to cancel my contract")
    accept_offer(agent1, "Wu Lei")

    log_in(supervisor, "supervisor")
    supervisor.get_by_test_id("inbox-tab-all").click()
    item = supervisor.get_by_test_id("inbox-item").filter(has_text="Wu Lei")
    expect(item).to_have_attribute("data-status", "assigned")
    item.click()
    expect(supervisor.get_by_test_id("conversation-contact")).to_have_text("Wu Lei")
    supervisor.get_by_test_id("reply-note-toggle").check()
    supervisor.get_by_test_id("reply-input").fill("Offer the loyalty discount before cancelling")
    supervisor.get_by_test_id("reply-send").click()

    note = agent1.get_by_test_id("message").filter(has_text="Offer the loyalty discount before cancelling")
    expect(note).to_have_attribute("data-kind", "note")
    # the customer goes on seeing only the conversation
    expect(bodies(desk_messages(agent1, "customer"))).to_have_text(["I want to cancel my contract"])
    expect(widget.get_by_test_id("widget-messages")).not_to_contain_text("loyalty discount")
