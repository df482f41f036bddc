"""CRM-1 contacts and ADMIN-1 configuration through the API."""

from __future__ import annotations

import csv
import io


async def test_contact_crud_search_sort_and_custom_fields(hub):
    agent = await hub.client("agent1")
    created = await agent.ok("POST", "/api/contacts", {
        "name": "Zoe Park", "email": "Zoe@Example.com", "phone": "+1 (555) 0199", "tags": ["new"],
        "custom": {"account_no": "GC-9", "meter_type": "smart"}}, status=201)
    assert created["email"] == "zoe@example.com" and created["phone"] == "+15550199"
    found = await agent.ok("GET", "/api/contacts?q=zoe")
    assert [c["id"] for c in found["items"]] == [created["id"]]
    by_phone = await agent.ok("GET", "/api/contacts?q=555 0199")
    assert created["id"] in [c["id"] for c in by_phone["items"]]
    names = [c["name"] for c in (await agent.ok("GET", "/api/contacts?sort=-name&limit=3"))["items"]]
    assert names == sorted(names, reverse=True)
    vip = await agent.ok("GET", "/api/contacts?vip=true")
    assert {c["name"] for c in vip["items"]} == {"Li Na"}
    r = await agent.patch(f"/api/contacts/{created['id']}", {"custom": {"meter_type": "gas-powered"}})
    assert r.status_code == 422
    # VIP and deleting need contacts_manage (a supervisor's; issue #16, tests/api/test_visibility_paths.py)
    sup = await hub.client("supervisor")
    upd = await sup.ok("PATCH", f"/api/contacts/{created['id']}", {"vip": True, "tags": ["new", "vip"]})
    assert upd["vip"] is True and upd["custom"]["account_no"] == "GC-9"
    r = await sup.delete(f"/api/contacts/{created['id']}")
    assert r.status_code == 204
    assert (await agent.get(f"/api/contacts/{created['id']}")).status_code == 404
    # only admins define fields
    r = await agent.post("/api/custom-fields", {"key": "x", "label": "X", "type": "text"})
    assert r.status_code == 403


async def test_csv_import_keeps_good_rows_reports_bad_rows_and_export_round_trips(hub):
    sup = await hub.client("supervisor")
    text = ("name,email,phone,tags,vip,custom.account_no\n"
            "Ann Lee,ann@example.com,+86 111,a;b,yes,GC-1\n"
            ",nobody@example.com,,,,\n"
            "Bad Mail,not-an-email,,,,\n"
            "Zhang Wei,zhang.wei@example.com,,,,GC-100231-NEW\n")
    r = await sup.http.post("/api/contacts/import", files={"file": ("c.csv", text.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["created"] == 1 and result["updated"] == 1
    assert [e["row"] for e in result["errors"]] == [3, 4]
    ann = (await sup.ok("GET", "/api/contacts?q=ann lee"))["items"][0]
    assert ann["tags"] == ["a", "b"] and ann["vip"] is True and ann["custom"]["account_no"] == "GC-1"
    zw = (await sup.ok("GET", "/api/contacts?q=zhang.wei"))["items"][0]
    assert zw["custom"]["account_no"] == "GC-100231-NEW"
    export = await sup.get("/api/contacts/export")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {"Ann Lee", "Zhang Wei", "Li Na"} <= {r["name"] for r in rows}
    assert next(r for r in rows if r["name"] == "Ann Lee")["custom.account_no"] == "GC-1"
    agent = await hub.client("agent1")
    assert (await agent.get("/api/contacts/export")).status_code == 403
    bad = await sup.http.post("/api/contacts/import", files={"file": ("c.csv", b"foo,bar\n1,2\n", "text/csv")})
    assert bad.status_code == 422


async def test_merge_moves_conversations_and_fills_gaps(hub):
    agent = await hub.client("agent1")
    a = await agent.ok("POST", "/api/contacts", {"name": "Sam", "email": "sam@example.com"}, status=201)
    b = await agent.ok("POST", "/api/contacts", {"name": "Samuel", "phone": "+44 7000", "tags": ["x"]},
                       status=201)
    sup = await hub.client("supervisor")  # merging needs contacts_manage (issue #16)
    merged = await sup.ok("POST", "/api/contacts/merge", {"primary_id": a["id"], "duplicate_ids": [b["id"]]})
    assert merged["phone"] == "+447000" and merged["tags"] == ["x"] and merged["name"] == "Sam"
    assert (await agent.get(f"/api/contacts/{b['id']}")).status_code == 404


async def test_admin_configures_users_queues_skills_calendars_and_acd_uses_them(hub):
    admin = await hub.client("admin")
    skill = await admin.ok("POST", "/api/skills", {"name": "korean", "label": "Korean"}, status=201)
    assert (await admin.post("/api/skills", {"name": "korean"})).status_code == 409
    cal = await admin.ok("POST", "/api/calendars", {"name": "Always", "tz": "UTC", "weekly": {
        str(d): [["00:00", "24:00"]] for d in range(7)}, "holidays": []}, status=201)
    bad = await admin.post("/api/calendars", {"name": "Bad", "tz": "Mars/Olympus"})
    assert bad.status_code == 422
    user = await admin.ok("POST", "/api/users", {"username": "kim", "password": "kim-secret-1",
                                                 "display_name": "Kim", "roles": ["agent"],
                                                 "skills": {"korean": 90}, "capacity": {"chat": 2}},
                          status=201)
    q = await admin.ok("POST", "/api/queues", {"name": "Korean", "strategy": "skills_best_match",
                                               "required_skills": {"korean": 50},
                                               "members": [user["id"]], "calendar_id": cal["id"]},
                       status=201)
    r = await admin.post("/api/queues", {"name": "X", "strategy": "telepathy"})
    assert r.status_code == 422
    r = await admin.post("/api/queues", {"name": "Y", "members": ["nobody"]})
    assert r.status_code == 422
    kim = await hub.client()
    await kim.login("kim", "kim-secret-1")
    assert (await kim.ok("POST", "/api/agent/state", {"state": "ready"}))["state"] == "ready"
    customer = await hub.client()
    s = await customer.ok("POST", "/api/widget/sessions", {"name": "Min", "queue_id": q["id"],
                                                            "message": "annyeong"}, status=201)
    offered = await kim.ok("GET", "/api/conversations?view=offered")
    assert [c["id"] for c in offered["items"]] == [s["conversation_id"]]
    await admin.ok("PATCH", f"/api/users/{user['id']}", {"active": False})
    assert (await kim.get("/api/me")).status_code == 401
    updated = await admin.ok("PATCH", f"/api/queues/{q['id']}", {"offer_timeout_s": 5})
    assert updated["offer_timeout_s"] == 5 and updated["strategy"] == "skills_best_match"
    assert skill["name"] == "korean"
