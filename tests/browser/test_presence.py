"""An agent who closes the browser is not left Ready (#19 item 7): once the last desk tab has been
gone for the grace period (``agent_disconnect_grace_s``, 1 s here), the agent is not ready with the
reason "disconnected", and a chat that was ringing at their closed desk goes to a colleague at once
instead of after the 30 s offer time-out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.hubs import running
from tests.browser.steps import go_ready, offer_for, open_desk, open_widget, start_chat
from tests.support.hub import ThreadedHub

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    with running(ThreadedHub(tmp_path / "data", env={"HUB_AGENT_DISCONNECT_GRACE_S": "1"}), request) as h:
        yield h


def test_an_agent_who_closes_the_desk_is_set_not_ready_and_the_ringing_chat_goes_to_a_colleague(
        person, hub: ThreadedHub) -> None:  # type: ignore[no-untyped-def]
    agent1: Page = person("agent1")
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(person("customer"))
    start_chat(widget, "Zhou Min", "zhou.min@example.com", "My gas meter shows E3")
    offer_for(agent1, "Zhou Min")  # ringing at agent1's desk, who closes the browser
    with httpx.Client(base_url=hub.base_url, timeout=10, headers={"Origin": hub.base_url}) as agent2:
        assert agent2.post("/api/auth/login", json={"username": "agent2", "password": "demo"}).status_code == 200
        assert agent2.post("/api/agent/state", json={"state": "ready"}).status_code == 200
        agent1.context.close()
        closed_at = time.monotonic()
        offered: list[dict] = []  # type: ignore[type-arg]
        while not offered and time.monotonic() - closed_at < 10:
            offered = agent2.get("/api/conversations", params={"view": "offered"}).json()["items"]
            time.sleep(0.1)
        waited = time.monotonic() - closed_at
        assert offered and offered[0]["contact"]["name"] == "Zhou Min", offered
        assert waited < 10, f"the chat rang at the closed desk for {waited:.1f} s"
        agents = {a["display_name"]: a for a in agent2.get("/api/directory").json()["agents"]}
        assert agents["Alice Chen"]["state"] == "not_ready", agents["Alice Chen"]

    # agent1 comes back: the desk says why they are not ready; Ready is one click away
    again: Page = person("agent1-again")
    open_desk(again, "agent1")
    expect(again.get_by_test_id("agent-state")).to_have_text("not_ready")
    expect(again.get_by_test_id("agent-state-reason")).to_have_text("Disconnected")
    go_ready(again)
