"""SMS in the browser, against a real Kannel (bearerbox + smsbox + fakesmsc): the agent's SMS thread
view (number, segment counter while typing, delivery ticks) and the bulk-send page with a CSV
upload and live progress bars."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from channels.sms.segments import count
from tests.browser.i18n import Walk
from tests.browser.steps import accept_offer, desk_messages, go_ready, go_to, log_in, open_desk
from tests.support.hub import ThreadedHub
from tests.support.kannel import Kannel, have_kannel

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token"
CUSTOMER = "+8613900139000"


@pytest.fixture
def kannel(tmp_path: Path) -> Iterator[Kannel]:
    if not have_kannel():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    k = Kannel(tmp_path / "kannel", 0, TOKEN)
    yield k
    k.stop()


@pytest.fixture
def hub(tmp_path: Path, kannel: Kannel) -> Iterator[ThreadedHub]:
    """The demo hub wired to the test's Kannel."""
    h = ThreadedHub(tmp_path / "data", env={
        "HUB_SMS_KANNEL_SENDSMS_URL": kannel.sendsms_url, "HUB_SMS_KANNEL_USERNAME": kannel.username,
        "HUB_SMS_KANNEL_PASSWORD": kannel.password, "HUB_SMS_INBOUND_TOKEN": TOKEN,
        "HUB_SMS_NUMBER": "95007", "HUB_SMS_RATE_PER_S": "40"})
    kannel.hub_port = h.port
    kannel.start()
    h.start()
    try:
        yield h
    finally:
        h.stop()


def test_agent_answers_an_sms_with_segment_counter_and_delivery_ticks(agent1: Page, kannel: Kannel) -> None:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    kannel.inject(CUSTOMER, "95007", "My gas meter shows E3. What should I do?")
    accept_offer(agent1, CUSTOMER)
    expect(agent1.get_by_test_id("conversation-channel")).to_contain_text("SMS")
    expect(agent1.get_by_test_id("sms-phone")).to_have_text(CUSTOMER)
    expect(desk_messages(agent1, "customer")).to_contain_text(["My gas meter shows E3."])

    box = agent1.get_by_test_id("reply-input")
    counter = agent1.get_by_test_id("sms-segment-counter")
    long_chinese = "请立即关闭燃气总阀门并打开门窗通风，不要开关任何电器，维修人员将尽快上门检查处理。" * 2
    for text in ("Hello", "a" * 161, long_chinese):
        box.fill(text)
        info = count(text)
        expect(counter).to_have_attribute("data-segments", str(info.segments))
        expect(counter).to_have_attribute("data-encoding", info.encoding)
        expect(agent1.get_by_test_id("sms-remaining")).to_have_text(f"{info.remaining} left")
    assert count(long_chinese).segments == 2

    box.fill(long_chinese)
    agent1.get_by_test_id("reply-send").click()
    mine = desk_messages(agent1, "agent").filter(has_text="请立即关闭燃气总阀门")
    expect(mine).to_have_count(1)
    # the tick moves to delivered when Kannel's delivery report arrives
    expect(mine.get_by_test_id("sms-tick")).to_have_attribute("data-status", "delivered")
    [got] = kannel.wait_received(1, 15)
    assert (got.receiver, got.text, got.parts) == (CUSTOMER, long_chinese, 2)


def test_bulk_send_from_a_csv_upload_shows_live_progress(supervisor: Page, kannel: Kannel,
                                                         tmp_path: Path) -> None:
    rows = ["phone,name"] + [f"138{i:08d},Customer {i}" for i in range(200)]
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    log_in(supervisor, "supervisor")
    go_to(supervisor, "nav-sms-bulk")
    expect(supervisor).to_have_url(re.compile(r"/sms/bulk$"))
    supervisor.get_by_test_id("sms-bulk-name").fill("Meter reading week")
    supervisor.get_by_test_id("sms-bulk-template").fill("Dear {name}, we read your meter on Monday.")
    expect(supervisor.get_by_test_id("sms-bulk-segments")).to_have_attribute("data-segments", "1")
    supervisor.get_by_test_id("sms-bulk-file").set_input_files(str(csv_path))
    supervisor.get_by_test_id("sms-bulk-submit").click()

    job = supervisor.get_by_test_id("sms-bulk-job").filter(has_text="Meter reading week")
    expect(job).to_have_count(1)
    # 200 messages at 40/s take about 5 s: the page shows them going out without a reload
    expect(job.get_by_test_id("sms-bulk-sent")).not_to_have_text("200")
    expect(job.get_by_test_id("sms-bulk-sent")).to_have_text("200", timeout=30_000)
    expect(job.get_by_test_id("sms-bulk-delivered")).to_have_text("200", timeout=15_000)
    expect(job.get_by_test_id("sms-bulk-status")).to_have_text("done")
    expect(job.get_by_test_id("sms-bulk-bar-delivered")).to_have_attribute("style", re.compile("width: 100%"))
    assert len(kannel.wait_received(200, 15)) == 200

    # a bad number in the list is refused with the row, and nothing is created
    supervisor.get_by_test_id("sms-bulk-name").fill("Typo")
    supervisor.get_by_test_id("sms-bulk-template").fill("Hello")
    supervisor.get_by_test_id("sms-bulk-numbers").fill("13800000001\n12345")
    supervisor.get_by_test_id("sms-bulk-submit").click()
    expect(supervisor.get_by_test_id("sms-bulk-row-errors")).to_contain_text("Row 2 (12345)")
    expect(supervisor.get_by_test_id("sms-bulk-job")).to_have_count(1)


def test_a_chinese_agent_sees_the_sms_thread_counter_and_ticks_in_chinese(
        person: Callable[..., Page], kannel: Kannel, artifacts: Path) -> None:
    agent = person("agent1", "zh-CN")
    log_in(agent, "agent1")
    expect(agent.get_by_test_id("desk")).to_be_visible()
    expect(agent.get_by_test_id("agent-state")).not_to_have_text("…")
    agent.get_by_test_id("state-ready").click()
    expect(agent.get_by_test_id("agent-state")).to_have_attribute("class", re.compile("state--ready"))
    kannel.inject(CUSTOMER, "95007", "燃气表显示E3，怎么办？")
    agent.get_by_test_id("offer-card").filter(has_text=CUSTOMER).get_by_test_id("offer-accept").click()
    expect(agent.get_by_test_id("conversation-contact")).to_have_text(CUSTOMER)
    expect(agent.get_by_test_id("sms-thread-info")).to_contain_text(f"短信号码 {CUSTOMER}")

    text = "请立即关闭燃气总阀门并打开门窗通风。"
    agent.get_by_test_id("reply-input").fill(text)
    info = count(text)
    expect(agent.get_by_test_id("sms-segments")).to_have_text(f"{info.segments} 条短信")
    expect(agent.get_by_test_id("sms-remaining")).to_have_text(f"剩余 {info.remaining} 字")
    expect(agent.get_by_test_id("sms-segment-counter")).to_contain_text("Unicode（UCS-2）")
    agent.get_by_test_id("reply-send").click()
    tick = desk_messages(agent, "agent").filter(has_text="请立即关闭燃气总阀门").get_by_test_id("sms-tick")
    expect(tick).to_have_attribute("data-status", "delivered")
    expect(tick).to_contain_text("已送达")

    walk = Walk("zh-CN", artifacts)
    walk.check(agent, "agent1-desk-sms")
    assert not walk.problems, "\n".join(walk.problems)
