"""Customer texts (issue #17) in the browser: an administrator working in Chinese changes the
offline form's confirmation on the texts page (a placeholder the text does not have is refused
with its name), and the next Chinese customer who leaves a message in the widget reads the new
text, without a restart; a Chinese customer is asked to rate the chat in Chinese."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in, open_widget, start_chat

pytestmark = pytest.mark.browser

IN_CHINESE = "localStorage.setItem('hub.lang', 'zh-CN')"  # the language a staff user chose earlier


def test_an_administrator_changes_a_chinese_text_and_the_next_customer_reads_it(person, admin_api) -> None:  # type: ignore[no-untyped-def]
    admin: Page = person("admin")
    admin.context.add_init_script(IN_CHINESE)
    log_in(admin, "admin")
    admin.goto("/admin/texts")
    expect(admin.get_by_role("heading", name="客户话术")).to_be_visible()
    admin.get_by_test_id("texts-filter").fill("widget.offline.received")
    entry = admin.get_by_test_id("text-entry")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("留言表单：提交后的确认")
    chinese = entry.locator("[data-lang='zh-CN']")
    expect(chinese.get_by_test_id("text-body")).to_have_value(
        "{name}，您好！我们已收到您的留言，将在工作时间内尽快通过邮件回复您。")

    chinese.get_by_test_id("text-body").fill("{who}，感谢留言！")
    chinese.get_by_test_id("text-save").click()
    expect(chinese.get_by_test_id("text-error")).to_have_text("{who} 不是此话术的占位符。可用的有：{name}")
    stored = {i["key"]: i for i in admin_api.get("/api/texts").json()["items"]}
    assert not stored["widget.offline.received"]["texts"]["zh-CN"]["customised"]  # nothing changed

    mine = "{name}，感谢您的留言！我们明天上午九点后给您回复。"
    chinese.get_by_test_id("text-body").fill(mine)
    chinese.get_by_test_id("text-save").click()
    expect(chinese.get_by_test_id("text-customised")).to_have_text("已修改")
    expect(chinese.get_by_test_id("text-saved")).to_be_visible()
    expect(entry.locator("[data-lang='en']").get_by_test_id("text-customised")).to_have_count(0)

    # nobody is ready: a Chinese customer gets the offline form, in Chinese, and the new text
    customer: Page = person("customer", "zh-CN")
    widget = open_widget(customer, "/demo-zh.html")  # the company's Chinese page
    expect(widget.get_by_test_id("offline-intro")).to_have_text("当前客服不在线，请留下您的问题，我们会通过邮件回复您。")
    widget.get_by_test_id("offline-name").fill("李娜")
    widget.get_by_test_id("offline-email").fill("li.na@example.cn")
    widget.get_by_test_id("offline-message").fill("明天上午能上门检查燃气管道吗？")
    widget.get_by_test_id("offline-submit").click()
    expect(widget.get_by_test_id("offline-notice")).to_have_text("李娜，感谢您的留言！我们明天上午九点后给您回复。")

    # back to the default: the page shows it again
    chinese.get_by_test_id("text-reset").click()
    expect(chinese.get_by_test_id("text-customised")).to_have_count(0)
    expect(chinese.get_by_test_id("text-body")).to_have_value(
        "{name}，您好！我们已收到您的留言，将在工作时间内尽快通过邮件回复您。")


def test_a_chinese_customer_is_asked_to_rate_the_chat_in_chinese(person, hub) -> None:  # type: ignore[no-untyped-def]
    """The rating request and the thanks come from the hub (texts widget.csat.*) in the chat's
    language; the agent works through the REST API here (the desk is another test's subject)."""
    with httpx.Client(base_url=hub.base_url, timeout=10, headers={"Origin": hub.base_url}) as agent:
        assert agent.post("/api/auth/login", json={"username": "agent1", "password": "demo"}).status_code == 200
        assert agent.post("/api/agent/state", json={"state": "ready"}).status_code == 200
        customer: Page = person("customer", "zh-CN")
        widget = open_widget(customer, "/demo-zh.html")
        start_chat(widget, "王芳", "wang.fang@example.cn", "你好，燃气表显示E3是什么意思？")

        def offered() -> list[dict]:  # type: ignore[type-arg]
            return agent.get("/api/conversations", params={"view": "offered"}).json()["items"]

        deadline = time.monotonic() + 10
        while not offered() and time.monotonic() < deadline:
            time.sleep(0.1)
        [conv] = offered()
        assert agent.post(f"/api/conversations/{conv['id']}/accept").status_code == 200
        assert agent.post(f"/api/conversations/{conv['id']}/close",
                          json={"disposition": "resolved"}).status_code == 200
        expect(widget.get_by_test_id("csat-prompt")).to_have_text("请您对本次服务做出评价，您的意见对我们很重要。")
        widget.get_by_test_id("csat-5").click()
        widget.get_by_test_id("csat-submit").click()
        expect(widget.get_by_test_id("csat-thanks-text")).to_have_text("感谢您的评价！")
