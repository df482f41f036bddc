"""The user's web UI language is a profile setting (issue #17): unset until chosen (the UI then
follows the browser), set by the user for themselves with PATCH /api/me, kept across logins, reset
with null; anything but zh-CN or en is refused with a problem and changes nothing. Administrators
may set it when they create or edit a user."""

from __future__ import annotations

from tests.support.hub import InProcessHub


async def test_a_user_chooses_the_language_and_it_stays_in_the_profile(hub: InProcessHub) -> None:
    agent = await hub.client("agent1")
    assert (await agent.ok("GET", "/api/me"))["language"] is None  # the browser's until chosen
    me = await agent.ok("PATCH", "/api/me", {"language": "zh-CN"})
    assert me["language"] == "zh-CN" and me["username"] == "agent1" and me["agent"] is not None
    again = await hub.client("agent1")  # a new login reads the profile
    assert (await again.ok("GET", "/api/me"))["language"] == "zh-CN"
    # a body without the field changes nothing; null goes back to the browser's language
    assert (await agent.ok("PATCH", "/api/me", {}))["language"] == "zh-CN"
    assert (await agent.ok("PATCH", "/api/me", {"language": None}))["language"] is None


async def test_an_unsupported_language_is_refused_and_nothing_changes(hub: InProcessHub) -> None:
    sup = await hub.client("supervisor")
    await sup.ok("PATCH", "/api/me", {"language": "en"})
    for bad in ("fr", "zh", "", 5):
        r = await sup.patch("/api/me", {"language": bad})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "validation_error"
        assert any(e["loc"][-1] == "language" for e in r.json()["errors"])
    r = await sup.patch("/api/me", {"display_name": "Boss"})  # not a profile field here
    assert r.status_code == 422
    assert (await sup.ok("GET", "/api/me"))["language"] == "en"


async def test_the_profile_is_only_ones_own_and_needs_a_login(hub: InProcessHub) -> None:
    anonymous = await hub.client()
    assert (await anonymous.patch("/api/me", {"language": "en"})).status_code == 401
    admin = await hub.client("admin")
    await admin.ok("PATCH", "/api/me", {"language": "en"})
    other = await hub.client("agent2")
    assert (await other.ok("GET", "/api/me"))["language"] is None


async def test_an_administrator_sets_a_users_language(hub: InProcessHub) -> None:
    admin = await hub.client("admin")
    users = await admin.ok("GET", "/api/users")
    agent2 = next(u for u in users if u["username"] == "agent2")
    changed = await admin.ok("PATCH", f"/api/users/{agent2['id']}", {"language": "zh-CN"})
    assert changed["language"] == "zh-CN"
    created = await admin.ok("POST", "/api/users", {"username": "li.na", "password": "a-long-password-1",
                                                     "language": "en"}, status=201)
    assert created["language"] == "en"
