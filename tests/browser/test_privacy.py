"""A data subject's request on the contacts page (issue #16, item 13): an administrator downloads
everything about a person, then erases them; an agent sees neither action."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in

pytestmark = pytest.mark.browser


def test_admin_downloads_a_persons_data_then_erases_them(person, admin_api):
    r = admin_api.post("/api/contacts", json={"name": "Philippa Forgetme", "email": "philippa@forget.example",
                                              "phone": "+8613911112222"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    admin: Page = person("admin")
    log_in(admin, "admin")
    admin.goto("/contacts")
    admin.get_by_test_id("contacts-search").fill("Forgetme")
    row = admin.get_by_test_id("contact-row").filter(has_text="Philippa Forgetme")
    expect(row).to_have_count(1)

    with admin.expect_download() as download:
        row.get_by_test_id("contact-data-export").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert json.loads(archive.read("contact.json"))["email"] == "philippa@forget.example"
        assert json.loads(archive.read("manifest.json"))["contact_id"] == cid

    row.get_by_test_id("contact-erase").click()
    dialog = admin.get_by_test_id("erase-dialog")
    expect(dialog).to_contain_text("Philippa Forgetme")
    expect(dialog.get_by_test_id("erase-confirm")).to_be_disabled()  # until it is understood
    dialog.get_by_test_id("erase-understood").check()
    dialog.get_by_test_id("erase-confirm").click()
    expect(dialog).to_have_count(0)
    expect(row).to_have_count(0)
    assert admin_api.get(f"/api/contacts/{cid}").status_code == 404
    audit = admin_api.get("/api/audit").json()
    assert any(e["type"] == "privacy.erased" and e["data"]["contact_id"] == cid for e in audit)

    agent: Page = person("agent1")
    log_in(agent, "agent1")
    agent.goto("/contacts")
    expect(agent.get_by_test_id("contact-row").first).to_be_visible()
    expect(agent.get_by_test_id("contact-erase")).to_have_count(0)
    expect(agent.get_by_test_id("contact-data-export")).to_have_count(0)
