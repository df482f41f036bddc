"""Rate limits (issue #16, item 6): per client address for logins, new chats and offline messages,
per chat for the customer's messages, answered with 429 and Retry-After and changing nothing;
failed logins are counted per address and username, so an attacker elsewhere cannot lock a real
user out; an unknown username costs the same password hash as a known one.

Client addresses are told apart by X-Forwarded-For, which uvicorn takes from 127.0.0.1 (its
default ``forwarded_allow_ips``), as from a reverse proxy in front of the hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import security
from hub.config import Settings
from hub.services import auth as auth_module
from tests.support.hub import InProcessHub, running_hub
from tests.support.sockets import Recorder

LOW = {"rate_login_per_min": 4, "rate_widget_sessions_per_min": 4, "rate_widget_offline_per_min": 4,
       "rate_widget_messages_per_min": 4}  # bursts of 2


def from_address(hub: InProcessHub, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=hub.base_url, timeout=10, headers={"X-Forwarded-For": ip})


def test_the_defaults_are_on() -> None:
    s = Settings()
    assert s.rate_login_per_min > 0 and s.rate_widget_sessions_per_min > 0
    assert s.rate_widget_offline_per_min > 0 and s.rate_widget_messages_per_min > 0


async def test_logins_new_chats_and_offline_messages_are_limited_per_address(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", **LOW) as hub:
        async with from_address(hub, "10.0.0.1") as a, from_address(hub, "10.0.0.2") as b:
            login = {"username": "agent1", "password": "demo"}
            assert [(await a.post("/api/auth/login", json=login)).status_code for _ in range(2)] == [200, 200]
            r = await a.post("/api/auth/login", json=login)
            assert r.status_code == 429 and r.json()["code"] == "rate_limited"
            assert 1 <= int(r.headers["Retry-After"]) <= 15
            assert (await b.post("/api/auth/login", json=login)).status_code == 200  # another address

            chat = {"name": "Zhang Wei", "email": "zhang.wei@example.com", "message": "hello"}
            opened = [(await a.post("/api/widget/sessions", json=chat)).status_code for _ in range(3)]
            assert opened == [201, 201, 429]
            assert (await b.post("/api/widget/sessions", json=chat)).status_code == 201
            offline = {"name": "Li Na", "email": "li.na@example.com", "message": "call me back"}
            left = [(await a.post("/api/widget/offline", json=offline)).status_code for _ in range(3)]
            assert left == [201, 201, 429]
        sup = await hub.client("supervisor")
        convs = await sup.ok("GET", "/api/conversations?view=all")
        items: list[dict[str, Any]] = convs["items"] if isinstance(convs, dict) else convs
        assert len(items) == 3 + 2  # what was refused was not stored


async def test_a_chat_that_sends_too_fast_is_told_to_wait_and_nothing_is_lost(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", **LOW) as hub:
        customer = await hub.client()
        session = await customer.ok("POST", "/api/widget/sessions",
                                    {"name": "Zhang Wei", "email": "zhang.wei@example.com"}, status=201)
        widget = await Recorder("/widget").connect(hub.base_url, auth={"token": session["token"]})
        acks = [await widget.call("message", {"body": f"m{i}", "client_id": f"c{i}"}) for i in range(3)]
        assert [a["ok"] for a in acks] == [True, True, False]
        assert acks[2]["code"] == "rate_limited" and acks[2]["retry_after"] >= 1
        customer.http.headers["Authorization"] = f"Bearer {session['token']}"
        conv = await customer.ok("GET", "/api/widget/conversation")
        assert [m["body"] for m in conv["messages"] if m["sender"] == "customer"] == ["m0", "m1"]
        await widget.close()


async def test_failed_logins_lock_the_address_and_user_pair_not_the_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_hub(tmp_path / "data", login_max_failures=3) as hub:
        async with from_address(hub, "10.0.0.66") as attacker, from_address(hub, "10.0.0.7") as agent:
            wrong = {"username": "agent1", "password": "guess"}
            assert [(await attacker.post("/api/auth/login", json=wrong)).status_code
                    for _ in range(3)] == [401, 401, 401]
            r = await attacker.post("/api/auth/login", json={"username": "agent1", "password": "demo"})
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # even the right one
            # the real agent, from their own address, is not locked out
            assert (await agent.post("/api/auth/login", json={"username": "agent1",
                                                               "password": "demo"})).status_code == 200
            # and the attacker may still try other names (each pair has its own count)
            assert (await attacker.post("/api/auth/login", json={"username": "agent2",
                                                                  "password": "demo"})).status_code == 200

            # an unknown user costs one password hash, like a known one
            checked: list[str] = []
            real_verify = security.verify_password

            def counting(password: str, stored: str) -> bool:
                checked.append(stored)
                return real_verify(password, stored)

            monkeypatch.setattr(auth_module, "verify_password", counting)
            r = await agent.post("/api/auth/login", json={"username": "nobody-here", "password": "x"})
            assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
            r = await agent.post("/api/auth/login", json={"username": "agent2", "password": "x"})
            assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
            assert len(checked) == 2 and all(h.startswith(checked[1].split("$", 1)[0]) for h in checked)
