"""Consulted transfer through a conference in real Chromium (fixtures of test_softphone.py): a
sipp caller is answered by agent 1 on the browser softphone; agent 1 presses Consult…, picks
agent 2, whose softphone rings and answers; agent 1 joins all three in a conference, then
completes the transfer: agent 1's call ends, agent 2 keeps talking to the caller."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import go_ready, open_desk
from tests.browser.test_softphone import (  # noqa: F401 - fixtures shared with the softphone test
    answer_call,
    browser,
    caller,
    hears_audio,
    hub,
    speech_wav,
)
from tests.support.hub import ThreadedHub

pytestmark = pytest.mark.browser


def test_agent_consults_a_colleague_conferences_and_completes_the_transfer(
    person: Callable[[str], Page], caller: Callable[[], subprocess.Popen[bytes]],  # noqa: F811
    hub: ThreadedHub, admin_api: httpx.Client, artifacts: Path,  # noqa: F811
) -> None:
    agent1, agent2 = person("agent1"), person("agent2")
    agent2_id = next(u["id"] for u in admin_api.get("/api/users").json() if u["username"] == "agent2")
    open_desk(agent1, "agent1")
    expect(agent1.get_by_test_id("softphone-status")).to_have_text("online")
    go_ready(agent1)
    open_desk(agent2, "agent2")
    expect(agent2.get_by_test_id("softphone-status")).to_have_text("online")
    sipp = caller()
    answer_call(agent1, "+4930765432")
    hears_audio(agent1, "softphone-level")

    # Consult…: agent 2 (softphone); the caller waits on music on hold
    agent1.get_by_test_id("softphone-consult-open").click()
    agent1.get_by_test_id("consult-agent").select_option(value=agent2_id)
    agent1.get_by_test_id("consult-start").click()
    consult = agent1.get_by_test_id("softphone-consult")
    expect(consult).to_have_attribute("data-state", "ringing")
    expect(agent1.get_by_test_id("softphone-hold")).to_be_disabled()
    ring = agent2.get_by_test_id("softphone-incoming")
    ring.get_by_test_id("softphone-answer").click()
    expect(agent2.get_by_test_id("softphone-consulted")).to_be_visible()
    expect(consult).to_have_attribute("data-state", "talking")
    hears_audio(agent2, "softphone-level")  # agent 1's microphone

    # Conference, then Complete transfer: agent 1's call ends, agent 2 keeps the caller
    consult.get_by_test_id("softphone-consult-conference").click()
    expect(consult).to_have_attribute("data-state", "conference")
    agent1.screenshot(path=str(artifacts / "softphone-conference.png"))
    consult.get_by_test_id("softphone-consult-complete").click()
    expect(agent1.get_by_test_id("softphone-call")).to_have_count(0)
    expect(agent2.get_by_test_id("softphone-consulted")).to_have_count(0)
    level = agent2.get_by_test_id("softphone-level")
    hears_audio(agent2, "softphone-level", above=float(level.get_attribute("data-energy") or 0))
    call = admin_api.get("/api/voice/monitor/calls").json()["calls"][0]
    assert call["agent_id"] == agent2_id and call["consult"] is None

    agent2.get_by_test_id("softphone-hangup").click()
    expect(agent2.get_by_test_id("softphone-call")).to_have_count(0)
    assert sipp.wait(timeout=15) == 0
