"""The channel pages of the web UI in Chinese and in English (issue #17, acceptance 1).

The same walk as tests/browser/test_i18n_walk.py (no text on screen is a string of the other
language's catalogue; screenshots in test-artifacts/i18n/<locale>/) over the pages of the voice,
SMS, email, fax and IVR areas, for the roles that use them: call recordings, bulk SMS and the SMS
keyword replies (with the rule form), bulk email (with the template form), the fax store, the fax
composer, the fax-on-demand library (with its add form), and the IVR flow editor with every node
of the demo's main line open in the node form, the rules of a condition and a new flow."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in
from tests.browser.test_i18n_walk import LANG_OF, Walk

pytestmark = pytest.mark.browser

# (role, path, what shows the page is there) in the order walked
PAGES = {
    "agent1": [("/recordings", "recordings-page"), ("/fax", "fax-search"), ("/fax/send", "fax-send-form"),
               ("/fax/library", "fax-library-table")],
    "supervisor": [("/recordings", "rec-queue-settings"), ("/sms/bulk", "sms-bulk-form"),
                   ("/sms/keywords", "sms-status-health"), ("/email/bulk", "email-bulk-form"),
                   ("/fax", "fax-search"), ("/fax/send", "fax-send-form"), ("/fax/library", "fax-library-table")],
    "admin": [("/sms/keywords", "sms-keywords-table"), ("/fax/library", "fax-library-table"), ("/admin/ivr", "ivr-flows")],
}


def walk_forms(page: Page, walk: Walk, role: str, path: str) -> None:
    """The forms a page opens: each is checked with the page behind it."""
    if path == "/sms/keywords" and role == "admin":
        page.get_by_test_id("sms-keyword-new").click()
        page.get_by_test_id("sms-keyword-action-select").select_option("balance")
        expect(page.get_by_test_id("sms-keyword-fallback-input")).to_be_visible()
        walk.check(page, f"{role}-sms-keywords-form")
    elif path == "/email/bulk":
        page.get_by_test_id("email-template-new").click()
        expect(page.get_by_test_id("email-template-form")).to_be_visible()
        page.get_by_test_id("email-bulk-source-contacts").check()
        walk.check(page, f"{role}-email-bulk-template-form")
    elif path == "/fax/library" and role == "admin":
        page.get_by_test_id("fax-library-new").click()
        expect(page.get_by_test_id("fax-library-form")).to_be_visible()
        walk.check(page, f"{role}-fax-library-add")
    elif path == "/admin/ivr":
        walk_ivr(page, walk, role)


def walk_ivr(page: Page, walk: Walk, role: str) -> None:
    """The demo's main line, each of its nodes in the node form; a condition's rules; a new flow."""
    page.get_by_test_id("ivr-flow-row").first.get_by_role("link").click()
    expect(page.get_by_test_id("ivr-editor")).to_be_visible()
    walk.check(page, f"{role}-ivr-flow")
    nodes = page.get_by_test_id("ivr-node")
    for i in range(nodes.count()):
        node = nodes.nth(i)
        node_id = node.get_attribute("data-node")
        node.get_by_role("link").click()
        expect(page.get_by_test_id("ivr-node-form")).to_have_attribute("data-node", node_id or "")
        walk.check(page, f"{role}-ivr-node-{node_id}", "[data-testid=ivr-node-form]")
    # a condition with one rule of each test type
    page.get_by_test_id("ivr-new-node-id").fill("check")
    page.get_by_test_id("ivr-new-node-type").select_option("condition")
    page.get_by_test_id("ivr-add-node").click()
    page.get_by_test_id("ivr-rule-add").click()
    rule = page.get_by_test_id("ivr-rule").first
    for kind in ["holiday", "time", "caller", "vip", "var"]:
        rule.get_by_test_id("ivr-test-add").click()
        rule.get_by_test_id("ivr-test-type").last.select_option(kind)
    walk.check(page, f"{role}-ivr-condition", "[data-testid=ivr-node-form]")
    # a new flow in the user's language: its nodes' default labels and prompts come from the catalogue
    page.once("dialog", lambda d: d.accept())  # discard the unsaved node
    page.get_by_test_id("ivr-new").click()
    page.get_by_test_id("ivr-new-name").fill("燃气热线" if walk.locale == "zh-CN" else "Gas line")
    page.get_by_test_id("ivr-create").click()
    expect(page.get_by_test_id("ivr-published")).to_be_visible()
    walk.check(page, f"{role}-ivr-new-flow")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_the_channel_pages_speak_only_the_users_language(
        locale: str, person: Callable[..., Page], artifacts: Path) -> None:
    walk = Walk(locale, artifacts)
    for role, pages in PAGES.items():
        page = person(role, LANG_OF[locale])
        log_in(page, role)
        expect(page.locator("html")).to_have_attribute("lang", locale)
        for path, ready in pages:
            page.goto(path)
            expect(page.get_by_test_id(ready).first).to_be_visible()
            walk.check(page, f"{role}-{path.strip('/').replace('/', '-')}")
            walk_forms(page, walk, role, path)
    assert walk.pages >= 20
    assert not walk.problems, "\n".join(walk.problems)


def test_a_new_ivr_flow_and_node_speak_the_admins_language(person: Callable[..., Page]) -> None:
    """What a caller will hear in a new flow starts in the language of the admin who builds it."""
    page = person("admin", "zh-CN")
    log_in(page, "admin")
    page.goto("/admin/ivr")
    page.get_by_test_id("ivr-new").click()
    page.get_by_test_id("ivr-new-name").fill("燃气热线")
    page.get_by_test_id("ivr-create").click()
    expect(page.get_by_test_id("ivr-published")).to_have_text("未发布")
    page.locator("[data-testid=ivr-node][data-node=welcome]").get_by_role("link").click()
    expect(page.get_by_test_id("ivr-field-label")).to_have_value("欢迎语")
    expect(page.get_by_test_id("ivr-prompt-text")).to_have_value("欢迎致电燃气热线。")
    page.get_by_test_id("ivr-new-node-id").fill("mainmenu")
    page.get_by_test_id("ivr-new-node-type").select_option("menu")
    page.get_by_test_id("ivr-add-node").click()
    form = page.get_by_test_id("ivr-node-form")
    expect(form.locator("h3 .chip")).to_have_text("按键菜单")
    expect(form.get_by_test_id("ivr-prompt-text")).to_have_value("……请按 1。")
    expect(form.get_by_test_id("ivr-field-timeout_s")).to_contain_text("等待按键（秒）")
    expect(page.locator("[data-testid=ivr-node][data-node=mainmenu]")).to_contain_text(re.compile("按键菜单"))
