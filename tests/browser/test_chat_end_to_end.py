"""Acceptance 2 of the foundation issue, in a real browser: a customer chats from the company's
web page, an agent answers with the customer's record popped on screen, the supervisor watches
it live, the chat is transferred to Billing, the second agent closes it, the customer rates it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    accept_offer,
    bodies,
    customer_writes,
    desk_messages,
    go_ready,
    log_in,
    offer_for,
    open_desk,
    open_widget,
    reply,
    start_chat,
    widget_messages,
)

pytestmark = pytest.mark.browser


def test_customer_chat_answered_transferred_closed_and_rated(
    customer: Page, agent1: Page, agent2: Page, supervisor: Page, artifacts: Path
) -> None:
    # Alice (agent1) starts her shift and is ready; Bob (agent2) is signed in but not ready yet.
    open_desk(agent1, "agent1")
    go_ready(agent1)
    open_desk(agent2, "agent2")
    expect(agent2.get_by_test_id("agent-state")).to_have_text(re.compile(r"^(logged_out|not_ready)$"))

    # The supervisor keeps the wallboard open.
    log_in(supervisor, "supervisor")
    supervisor.get_by_test_id("nav-wallboard").click()
    expect(supervisor).to_have_url("/wallboard")
    general = supervisor.get_by_test_id("wallboard-queue").filter(has_text="General enquiries")
    alice = supervisor.get_by_test_id("wallboard-agent").filter(has_text="Alice Chen")
    bob = supervisor.get_by_test_id("wallboard-agent").filter(has_text="Bob Li")
    expect(general.get_by_test_id("queue-answered")).to_have_text("0")
    expect(alice).to_have_attribute("data-state", "ready")
    expect(alice.get_by_test_id("agent-tile-load")).to_have_text("idle")
    expect(alice.get_by_test_id("agent-time-in-state")).to_have_text(re.compile(r"^\d\d:\d\d$"))

    # Zhang Wei opens the company's page, clicks "Chat with us" and fills in the pre-chat form.
    widget = open_widget(customer)
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", "My gas meter shows an error")
    expect(widget.get_by_test_id("widget-status")).to_have_text("Waiting for an agent…")

    # Alice is offered the chat and accepts it; the customer's record pops up.
    card = offer_for(agent1, "Zhang Wei")
    expect(card.get_by_test_id("offer-queue")).to_have_text("General enquiries")
    expect(card).to_contain_text("My gas meter shows an error")
    expect(card.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^\d+s$"))
    accept_offer(agent1, "Zhang Wei")
    pop = agent1.get_by_test_id("screen-pop")
    expect(pop.get_by_test_id("contact-name")).to_have_text("Zhang Wei")
    expect(pop.get_by_test_id("contact-email")).to_have_text("zhang.wei@example.com")
    expect(pop.get_by_test_id("contact-custom-value-account_no")).to_have_text("GC-100231")
    expect(pop.get_by_test_id("contact-new-customer")).to_have_count(0)
    expect(pop.get_by_test_id("contact-history")).to_contain_text("No earlier conversations.")
    expect(bodies(desk_messages(agent1, "customer"))).to_have_text(["My gas meter shows an error"])
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Alice Chen")

    # Alice replies; Zhang Wei sees it in the widget and answers; Alice sees that.
    reply(agent1, "Hello Mr Zhang, I can help with that. What does the display say?")
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(
        ["Hello Mr Zhang, I can help with that. What does the display say?"])
    expect(widget_messages(widget, "agent")).to_contain_text("Alice Chen")
    customer_writes(widget, "It says E3 and the bill looks too high")
    expect(desk_messages(agent1, "customer").filter(has_text="It says E3")).to_be_visible()

    # The wallboard followed along without a reload.
    expect(general.get_by_test_id("queue-answered")).to_have_text("1")
    expect(general.get_by_test_id("queue-waiting")).to_have_text("0")
    expect(alice.get_by_test_id("agent-tile-load")).to_have_text("chat 1")
    expect(agent1.get_by_test_id("agent-load")).to_have_text("chat 1")
    agent1.screenshot(path=str(artifacts / "agent-desk.png"))
    supervisor.screenshot(path=str(artifacts / "wallboard.png"), full_page=True)

    # Bob becomes ready; Alice transfers the chat to Billing with a note.
    go_ready(agent2)
    expect(bob).to_have_attribute("data-state", "ready")
    agent1.get_by_test_id("transfer-open").click()
    # the agents she can hand over to, with their states: Bob, not herself
    to_agent = agent1.get_by_test_id("transfer-agent").locator("option")
    expect(to_agent.filter(has_text="Bob Li")).to_have_text("Bob Li (ready)")
    expect(to_agent.filter(has_text="Alice Chen")).to_have_count(0)
    agent1.get_by_test_id("transfer-queue").select_option(label="Billing")
    agent1.get_by_test_id("transfer-note").fill("Billing question, reading E3")
    agent1.get_by_test_id("transfer-confirm").click()
    expect(agent1.get_by_test_id("transfer-dialog")).to_have_count(0)
    expect(agent1.get_by_test_id("reply-input")).to_be_disabled()
    expect(agent1.get_by_test_id("agent-load")).to_have_text("idle")

    # Bob gets the offer, accepts, and sees the same customer record and the whole conversation.
    card = offer_for(agent2, "Zhang Wei")
    expect(card.get_by_test_id("offer-queue")).to_have_text("Billing")
    accept_offer(agent2, "Zhang Wei")
    expect(agent2.get_by_test_id("conversation-queue")).to_have_text("Billing")
    pop2 = agent2.get_by_test_id("screen-pop")
    expect(pop2.get_by_test_id("contact-name")).to_have_text("Zhang Wei")
    expect(pop2.get_by_test_id("contact-custom-value-account_no")).to_have_text("GC-100231")
    expect(desk_messages(agent2, "customer")).to_have_count(2)
    expect(agent2.get_by_test_id("message").filter(has_text="Billing question, reading E3")) \
        .to_have_attribute("data-kind", "note")
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Bob Li")
    # The internal note never reaches the customer.
    expect(widget.get_by_test_id("widget-messages")).not_to_contain_text("Billing question")
    expect(agent2.get_by_test_id("agent-load")).to_have_text("chat 1")
    agent2.screenshot(path=str(artifacts / "agent2-desk.png"))
    expect(bob.get_by_test_id("agent-tile-load")).to_have_text("chat 1")
    expect(alice.get_by_test_id("agent-tile-load")).to_have_text("idle")

    # Bob closes the chat with a disposition; the customer is asked to rate it.
    agent2.get_by_test_id("close-open").click()
    agent2.get_by_test_id("close-disposition").select_option(label="Resolved")
    agent2.get_by_test_id("close-confirm").click()
    expect(agent2.get_by_test_id("conversation-status")).to_have_text("closed")
    expect(agent2.get_by_test_id("agent-state")).to_have_text("wrap_up")
    expect(widget.get_by_test_id("widget-status")).to_have_text("Chat ended")
    expect(widget.get_by_test_id("csat-form")).to_be_visible()
    customer.screenshot(path=str(artifacts / "widget-csat.png"))
    widget.get_by_test_id("csat-5").click()
    widget.get_by_test_id("csat-submit").click()
    expect(widget.get_by_test_id("csat-thanks")).to_be_visible()
    # the rating shows in Bob's open conversation at once (not only after reopening it)
    expect(agent2.get_by_test_id("conversation-csat")).to_contain_text("5")
    expect(bob).to_have_attribute("data-state", "wrap_up")
