"""The chat widget as the customer sees it: the offline form when nobody can answer, and a chat
that survives a page reload (history on reconnect)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    accept_offer,
    bodies,
    customer_writes,
    desk_messages,
    go_ready,
    log_in,
    open_desk,
    open_widget,
    reply,
    start_chat,
    widget_messages,
)

pytestmark = pytest.mark.browser


def test_nobody_available_shows_offline_form_and_the_message_waits_in_the_queue_as_an_email(
    customer: Page, supervisor: Page
) -> None:
    # No agent is signed in to the ACD: the widget offers to leave a message instead of a chat.
    widget = open_widget(customer)
    expect(widget.get_by_test_id("offline-form")).to_be_visible()
    expect(widget.get_by_test_id("prechat-form")).to_have_count(0)
    widget.get_by_test_id("offline-name").fill("Chen Jie")
    widget.get_by_test_id("offline-email").fill("chen.jie@example.com")
    widget.get_by_test_id("offline-message").fill("Please call me about moving home next month")
    widget.get_by_test_id("offline-submit").click()
    expect(widget.get_by_test_id("offline-thanks")).to_be_visible()

    # The supervisor finds it waiting in the Queued tab: an email conversation (the answer goes
    # out by email), offered to the first agent who is ready (tests/browser/test_email.py).
    log_in(supervisor, "supervisor")
    expect(supervisor).to_have_url("/desk")
    supervisor.get_by_test_id("inbox-tab-queued").click()
    item = supervisor.get_by_test_id("inbox-item").filter(has_text="Chen Jie")
    expect(item).to_have_attribute("data-status", "queued")
    expect(item).to_contain_text("Please call me about moving home next month")
    item.click()
    expect(supervisor.get_by_test_id("conversation-contact")).to_have_text("Chen Jie")
    expect(supervisor.get_by_test_id("conversation-status")).to_have_text("queued")
    expect(supervisor.get_by_test_id("email-text")).to_have_text("Please call me about moving home next month")


def test_the_default_queue_is_proposed_and_reloading_the_page_resumes_the_chat_with_its_history(
        customer: Page, agent1: Page) -> None:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(customer)
    # demo.html embeds the widget without data-queue: the form proposes the centre's default queue
    # (widget_default_queue), not the first one alphabetically (Billing)
    expect(widget.get_by_test_id("prechat-queue").locator("option:checked")).to_have_text("General enquiries")
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", "Is my repair visit still on for Friday?")
    accept_offer(agent1, "Zhang Wei")
    reply(agent1, "Let me check the work order for you.")
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(["Let me check the work order for you."])

    # The customer leaves the page; the agent answers meanwhile; the customer comes back.
    customer.goto("about:blank")
    reply(agent1, "Yes, the engineer comes on Friday between 9 and 12.")
    customer.goto("/demo.html")
    widget = customer.frame_locator("#hub-widget-frame")  # the panel reopens by itself
    expect(bodies(widget.get_by_test_id("widget-message"))).to_have_text([
        "Is my repair visit still on for Friday?",
        "Let me check the work order for you.",
        "Yes, the engineer comes on Friday between 9 and 12.",
    ])
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Alice Chen")
    expect(widget.get_by_test_id("prechat-form")).to_have_count(0)

    # A plain reload too, and the conversation goes on in both directions.
    customer.reload()
    widget = customer.frame_locator("#hub-widget-frame")
    expect(bodies(widget.get_by_test_id("widget-message"))).to_have_count(3)
    customer_writes(widget, "Great, thank you!")
    expect(bodies(desk_messages(agent1, "customer"))).to_have_text([
        "Is my repair visit still on for Friday?", "Great, thank you!"])
    reply(agent1, "You're welcome.")
    expect(bodies(widget_messages(widget, "agent")).last).to_have_text("You're welcome.")
