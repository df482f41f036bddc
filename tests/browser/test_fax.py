"""Fax in the browser: the agent sees an inbound fax page by page (thumbnails, zoom, OCR text)
in the desk's conversation view; a supervisor sends a bulk fax and watches its progress. The
outbound gateway is the HylaFAX protocol server of ``tests/channels/fax/support.py`` (a fake of
hfaxd, which needs a fax modem), run on its own event loop in a thread."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.i18n import Walk
from tests.browser.steps import accept_offer, go_ready, go_to, log_in, open_desk
from tests.channels.fax.support import SECRET, HylafaxServer, have_tools, make_tiff, multipart, signed_headers
from tests.support.hub import ThreadedHub

pytestmark = pytest.mark.browser


@pytest.fixture
def hylafax() -> Iterator[HylafaxServer]:
    loop = asyncio.new_event_loop()
    server = HylafaxServer(fail_submits=1)
    thread = threading.Thread(target=loop.run_forever, name="fake-hfaxd", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def hub(tmp_path: Path, hylafax: HylafaxServer) -> Iterator[ThreadedHub]:
    if not have_tools():
        pytest.skip("ghostscript, libtiff-tools and tesseract-ocr are needed")
    h = ThreadedHub(tmp_path / "data", env={
        "HUB_FAX_INBOUND_SECRET": SECRET, "HUB_FAX_GATEWAY": "hylafax",
        "HUB_FAX_HYLAFAX_PORT": str(hylafax.port), "HUB_FAX_POLL_S": "0.3",
        "HUB_FAX_RETRY_BASE_S": "0.2"}).start()
    try:
        yield h
    finally:
        h.stop()


def test_agent_sees_the_fax_page_by_page(agent1: Page, hub: ThreadedHub, tmp_path: Path,
                                         artifacts: Path) -> None:
    open_desk(agent1, "agent1")
    go_ready(agent1)
    tiff = make_tiff(tmp_path / "t", ["Leak report page one", "Meter photo page two"])
    body, ctype = multipart(tiff.read_bytes(), "fax.tif", "image/tiff", **{"from": "+861065529988"})
    r = httpx.post(f"{hub.base_url}/api/fax/inbound", content=body,
                   headers={"Content-Type": ctype, **signed_headers(body)}, timeout=30)
    assert r.status_code == 201, r.text
    accept_offer(agent1, "Fax +861065529988")
    expect(agent1.get_by_test_id("conversation-channel")).to_contain_text("Fax")
    pages = agent1.get_by_test_id("fax-pages")
    expect(pages).to_have_attribute("data-page-count", "2")
    expect(agent1.get_by_test_id("fax-thumb")).to_have_count(2)
    image = agent1.get_by_test_id("fax-page-image")
    expect(image).to_have_attribute("data-page", "1")
    # the page image really loaded (natural size of the rendered fax page)
    agent1.wait_for_function("() => { const i = document.querySelector('[data-testid=fax-page-image]');"
                             " return i && i.complete && i.naturalWidth === 1728 }", timeout=10_000)
    agent1.get_by_test_id("fax-thumb").nth(1).click()
    expect(image).to_have_attribute("data-page", "2")
    agent1.get_by_test_id("fax-zoom-in").click()
    expect(agent1.get_by_test_id("fax-zoom")).to_have_text("125%")
    agent1.get_by_test_id("fax-ocr-toggle").check()
    # OCR runs in the background: the text appears once tesseract is done
    ocr = agent1.get_by_test_id("fax-ocr-text")
    expect(ocr).to_contain_text(re.compile("Meter", re.I), timeout=60_000)
    expect(ocr).to_be_in_viewport()
    agent1.screenshot(path=str(artifacts / "fax-desk-viewer.png"))


def test_bulk_fax_shows_progress(supervisor: Page, hylafax: HylafaxServer) -> None:
    log_in(supervisor, "supervisor")
    go_to(supervisor, "nav-fax")
    expect(supervisor).to_have_url(re.compile(r"/fax$"))
    supervisor.get_by_test_id("fax-compose-link").click()
    supervisor.get_by_test_id("fax-send-text").fill("燃气管道检修通知 / Notice of gas main works on Monday.")
    supervisor.get_by_test_id("fax-send-numbers").fill("\n".join(f"+86106552{i:04d}" for i in range(6)))
    supervisor.get_by_test_id("fax-send-name").fill("Works notice")
    supervisor.get_by_test_id("fax-send-submit").click()
    job = supervisor.get_by_test_id("fax-bulk-job").filter(has_text="Works notice")
    expect(job).to_have_count(1)
    expect(job.get_by_test_id("fax-bulk-sent")).to_have_text("6", timeout=60_000)
    expect(job.get_by_test_id("fax-bulk-status")).to_have_text("done")
    expect(job.get_by_test_id("fax-bulk-bar")).to_have_attribute("style", re.compile("width: 100%"))
    assert len(hylafax.jobs) == 6

    # a bad number is refused with its row, nothing sent
    supervisor.get_by_test_id("fax-send-text").fill("Hello")
    supervisor.get_by_test_id("fax-send-numbers").fill("+861065520001\n123")
    supervisor.get_by_test_id("fax-send-submit").click()
    expect(supervisor.get_by_test_id("fax-send-row-errors")).to_contain_text("Row 2 (123)")
    expect(supervisor.get_by_test_id("fax-bulk-job")).to_have_count(1)

    # the sent document is in the fax store
    supervisor.get_by_test_id("fax-store-link").click()
    row = supervisor.get_by_test_id("fax-row")
    expect(row).to_have_count(1)  # the refused one was never sent
    row.click()
    expect(supervisor.get_by_test_id("fax-store-viewer").get_by_test_id("fax-thumb")).to_have_count(1)


def test_a_chinese_agent_sees_the_fax_viewer_in_chinese(person: Callable[..., Page], hub: ThreadedHub,
                                                        tmp_path: Path, artifacts: Path) -> None:
    agent = person("agent1", "zh-CN")
    log_in(agent, "agent1")
    expect(agent.get_by_test_id("agent-state")).not_to_have_text("…")
    agent.get_by_test_id("state-ready").click()
    expect(agent.get_by_test_id("agent-state")).to_have_attribute("class", re.compile("state--ready"))
    tiff = make_tiff(tmp_path / "t", ["Leak report page one", "Meter photo page two"])
    body, ctype = multipart(tiff.read_bytes(), "fax.tif", "image/tiff", **{"from": "+861065529988"})
    r = httpx.post(f"{hub.base_url}/api/fax/inbound", content=body,
                   headers={"Content-Type": ctype, **signed_headers(body)}, timeout=30)
    assert r.status_code == 201, r.text
    agent.get_by_test_id("offer-card").filter(has_text="+861065529988").get_by_test_id("offer-accept").click()
    pages = agent.get_by_test_id("fax-pages")
    expect(pages).to_have_attribute("data-page-count", "2")
    expect(agent.get_by_test_id("fax-page-count")).to_have_text("共 2 页")
    expect(agent.get_by_test_id("fax-from")).to_have_text("来自 +861065529988")
    expect(agent.get_by_test_id("fax-original")).to_have_text("原件")
    expect(agent.get_by_test_id("fax-thumb").first.locator("img")).to_have_attribute("alt", "第 1 页")
    agent.get_by_test_id("fax-ocr-toggle").check()
    expect(pages).to_contain_text(re.compile(r"OCR 文字\s*\((识别中|已识别)\)"))
    walk = Walk("zh-CN", artifacts)
    walk.check(agent, "agent1-desk-fax")
    assert not walk.problems, "\n".join(walk.problems)
