"""A user sees where they are signed in and signs the other browsers out (#16, sessions that end)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in

pytestmark = pytest.mark.browser


def test_a_supervisor_signs_out_her_other_browser_from_the_sessions_page(person: Callable[..., Page]) -> None:
    office = person("office", "zh-CN")
    laptop = person("laptop", "zh-CN")
    log_in(laptop, "supervisor")
    log_in(office, "supervisor")

    office.get_by_test_id("current-user").click()  # her name in the top bar opens the page
    expect(office).to_have_url("/account/sessions")
    expect(office.get_by_role("heading")).to_have_text("登录设备管理")
    rows = office.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    expect(office.locator("[data-current=true]")).to_contain_text("当前浏览器")
    expect(office.locator("[data-current=true]")).to_contain_text("127.0.0.1")

    office.get_by_test_id("sessions-end-others").click()
    expect(rows).to_have_count(1)
    expect(office.locator("[data-current=true]")).to_have_count(1)

    # the laptop is signed out: the server closes its live connection and the page goes to the login
    # page by itself (the session is gone: /api/auth/session says nobody)
    expect(laptop).to_have_url(re.compile(r"/login"), timeout=10_000)
    expect(laptop.get_by_test_id("login-form")).to_be_visible()
    assert laptop.request.get("/api/auth/session").json() == {"user": None}
    # the office browser is still signed in and can sign itself out from the same page
    office.get_by_test_id("session-end").click()
    expect(office).to_have_url(re.compile(r"/login"))
