"""The fax-on-demand library page, with the hub and HylaFAX protocol server of ``test_fax.py`` (a fake
of hfaxd, which needs a fax modem): an admin adds a typed document under a code, sees its pages,
edits it, is told when a code is taken; a supervisor (who may send faxes but not edit the library)
faxes a document to a number and the job reaches the gateway."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import test_fax
from tests.browser.steps import go_to, log_in
from tests.channels.fax.support import HylafaxServer

pytestmark = pytest.mark.browser

hub, hylafax = test_fax.hub, test_fax.hylafax  # the fixtures of test_fax.py: the hub with its fax gateway

# 50 short lines: two A4 pages of typeset text
PRICE_LIST = "\n".join(["Gas tariffs 2026"] + [f"Band {i}: {1.5 + i / 100:.2f} CNY per cubic metre" for i in range(49)])


def row(page: Page, code: str) -> Locator:
    return page.locator(f'[data-testid="fax-library-row"][data-code="{code}"]')


def test_admin_builds_the_library_and_a_supervisor_faxes_from_it(
        person: Callable[[str], Page], hylafax: HylafaxServer, artifacts: Path) -> None:
    admin = person("admin")
    log_in(admin, "admin")
    go_to(admin, "nav-fax-library")  # an admin has no fax desk: the library is in the top bar
    expect(admin).to_have_url(re.compile(r"/fax/library$"))
    expect(admin.get_by_test_id("fax-library-empty")).to_be_visible()

    admin.get_by_test_id("fax-library-new").click()
    admin.get_by_test_id("fax-library-code-input").fill("101")
    admin.get_by_test_id("fax-library-title-input").fill("Gas tariffs 2026")
    admin.get_by_test_id("fax-library-description-input").fill("Prices per band, from 1 January")
    admin.get_by_test_id("fax-library-text").fill(PRICE_LIST)
    admin.get_by_test_id("fax-library-save").click()
    tariffs = row(admin, "101")
    expect(tariffs.get_by_test_id("fax-library-title")).to_have_text("Gas tariffs 2026")
    expect(tariffs.get_by_test_id("fax-library-pages")).to_have_text("2")
    # the thumbnail of the first page really loads, and the preview shows both pages
    admin.wait_for_function("() => { const i = document.querySelector('[data-testid=fax-library-row] img');"
                            " return i && i.complete && i.naturalWidth > 0 }", timeout=10_000)
    viewer = admin.get_by_test_id("fax-library-viewer")
    expect(viewer.get_by_test_id("fax-thumb")).to_have_count(2)
    expect(viewer.get_by_test_id("fax-from")).to_have_text("101 · Gas tariffs 2026")

    # a second document under a code already taken: the API's error shows at the code field
    admin.get_by_test_id("fax-library-new").click()
    admin.get_by_test_id("fax-library-code-input").fill("101")
    admin.get_by_test_id("fax-library-title-input").fill("Opening times")
    admin.get_by_test_id("fax-library-text").fill("Service desk: 8:00-20:00, Monday to Saturday.")
    admin.get_by_test_id("fax-library-save").click()
    expect(admin.get_by_test_id("field-error-code")).to_contain_text("the code 101 is already used")
    expect(admin.get_by_test_id("fax-library-row")).to_have_count(1)
    admin.get_by_test_id("fax-library-code-input").fill("102")
    admin.get_by_test_id("fax-library-save").click()
    expect(row(admin, "102").get_by_test_id("fax-library-pages")).to_have_text("1")

    # edit title, description and code
    row(admin, "102").get_by_test_id("fax-library-edit").click()
    admin.get_by_test_id("fax-library-title-input").fill("Opening hours")
    admin.get_by_test_id("fax-library-description-input").fill("Service desk and emergency line")
    admin.get_by_test_id("fax-library-code-input").fill("201")
    admin.get_by_test_id("fax-library-save").click()
    hours = row(admin, "201")
    expect(hours.get_by_test_id("fax-library-title")).to_have_text("Opening hours")
    expect(hours.get_by_test_id("fax-library-description")).to_have_text("Service desk and emergency line")
    expect(row(admin, "102")).to_have_count(0)
    # a code that is not digits is refused at the field, nothing changes
    admin.get_by_test_id("fax-library-code-input").fill("20a")
    admin.get_by_test_id("fax-library-save").click()
    expect(admin.get_by_test_id("field-error-code")).to_contain_text("1 to 16 digits")
    expect(hours).to_have_count(1)
    admin.screenshot(path=str(artifacts / "fax-library.png"), full_page=True)
    expect(admin.get_by_test_id("fax-library-send")).to_have_count(0)  # sending needs the desk

    # a supervisor sees the library read-only and faxes a document to a number
    sup = person("supervisor")
    log_in(sup, "supervisor")
    go_to(sup, "nav-fax")
    sup.get_by_test_id("fax-library-link").click()
    expect(sup.get_by_test_id("fax-library-readonly")).to_be_visible()
    expect(sup.get_by_test_id("fax-library-edit")).to_have_count(0)
    row(sup, "101").get_by_test_id("fax-library-send").click()
    sup.get_by_test_id("fax-library-number").fill("12")
    sup.get_by_test_id("fax-library-send-submit").click()
    expect(sup.get_by_test_id("fax-library-send-error")).to_contain_text("not a valid fax number")
    sup.get_by_test_id("fax-library-number").fill("010 6552 9988")
    sup.get_by_test_id("fax-library-send-submit").click()
    job = sup.locator('[data-testid="fax-library-job"][data-number="+861065529988"]')
    expect(job).to_have_count(1)
    # the gateway refuses the first submission (the fixture's fail_submits): retried, then sent
    expect(job.get_by_test_id("fax-library-job-status")).to_have_text("sent", timeout=30_000)
    assert [hylafax.number_of(j) for j in hylafax.jobs] == ["+861065529988"]

    # the admin removes a document
    admin.once("dialog", lambda d: d.accept())
    hours.get_by_test_id("fax-library-delete").click()
    expect(hours).to_have_count(0)
    expect(admin.get_by_test_id("fax-library-row")).to_have_count(1)
