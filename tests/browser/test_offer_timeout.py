"""ACD-5 in the browser: an agent who lets an offer ring out is set not ready ("no_answer") and
the chat goes to the next agent."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import accept_offer, go_ready, offer_for, open_desk, open_widget, start_chat

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

    # Alice's screen rings with a countdown, but she does not answer.
    card = offer_for(agent1, "Li Na")
    expect(card.get_by_test_id("offer-countdown")).to_have_text(re.compile(r"^[0-3]s$"))
    expect(agent2.get_by_test_id("offer-card")).to_have_count(0)

    # After the timeout the offer is gone, and she is not ready because she missed it...
    expect(agent1.get_by_test_id("offer-card")).to_have_count(0)
    expect(agent1.get_by_test_id("agent-state")).to_have_text("not_ready")
    expect(agent1.get_by_test_id("agent-state-reason")).to_have_text("Missed an offer")

    # ...and Bob gets the chat.
    accept_offer(agent2, "Li Na")
    expect(agent2.get_by_test_id("screen-pop").get_by_test_id("contact-vip")).to_be_visible()
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Bob Li")
    expect(agent1.get_by_test_id("offer-card")).to_have_count(0)
