"""The voice REST endpoints: who may manage SIP accounts and see calls, validation of accounts,
and that a password never comes back."""

from __future__ import annotations

from pathlib import Path

from tests.support.hub import running_hub


async def test_sip_accounts_are_admin_only_validated_and_never_return_credentials(voice_hub):
    admin = await voice_hub.client("admin")
    agent = await voice_hub.client("supervisor")  # a desk-phone owner without a demo account
    assert agent.user is not None
    r = await admin.http.put("/api/voice/sip-accounts/desk1", json={"password": "short", "user_id": agent.user["id"]})
    assert r.status_code == 422
    r = await admin.http.put("/api/voice/sip-accounts/bad%20name", json={"password": "long-enough-1",
                                                                        "user_id": agent.user["id"]})
    assert r.status_code == 422 and "username" in r.text
    r = await admin.http.put("/api/voice/sip-accounts/desk1", json={"password": "long-enough-1", "user_id": "nobody"})
    assert r.status_code == 404
    r = await admin.http.put("/api/voice/sip-accounts/desk1", json={"password": "long-enough-1"})
    assert r.status_code == 422 and "user_id" in r.text
    acc = await admin.ok("PUT", "/api/voice/sip-accounts/desk1", {"password": "long-enough-1",
                                                                  "user_id": agent.user["id"]})
    assert acc["username"] == "desk1" and "password" not in acc and "ha1_md5" not in acc
    r = await admin.http.put("/api/voice/sip-accounts/desk2", json={"password": "long-enough-1",
                                                                   "user_id": agent.user["id"]})
    assert r.status_code == 409  # one desk phone per agent
    listed = await admin.ok("GET", "/api/voice/sip-accounts")
    names = [a["username"] for a in listed["accounts"]]
    assert names == ["agent1", "agent2", "agent3", "agent4", "agent5", "desk1"]  # demo accounts + ours
    assert "long-enough-1" not in str(listed)
    agent1 = await voice_hub.client("agent1")
    assert (await agent1.http.get("/api/voice/calls")).status_code == 403
    assert (await agent1.http.put("/api/voice/sip-accounts/x1", json={"password": "long-enough-1"})).status_code == 403
    supervisor = await voice_hub.client("supervisor")
    calls = await supervisor.ok("GET", "/api/voice/calls")
    assert calls["active"] == [] and calls["records"] == []
    assert (await supervisor.ok("GET", "/api/voice/registrations"))["registrations"] == []
    await admin.ok("DELETE", "/api/voice/sip-accounts/desk1", status=204)
    assert (await admin.http.delete("/api/voice/sip-accounts/desk1")).status_code == 404


async def test_voice_endpoints_say_when_voice_is_off(tmp_path: Path):
    async with running_hub(tmp_path / "data") as hub:
        admin = await hub.client("admin")
        r = await admin.http.get("/api/voice/calls")
        assert r.status_code == 503 and r.json()["code"] == "voice_disabled"
