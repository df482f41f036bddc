"""Admin pages and the contacts page, driven in the browser like an administrator and an agent."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import log_in

pytestmark = pytest.mark.browser


def test_admin_creates_a_skill_and_a_queue_and_sees_validation_errors(person, admin_api):
    admin: Page = person("admin")
    log_in(admin, "admin")
    admin.goto("/admin/skills")
    admin.get_by_test_id("admin-new").click()
    admin.get_by_test_id("skill-name").fill("Bad Name!")
    admin.get_by_test_id("admin-save").click()
    # the browser refuses the form (identifier pattern) and nothing reaches the hub
    assert admin.get_by_test_id("skill-name").evaluate("e => e.validity.valid") is False
    assert not any(s["name"] == "Bad Name!" for s in admin_api.get("/api/skills").json())
    admin.get_by_test_id("skill-name").fill("meters")
    admin.get_by_test_id("skill-label").fill("Meter exchange")
    admin.get_by_test_id("admin-save").click()
    expect(admin.get_by_test_id("admin-row").filter(has_text="Meter exchange")).to_have_count(1)
    assert any(s["name"] == "meters" for s in admin_api.get("/api/skills").json())

    admin.goto("/admin/queues")
    admin.get_by_test_id("admin-new").click()
    admin.get_by_test_id("queue-name").fill("Billing")  # taken: the hub answers 409
    admin.get_by_test_id("admin-save").click()
    expect(admin.get_by_test_id("form-error")).to_contain_text("exists")
    expect(admin.get_by_test_id("queue-name")).to_have_value("Billing")  # the form is kept
    admin.get_by_test_id("queue-name").fill("Meter exchange")
    admin.get_by_test_id("queue-strategy").select_option("round_robin")
    admin.get_by_test_id("admin-save").click()
    expect(admin.get_by_test_id("admin-row").filter(has_text="Meter exchange")).to_have_count(1)
    queue = next(q for q in admin_api.get("/api/queues").json() if q["name"] == "Meter exchange")
    assert queue["strategy"] == "round_robin"


def test_agent_finds_a_contact_and_edits_it(person):
    agent: Page = person("agent1")
    log_in(agent, "agent1")
    agent.goto("/contacts")
    agent.get_by_test_id("contacts-search").fill("li na")
    rows = agent.get_by_test_id("contact-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Li Na")
    # deleting, merging, VIP and owner need contacts_manage (issue #16): an agent is not offered them
    expect(rows.first.get_by_test_id("contact-delete")).to_have_count(0)
    expect(agent.get_by_test_id("contacts-merge-open")).to_have_count(0)
    expect(agent.get_by_test_id("contacts-export")).to_have_count(0)
    rows.first.get_by_test_id("contact-edit").click()
    expect(agent.get_by_test_id("contact-field-vip")).to_be_disabled()
    expect(agent.get_by_test_id("contact-field-owner")).to_be_disabled()
    agent.get_by_test_id("contact-field-company").fill("Li's Noodle House & Dumplings")
    agent.get_by_test_id("contact-save").click()  # VIP and owner go along unchanged: accepted
    expect(agent.get_by_test_id("contact-row").first).to_contain_text("Dumplings")
