"""Pre-chat identity in the browser (issue #16, item 7): a customer who types a VIP's email is shown
the code step in the widget, and the agent's screen pop marks the contact unverified until the
agent confirms "this is Li Na"."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import accept_offer, go_ready, open_desk, open_widget, start_chat

pytestmark = pytest.mark.browser


def test_a_claimed_vip_is_marked_unverified_until_the_agent_confirms(customer: Page, agent1: Page) -> None:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(customer)
    start_chat(widget, "Mallory", "li.na@example.com", "What is my balance?")
    # the widget offers to prove it, by a code to the contact details on file
    expect(widget.get_by_test_id("widget-identity-email")).to_be_visible()
    expect(widget.get_by_test_id("widget-identity-sms")).to_be_visible()

    accept_offer(agent1, "Li Na")
    pop = agent1.get_by_test_id("screen-pop")
    expect(pop.get_by_test_id("contact-unverified")).to_have_text("Unverified")
    pop.get_by_test_id("confirm-identity").click()
    expect(pop.get_by_test_id("contact-unverified")).to_have_count(0)
    expect(pop.get_by_test_id("contact-vip")).to_be_visible()
