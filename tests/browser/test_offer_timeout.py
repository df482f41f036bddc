"""ACD-5 in the browser: an agent who lets an offer ring out is set not ready ("no_answer") and
the chat goes to the next agent."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import go_ready, offer_for, open_desk, open_widget, start_chat

pytestmark = pytest.mark.browser


def test_unanswered_offer_sets_agent_not_ready_and_goes_to_the_next_agent(
    admin_api: httpx.Client, customer: Page, agent1: Page, agent2: Page
) -> None:
    # Set-up through the admin API: offers in "General enquiries" ring for 3 s only.
    queues = admin_api.get("/api/queues").json()
    general = next(q for q in queues if q["name"] == "General enquiries")
    r = admin_api.patch(f"/api/queues/{general['id']}", json={"offer_timeout_s": 3})
    assert r.status_code == 200, r.text

    # Alice is ready first (longest idle, so she is offered first), then Bob.
    open_desk(agent1, "agent1")
    go_ready(agent1)
    open_desk(agent2, "agent2")
    go_ready(agent2)

    widget = open_widget(customer)
    start_chat(widget, "Li Na", "li.na@example.com", "Can I change my payment date?")

    # Alice's screen rings with a countdown, but she does not answer. An offer cannot be missed:
    # her tab's title counts it and it is announced to her screen reader.
    card = offer_for(agent1, "Li Na")
    expect(card.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^[0-3]s$"))
    expect(agent1).to_have_title(re.compile(r"^\(1\) "))
    expect(agent1.get_by_test_id("offer-announcer")).to_have_text("Incoming Chat — Li Na")
    expect(agent2.get_by_test_id("offer-card")).to_have_count(0)
    assert not agent2.title().startswith("(")

    # After the timeout the offer is gone, and she is not ready because she missed it...
    expect(agent1.get_by_test_id("offer-card")).to_have_count(0)
    expect(agent1).not_to_have_title(re.compile(r"^\("))
    expect(agent1.get_by_test_id("agent-state")).to_have_text("not_ready")
    expect(agent1.get_by_test_id("agent-state-reason")).to_have_text("Missed an offer")

    # ...and Bob gets the chat. He works from the keyboard: "?" lists the shortcuts, "a" accepts
    # the offer, "r" puts him in the reply box.
    offer_for(agent2, "Li Na")
    agent2.keyboard.press("?")
    help_ = agent2.get_by_test_id("shortcuts-help")
    expect(help_.get_by_test_id("shortcut").filter(has_text="Accept the first offer")).to_have_count(1)
    agent2.keyboard.press("Escape")
    expect(help_).to_have_count(0)
    agent2.keyboard.press("a")
    expect(agent2.get_by_test_id("conversation-contact")).to_have_text("Li Na")
    expect(agent2.get_by_test_id("conversation-status")).to_have_text("assigned")
    agent2.keyboard.press("r")
    expect(agent2.get_by_test_id("reply-input")).to_be_focused()
    agent2.keyboard.type("Yes, you can.")
    agent2.keyboard.press("Enter")
    expect(widget.get_by_test_id("widget-message").filter(has_text="Yes, you can.")).to_have_count(1)
    expect(agent2.get_by_test_id("screen-pop").get_by_test_id("contact-vip")).to_be_visible()
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Bob Li")
    expect(agent1.get_by_test_id("offer-card")).to_have_count(0)
