"""Issue 5, acceptance 2, in a real browser: the widget bot answers from the published FAQ,
hands an unknown question over to a person with the exchange visible to the agent, the agent
gets live suggestions and inserts one into the reply, and the knowledge manager sees the
question the bot could not answer in the knowledge base's gaps view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
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
    start_chat,
    widget_messages,
)
from tests.support.hub import ThreadedHub
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.browser

KNOWN = "How do I read my gas meter?"
UNKNOWN = "Can your engineers also fix my neighbour's swimming pool heater?"
FOLLOW_UP = "Actually I think there is a gas leak in my kitchen"


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    """The demo hub with the widget bot on (as in ``make run``)."""
    h = ThreadedHub(tmp_path / "data", env={"HUB_ASSIST_BOT": "on"}).start(timeout=60)
    try:
        yield h
    finally:
        h.stop()
        rep = getattr(request.node, "rep_call", None)
        if (rep is None or rep.failed) and h.log.exists():
            print(f"--- hub log ({h.log}) ---\n{h.log.read_text(errors='replace')[-4000:]}")


def wait_for_faq_index(api: httpx.Client) -> None:
    """The FAQ index opens in the background after start (model load); until it is ready the
    bot leaves new chats to people, so the story starts when it is."""
    eventually_sync(lambda: api.get("/api/kb/status").json(), 90, every=0.25, what="the FAQ index opens",
                    until=lambda status: status.get("ready") and status.get("indexed"))


def test_bot_answers_hands_over_and_agent_uses_a_suggestion(customer: Page, agent1: Page, person,
                                                            admin_api: httpx.Client,
                                                            artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    wait_for_faq_index(admin_api)
    open_desk(agent1, "agent1")
    go_ready(agent1)

    # 1. the bot answers a question the FAQ covers; the customer stays with the bot
    widget = open_widget(customer)
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", KNOWN)
    expect(widget.get_by_test_id("widget-status")).to_contain_text("virtual assistant")
    expect(bodies(widget_messages(widget, "bot")).filter(has_text="black digits")).to_have_count(1)
    expect(widget.get_by_test_id("widget-talk-to-person")).to_be_visible()
    expect(agent1.get_by_test_id("offer-card")).to_have_count(0)

    # 2. an unknown question: the bot says so and hands over to the ACD
    customer_writes(widget, UNKNOWN)
    expect(bodies(widget_messages(widget, "bot")).filter(
        has_text="connecting you with a person")).to_have_count(1)
    expect(widget.get_by_test_id("widget-talk-to-person")).to_have_count(0)
    expect(widget.get_by_test_id("widget-status")).to_contain_text("Waiting for an agent")
    accept_offer(agent1, "Zhang Wei")

    # 3. the agent sees the whole bot exchange
    expect(bodies(desk_messages(agent1, "customer")).filter(has_text=KNOWN)).to_have_count(1)
    expect(bodies(desk_messages(agent1, "customer")).filter(has_text=UNKNOWN)).to_have_count(1)
    expect(bodies(desk_messages(agent1, "bot")).filter(has_text="black digits")).to_have_count(1)
    expect(desk_messages(agent1, "bot")).to_have_count(3)  # greeting, answer, hand-over
    panel = agent1.get_by_test_id("assist-panel")
    expect(panel).to_be_visible()

    # 4. live suggestions for what the customer writes next; insert one into the reply
    customer_writes(widget, FOLLOW_UP)
    expect(panel.get_by_test_id("assist-query")).to_contain_text(FOLLOW_UP)
    leak = panel.get_by_test_id("assist-suggestion").filter(has_text="I smell gas")
    expect(leak).to_be_visible()
    expect(leak.get_by_test_id("assist-confidence")).to_contain_text("%")
    leak.get_by_test_id("assist-insert").click()
    expect(agent1.get_by_test_id("reply-input")).to_have_value(
        re.compile("Leave the building"))
    agent1.get_by_test_id("reply-send").click()
    expect(bodies(widget_messages(widget, "agent")).filter(has_text="Leave the building")).to_have_count(1)
    # entities and summary follow the conversation
    expect(panel.get_by_test_id("assist-summary")).not_to_be_empty()
    agent1.screenshot(path=str(artifacts / "assist-desk.png"), full_page=True)

    # 5. the knowledge manager sees the unanswered question in the gaps view
    km = person("km")
    log_in(km, "km")
    km.goto("/kb")
    km.get_by_test_id("kb-tab-gaps").click()
    expect(km.get_by_test_id("kb-gap-question").filter(has_text="swimming pool heater")).to_have_count(1)
