"""Phones and narrow screens (#19 item 3): the widget on a 390×844 phone fills the screen and its
launcher no longer covers Send; the desk at 768 px keeps the inbox beside the conversation with tabs
for the customer's record, and at 390 px shows one pane at a time. Nothing scrolls sideways.
Screenshots are saved as artifacts (test-artifacts/narrow-*.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import (
    bodies,
    customer_writes,
    desk_messages,
    go_ready,
    offer_for,
    open_desk,
    open_widget,
    reply,
    start_chat,
    widget_messages,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}


def no_sideways_scroll(page: Page) -> None:
    """Nothing sticks out: the page does not scroll sideways, the top bar's links do not run into
    the user's controls, and every button of the open conversation's header is on screen."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"
    overlaps = page.evaluate("""() => {
        const bar = document.querySelector('.topbar-user')
        if (!bar) return []  // not a staff page
        const user = bar.getBoundingClientRect()
        return [...document.querySelectorAll('.topbar-nav > a, .topbar-nav > details > summary')]
            .map((e) => [e.textContent.trim(), e.getBoundingClientRect()])
            .filter(([, r]) => r.width && r.left < user.right && r.right > user.left
                               && r.top < user.bottom && r.bottom > user.top)
            .map(([name]) => name)
    }""")
    assert not overlaps, f"top bar links under the user's controls: {overlaps}"
    cut = page.evaluate("""() => [...document.querySelectorAll('.conv-actions button')]
        .filter((b) => b.offsetParent && b.getBoundingClientRect().right > window.innerWidth)
        .map((b) => b.textContent.trim())""")
    assert not cut, f"conversation buttons off screen: {cut}"


def test_the_widget_on_a_phone_and_the_desk_at_768_and_390_px(person, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    # an agent on a 768 px tablet: inbox and conversation side by side, the customer's record a tab
    agent: Page = person("agent1")
    agent.set_viewport_size(TABLET)
    open_desk(agent, "agent1")
    go_ready(agent)

    # the customer on a phone: the chat fills the screen, Send is not under the launcher
    phone: Page = person("customer")
    phone.set_viewport_size(PHONE)
    widget = open_widget(phone)
    expect(phone.get_by_test_id("widget-launcher")).to_be_hidden()
    box = phone.locator("#hub-widget-frame").bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 1 and box["height"] >= PHONE["height"] - 1, box
    start_chat(widget, "Liu Yang", "liu.yang@example.com", "Is there an outage in my street?")

    offer_for(agent, "Liu Yang").get_by_test_id("offer-accept").click()
    expect(agent.get_by_test_id("conversation-contact")).to_have_text("Liu Yang")
    expect(agent.get_by_test_id("inbox-item").filter(has_text="Liu Yang")).to_be_visible()  # beside it
    expect(agent.get_by_test_id("screen-pop")).to_be_hidden()
    reply(agent, "No outage is planned in your street today.")
    agent.get_by_test_id("desk-pane-customer").click()
    expect(agent.get_by_test_id("screen-pop")).to_be_visible()
    expect(agent.get_by_test_id("reply-input")).to_be_hidden()
    no_sideways_scroll(agent)
    agent.screenshot(path=str(artifacts / "narrow-desk-768-customer.png"))
    agent.get_by_test_id("desk-pane-conversation").click()
    expect(agent.get_by_test_id("reply-input")).to_be_visible()
    no_sideways_scroll(agent)
    agent.screenshot(path=str(artifacts / "narrow-desk-768.png"))

    # the phone customer reads the answer and writes back with Send (a click the launcher would
    # have taken before)
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(["No outage is planned in your street today."])
    customer_writes(widget, "Thank you!")
    no_sideways_scroll(phone)
    phone.screenshot(path=str(artifacts / "narrow-widget-390.png"))
    # the chat's own header minimises it; the launcher is back
    widget.get_by_test_id("widget-minimise").click()
    expect(phone.get_by_test_id("widget-launcher")).to_be_visible()

    # the same agent on a phone-sized window: one pane at a time
    agent.set_viewport_size(PHONE)
    agent.get_by_test_id("desk-pane-inbox").click()
    expect(agent.get_by_test_id("inbox-item").filter(has_text="Liu Yang")).to_be_visible()
    expect(agent.get_by_test_id("reply-input")).to_be_hidden()
    no_sideways_scroll(agent)
    agent.screenshot(path=str(artifacts / "narrow-desk-390-inbox.png"))
    agent.get_by_test_id("inbox-item").filter(has_text="Liu Yang").click()
    expect(agent.get_by_test_id("reply-input")).to_be_visible()
    expect(agent.get_by_test_id("inbox-item").filter(has_text="Liu Yang")).to_be_hidden()
    expect(bodies(desk_messages(agent, "customer")).last).to_have_text("Thank you!")
    no_sideways_scroll(agent)
    agent.screenshot(path=str(artifacts / "narrow-desk-390.png"))
