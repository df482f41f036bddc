"""The SMS keywords page against a real Kannel (bearerbox + smsbox + fakesmsc, the hub of
``test_sms.py``): an admin writes a keyword rule in the browser and a phone texting that word gets
the configured answer through Kannel; a STOP lands in the opt-out list; a supervisor sees the rules
read-only; an agent has no page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_sms
from tests.browser.steps import go_to, log_in
from tests.support.kannel import Kannel

pytestmark = pytest.mark.browser

hub, kannel = test_sms.hub, test_sms.kannel  # the fixtures of test_sms.py: the Kannel-wired demo hub

CUSTOMER = "+8613900139011"
QUITTER = "+8613900139022"


def test_admin_configures_a_keyword_and_the_phone_gets_the_answer(
        person: Callable[[str], Page], kannel: Kannel, artifacts: Path) -> None:
    admin: Page = person("admin")
    log_in(admin, "admin")
    go_to(admin, "nav-sms-keywords")
    expect(admin).to_have_url(re.compile(r"/sms/keywords$"))
    expect(admin.locator('[data-testid="sms-keyword-row"][data-keyword="BAL"]')).to_have_count(1)
    expect(admin.get_by_test_id("sms-keywords-readonly")).to_have_count(0)

    # a word that is not one word: the API's message shows under the keyword field
    admin.get_by_test_id("sms-keyword-new").click()
    admin.get_by_test_id("sms-keyword-word").fill("opening hours")
    admin.get_by_test_id("sms-keyword-reply-input").fill("We are open 8:00-20:00.")
    admin.get_by_test_id("sms-keyword-save").click()
    expect(admin.get_by_test_id("field-error-keyword")).to_contain_text("one word")
    # an existing word is not silently replaced
    admin.get_by_test_id("sms-keyword-word").fill("help")
    admin.get_by_test_id("sms-keyword-save").click()
    expect(admin.get_by_test_id("field-error-keyword")).to_contain_text("already a rule for HELP")

    admin.get_by_test_id("sms-keyword-word").fill("hours")
    admin.get_by_test_id("sms-keyword-save").click()
    hours = admin.locator('[data-testid="sms-keyword-row"][data-keyword="HOURS"]')
    expect(hours.get_by_test_id("sms-keyword-reply")).to_have_text("We are open 8:00-20:00.")
    expect(admin.get_by_test_id("field-error-keyword")).to_have_count(0)

    # edit the answer (the form stays on the saved rule)
    answer = "Our service desk is open 8:00-20:00, Monday to Saturday. Call 95007 for leaks at any time."
    admin.get_by_test_id("sms-keyword-reply-input").fill(answer)
    expect(admin.get_by_test_id("sms-keyword-reply-segments")).to_have_attribute("data-segments", "1")
    admin.get_by_test_id("sms-keyword-save").click()
    expect(hours.get_by_test_id("sms-keyword-reply")).to_have_text(answer)

    # a phone texts the word (first word, any case) through Kannel and gets the configured answer
    kannel.inject(CUSTOMER, "95007", "Hours please")
    [got] = kannel.wait_received(1, 20, predicate=lambda r: r.receiver == CUSTOMER)
    assert got.text == answer
    sent = admin.locator('[data-testid="sms-keyword-log-row"][data-direction="out"][data-keyword="HOURS"]')
    expect(sent.get_by_test_id("sms-keyword-log-text")).to_have_text(answer)

    # STOP: the number is in the opt-out list
    kannel.inject(QUITTER, "95007", "stop")
    kannel.wait_received(1, 20, predicate=lambda r: r.receiver == QUITTER)
    expect(admin.locator(f'[data-testid="sms-optout-row"][data-phone="{QUITTER}"]')).to_contain_text("STOP")
    expect(admin.get_by_test_id("sms-status-gateway")).to_have_text("kannel")
    expect(admin.get_by_test_id("sms-status-health")).to_have_text("No errors")
    admin.screenshot(path=str(artifacts / "sms-keywords.png"), full_page=True)

    # a supervisor (bulk_send, not admin) sees the rules read-only
    sup: Page = person("supervisor")
    log_in(sup, "supervisor")
    go_to(sup, "nav-sms-keywords")
    expect(sup.get_by_test_id("sms-keywords-readonly")).to_be_visible()
    expect(sup.locator('[data-testid="sms-keyword-row"][data-keyword="HOURS"]')).to_contain_text(answer)
    expect(sup.get_by_test_id("sms-keyword-new")).to_have_count(0)
    expect(sup.get_by_test_id("sms-keyword-edit")).to_have_count(0)
    expect(sup.get_by_test_id("sms-keyword-delete")).to_have_count(0)

    # an agent has neither the link nor the page
    agent: Page = person("agent1")
    log_in(agent, "agent1")
    expect(agent.get_by_test_id("nav-sms-keywords")).to_have_count(0)
    agent.goto("/sms/keywords")
    expect(agent).to_have_url(re.compile(r"/desk$"))

    # the admin deletes the rule: the word is an ordinary message again
    admin.once("dialog", lambda d: d.accept())
    hours.get_by_test_id("sms-keyword-delete").click()
    expect(hours).to_have_count(0)
