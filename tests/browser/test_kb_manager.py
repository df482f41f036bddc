"""The knowledge manager's page in the browser: write an article, publish it, find it by a
paraphrase, import a file with a bad row, see a question the bot could not answer."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in
from tests.support.hub import ThreadedHub
from tests.support.wait import eventually_sync

pytestmark = pytest.mark.browser


@pytest.fixture
def hub(tmp_path):  # type: ignore[no-untyped-def]
    """The shared fixture's hub with a longer start-up allowance: the hub also loads the embedding
    model here, and the shared 2-core machine is often busy."""
    h = ThreadedHub(tmp_path / "data").start(timeout=120)
    try:
        yield h
    finally:
        h.stop()


def wait_for_search_index(base_url: str) -> None:
    """Set-up: the hub loads the embedding model in the background after it starts."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.post("/api/auth/login", json={"username": "km", "password": "demo"})
        eventually_sync(lambda: client.get("/api/kb/status").json()["ready"], 90, every=0.3,
                        what="the search index becomes ready")


def test_knowledge_manager_writes_publishes_searches_imports_and_sees_a_gap(person, hub, tmp_path):
    wait_for_search_index(hub.base_url)
    km: Page = person("km")
    log_in(km, "km")
    expect(km).to_have_url("/kb")

    # write a draft with a preview of the sanitised answer
    km.get_by_test_id("kb-new").click()
    km.get_by_test_id("kb-question").fill("Can I pause my gas supply while I am abroad?")
    km.get_by_test_id("kb-alternatives").fill("suspend gas during a long trip\nstop supply temporarily")
    km.get_by_test_id("kb-category").fill("Account")
    km.get_by_test_id("kb-answer").fill("<p>Yes: ask us <b>5 days</b> ahead.<script>alert(1)</script></p>")
    expect(km.get_by_test_id("kb-preview").locator("b")).to_have_text("5 days")
    expect(km.get_by_test_id("kb-preview").locator("script")).to_have_count(0)
    km.get_by_test_id("kb-save").click()
    expect(km.get_by_test_id("kb-notice")).to_have_text("Saved version 1")
    expect(km.get_by_test_id("kb-status")).to_have_text("draft")

    # a second version, then compare
    km.get_by_test_id("kb-answer").fill("<p>Yes: ask us <b>7 days</b> ahead.</p>")
    km.get_by_test_id("kb-save").click()
    expect(km.get_by_test_id("kb-notice")).to_have_text("Saved version 2")
    km.get_by_test_id("kb-diff-1").click()
    expect(km.get_by_test_id("kb-diff").locator("ins").first).to_contain_text("7")

    # publish; agents' search finds it by a paraphrase
    km.get_by_test_id("kb-publish").click()
    expect(km.get_by_test_id("kb-status")).to_have_text("published")
    km.get_by_test_id("kb-search").fill("stop my gas while travelling for months")
    first = km.get_by_test_id("kb-result").first
    expect(first).to_contain_text("Can I pause my gas supply while I am abroad?")
    expect(first).to_contain_text("published")

    # import with a bad row: the good rows are kept, the bad one is reported with its row number
    csv_text = ("question,answer,category\n"
                "Do you offer paperless billing?,Yes in the app.,Billing\n"
                ",an answer without a question,Billing\n"
                "How do I report a broken streetlight?,Call the city.,General\n")
    km.get_by_test_id("kb-tab-import").click()
    km.get_by_test_id("kb-import-file").set_input_files(
        {"name": "faq.csv", "mimeType": "text/csv", "buffer": csv_text.encode()})
    km.get_by_test_id("kb-import-submit").click()
    expect(km.get_by_test_id("kb-import-status")).to_have_text("done")
    expect(km.get_by_test_id("kb-import-created")).to_have_text("2")
    errors = km.get_by_test_id("kb-import-row-error")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("3")
    expect(errors.first).to_contain_text("question")

    # questions the bot could not answer
    with httpx.Client(base_url=hub.base_url, timeout=10) as agent:
        agent.post("/api/auth/login", json={"username": "agent1", "password": "demo"})
        for q in ("Do you install solar panels?", "do you install SOLAR panels"):
            assert agent.post("/api/kb/gaps", json={"question": q, "channel": "chat"}).status_code == 201
    km.get_by_test_id("kb-tab-gaps").click()
    gap = km.get_by_test_id("kb-gap").filter(has_text="solar panels")
    expect(gap.get_by_test_id("kb-gap-count")).to_have_text("2")
    gap.get_by_test_id("kb-gap-create").click()
    expect(km.get_by_test_id("kb-question")).to_have_value("do you install SOLAR panels")
    expect(km.get_by_test_id("kb-status")).to_have_text("draft")
    km.screenshot(path=str(tmp_path / "kb.png"))
