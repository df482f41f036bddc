"""The SMS API's checks and admin parts on the real hub (no gateway needed): who may do what,
keyword rules, the Kannel endpoints' authentication, cancelling a scheduled job."""

from __future__ import annotations

import time

import pytest

from channels.sms.phone import InvalidPhoneNumber
from tests.support.hub import running_hub


async def test_permissions_tokens_and_validation(tmp_path, database_url):
    async with running_hub(tmp_path / "data", database_url) as hub:
        anon = (await hub.client()).http
        # inbound is off until a token is configured
        r = await anon.get("/api/sms/kannel/inbound", params={"from": "+8613900139000", "text": "x"})
        assert r.status_code == 503 and r.json()["code"] == "sms_inbound_disabled"
        agent = await hub.client("agent1")
        r = await agent.post("/api/sms/bulk", {"name": "x", "template": "y", "numbers": ["13800138000"]})
        assert r.status_code == 403
        assert (await agent.get("/api/sms/keywords")).status_code == 403
        assert (await anon.get("/api/sms/bulk")).status_code == 401
        seg = await agent.ok("POST", "/api/sms/segments", {"text": "中" * 71})
        assert (seg["encoding"], seg["segments"], seg["remaining"]) == ("ucs2", 2, 63)

        supervisor = await hub.client("supervisor")
        r = await supervisor.post("/api/sms/bulk", {"name": "Long", "template": "x" * 2000,
                                                    "numbers": ["13800138000"]})
        assert r.status_code == 422 and "parts" in r.json()["detail"]
        r = await supervisor.post("/api/sms/bulk", {"name": "Broken", "template": "Hi {name",
                                                    "numbers": ["13800138000"]})
        assert r.status_code == 422
        r = await supervisor.http.post("/api/sms/bulk/csv", content=b"phone\n1", headers={
            "content-type": "text/csv"})
        assert r.status_code == 415
        assert (await supervisor.ok("GET", "/api/sms/bulk"))["items"] == []

        # the service other components use (voicemail alerts, notifications)
        sms = hub.services.ports.sms
        with pytest.raises(InvalidPhoneNumber):
            await sms.send_text("12345", "hello")
        first = await sms.send_text("138 0013 8000", "Your callback is at 15:00.", dedupe_key="cb-1")
        again = await sms.send_text("13800138000", "Your callback is at 15:00.", dedupe_key="cb-1")
        assert first["id"] == again["id"] and first["phone"] == "+8613800138000"
        assert first["status"] == "queued" and first["kind"] == "notification"


async def test_keyword_rules_are_admin_configurable(tmp_path, database_url):
    async with running_hub(tmp_path / "data", database_url) as hub:
        admin = await hub.client("admin")
        words = {k["keyword"] for k in (await admin.ok("GET", "/api/sms/keywords"))["items"]}
        assert {"BAL", "余额", "STOP", "退订", "START", "HELP"} <= words
        rule = await admin.ok("PUT", "/api/sms/keywords/hours", {
            "action": "reply", "reply": "We are open 8:00-20:00."})
        assert rule["keyword"] == "HOURS"
        r = await admin.http.put("/api/sms/keywords/two words", json={"action": "reply", "reply": "x"})
        assert r.status_code == 422
        # the errors name the field at fault (the keywords page shows them next to it)
        assert [e["loc"] for e in r.json()["errors"]] == [["path", "keyword"]]
        r = await admin.http.put("/api/sms/keywords/X", json={"action": "launch", "reply": "x"})
        assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["body", "action"]]
        r = await admin.http.put("/api/sms/keywords/X", json={"action": "reply", "reply": "  "})
        assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["body", "reply"]]
        assert "X" not in {k["keyword"] for k in (await admin.ok("GET", "/api/sms/keywords"))["items"]}
        supervisor = await hub.client("supervisor")
        r = await supervisor.http.put("/api/sms/keywords/Y", json={"action": "reply", "reply": "x"})
        assert r.status_code == 403
        await admin.ok("DELETE", "/api/sms/keywords/HOURS")
        assert (await admin.http.delete("/api/sms/keywords/HOURS")).status_code == 404


async def test_scheduled_job_can_be_cancelled_and_dlr_needs_the_token(tmp_path, database_url):
    async with running_hub(tmp_path / "data", database_url, sms_inbound_token="t0k") as hub:
        supervisor = await hub.client("supervisor")
        job = await supervisor.ok("POST", "/api/sms/bulk", {
            "name": "Later", "template": "Hello", "numbers": ["13800138000", "13800138001"],
            "scheduled_at": time.time() + 3600}, status=201)
        assert hub.services.scheduler is not None
        assert await hub.services.scheduler.find(f"sms-bulk:{job['id']}") is not None
        done = await supervisor.ok("POST", f"/api/sms/bulk/{job['id']}/cancel")
        assert done["status"] == "cancelled" and done["counts"]["cancelled"] == 2
        assert await hub.services.scheduler.find(f"sms-bulk:{job['id']}") is None
        r = await supervisor.http.post(f"/api/sms/bulk/{job['id']}/cancel")
        assert r.status_code == 409

        anon = (await hub.client()).http
        assert (await anon.get("/api/sms/kannel/dlr", params={"token": "bad", "id": "x", "type": "1"})
                ).status_code == 403
        assert (await anon.get("/api/sms/kannel/dlr", params={"token": "t0k", "id": "x", "type": "%d"})
                ).status_code == 422
        assert (await anon.get("/api/sms/kannel/dlr", params={"token": "t0k", "id": "nope", "type": "1"})
                ).status_code == 404
