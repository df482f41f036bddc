"""Chinese input (issue #17): the Enter that picks the characters of an input method never sends a
message — in the desk's reply box and in the widget — while a plain Enter does. Chromium is driven
with the events an IME produces: compositionstart, the Enter's keydown while composing
(isComposing, keyCode 229), compositionend, then what follows in the browsers: Safari's keydown of
the same Enter (keyCode 229, no longer composing) and Chrome's keyup (key Enter, keyCode 13).

One guard for the page (web/src/util/ime.ts) stops those keys before any handler sees them, so
search boxes (@keyup.enter) and forms are covered too: the work-order search is checked here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import FrameLocator, Locator, Page, Request, expect

from tests.browser.steps import (
    accept_offer,
    bodies,
    desk_messages,
    go_ready,
    log_in,
    open_desk,
    open_widget,
    start_chat,
    widget_messages,
)

pytestmark = pytest.mark.browser

# the events of choosing 燃气 with an IME and pressing Enter to commit it
COMPOSE_AND_ENTER = """(el, text) => {
  const key = (type, composing, code) => {
    const e = new KeyboardEvent(type, { key: 'Enter', code: 'Enter', bubbles: true, cancelable: true,
                                        isComposing: composing })
    Object.defineProperty(e, 'keyCode', { get: () => code })
    Object.defineProperty(e, 'which', { get: () => code })
    return e
  }
  el.focus()
  el.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true, data: '' }))
  el.value = text
  el.dispatchEvent(new InputEvent('input', { bubbles: true, isComposing: true, data: text,
                                             inputType: 'insertCompositionText' }))
  el.dispatchEvent(key('keydown', true, 229))
  el.dispatchEvent(key('keyup', true, 229))
  el.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: text }))
  el.dispatchEvent(key('keydown', false, 229))
  el.dispatchEvent(key('keyup', false, 13))
}"""
ROUND_TRIP = "() => fetch('/api/health').then((r) => r.status)"
NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(0))))"


def compose_and_press_enter(box: Locator, text: str) -> None:
    box.evaluate(COMPOSE_AND_ENTER, text)


def posts_to(page: Page, part: str) -> list[str]:
    seen: list[str] = []

    def on_request(r: Request) -> None:
        if r.method == "POST" and part in r.url:
            seen.append(r.url)
    page.on("request", on_request)
    return seen


def chat_between(customer: Page, agent1: Page) -> FrameLocator:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(customer)
    start_chat(widget, "Wang Fang", "wang.fang@example.com", "我家燃气表不走字了")
    accept_offer(agent1, "Wang Fang")
    return widget


def test_the_ime_enter_sends_no_reply_or_note_from_the_desk_a_plain_enter_does(
        customer: Page, agent1: Page) -> None:
    widget = chat_between(customer, agent1)
    # the agent types 燃气表读数 with an IME and presses Enter to pick the characters
    sent = posts_to(agent1, "/messages")
    box = agent1.get_by_test_id("reply-input")
    compose_and_press_enter(box, "燃气表读数")
    assert agent1.evaluate(ROUND_TRIP) == 200  # a send would have started its request by now
    assert sent == [], "the IME's Enter sent the reply"
    expect(box).to_have_value("燃气表读数")
    expect(desk_messages(agent1, "agent")).to_have_count(0)
    # a plain Enter sends it, once
    box.press("End")
    box.press_sequentially("正常吗？")
    box.press("Enter")
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(["燃气表读数正常吗？"])
    expect(box).to_have_value("")
    assert len(sent) == 1

    # an internal note: the same
    notes = posts_to(agent1, "/notes")
    agent1.get_by_test_id("reply-note-toggle").check()
    compose_and_press_enter(box, "客户说表不走")
    assert agent1.evaluate(ROUND_TRIP) == 200
    assert notes == [], "the IME's Enter added the note"
    box.press("Enter")
    expect(agent1.locator('[data-testid="message"][data-kind="note"]')).to_have_count(1)
    assert len(notes) == 1


def test_the_ime_enter_sends_nothing_from_the_widget_a_plain_enter_does(customer: Page, agent1: Page) -> None:
    widget = chat_between(customer, agent1)
    input_ = widget.get_by_test_id("widget-input")
    compose_and_press_enter(input_, "是的")
    input_.evaluate(NEXT_FRAME)  # the widget shows a message it sends at once
    expect(widget_messages(widget, "customer").filter(has_text="是的")).to_have_count(0)
    expect(input_).to_have_value("是的")
    input_.press("Enter")
    expect(bodies(widget_messages(widget, "customer"))).to_have_text(["我家燃气表不走字了", "是的"])
    expect(bodies(desk_messages(agent1, "customer"))).to_have_text(["我家燃气表不走字了", "是的"])
    expect(input_).to_have_value("")


def test_the_ime_enter_does_not_run_a_search_box(person: Callable[..., Page]) -> None:
    # the work-order list searches on Enter (@keyup.enter): picking characters must not search
    dispatcher = person("dispatch")
    log_in(dispatcher, "dispatch")
    dispatcher.goto("/workorders")
    search = dispatcher.get_by_test_id("wo-search")
    expect(search).to_be_visible()
    searched: list[str] = []
    dispatcher.on("request", lambda r: searched.append(r.url) if "/api/workorders" in r.url and "q=" in r.url else None)
    compose_and_press_enter(search, "中山路")
    assert dispatcher.evaluate(ROUND_TRIP) == 200
    assert searched == [], "the IME's Enter ran the search"
    with dispatcher.expect_request(lambda r: "/api/workorders" in r.url and "q=" in r.url):
        search.press("Enter")
    assert len(searched) == 1
