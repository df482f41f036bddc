"""Signing in to the staff UI."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_wrong_password_is_refused_and_the_right_one_opens_the_desk(agent1: Page) -> None:
    agent1.goto("/desk")
    # Not signed in: the desk sends us to the login page and remembers where we wanted to go.
    expect(agent1).to_have_url(re.compile(r"/login\?next=(%2F|/)desk$"))
    # the tab shows the hub's icon (no 404 for a missing favicon in the console, issue #19)
    icon = agent1.locator("link[rel=icon]").get_attribute("href")
    assert icon and agent1.request.get(icon).headers["content-type"].startswith("image/svg+xml")
    agent1.get_by_test_id("login-username").fill("agent1")
    agent1.get_by_test_id("login-password").fill("not-the-password")
    agent1.get_by_test_id("login-submit").click()
    expect(agent1.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    expect(agent1).to_have_url(re.compile(r"/login"))
    expect(agent1.get_by_test_id("desk")).to_have_count(0)

    agent1.get_by_test_id("login-password").fill("demo")
    agent1.get_by_test_id("login-submit").click()
    expect(agent1).to_have_url("/desk")
    expect(agent1.get_by_test_id("desk")).to_be_visible()
    expect(agent1.get_by_test_id("current-user")).to_have_text("Alice Chen")
    expect(agent1.get_by_test_id("login-error")).to_have_count(0)
