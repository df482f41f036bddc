"""Email durability (issue 6, acceptance 2): the hub is SIGKILLed while swaks sends a batch of
200 mails; every mail that got ``250`` is in the inbox after a restart."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.channels.email.support import have_swaks, swaks
from tests.support.hub import HubProcess
from tests.support.postgres import free_port

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)

BATCH = 200


@pytest.mark.slow
async def test_every_mail_answered_250_survives_a_sigkill(tmp_path, database_url, monkeypatch):
    if not have_swaks():
        pytest.skip("swaks is not installed (apt-get install swaks)")
    smtp_port = free_port()
    monkeypatch.setenv("HUB_EMAIL_PORT", str(smtp_port))
    monkeypatch.setenv("HUB_EMAIL_ADDRESS", "support@hub.example.com")
    data = tmp_path / "data"
    server = await asyncio.to_thread(HubProcess(data, database_url).start)
    accepted: list[int] = []
    todo: asyncio.Queue[int] = asyncio.Queue()
    for i in range(BATCH):
        todo.put_nowait(i)
    killed = asyncio.Event()

    async def worker() -> None:
        while not todo.empty() and not killed.is_set():  # after the kill every send would fail
            i = todo.get_nowait()
            r = await swaks(smtp_port, "--header", f"Subject: batch {i}",
                            "--header", f"Message-Id: <batch-{i}@kill.example.com>",
                            "--body", f"mail number {i}", within_s=30)
            if r.accepted:
                accepted.append(i)
            if len(accepted) >= 40 and not killed.is_set():
                killed.set()

    async def killer() -> None:
        async with asyncio.timeout(120):
            await killed.wait()
        await asyncio.to_thread(server.kill)

    async with asyncio.timeout(240):
        await asyncio.gather(killer(), *(worker() for _ in range(4)))
    assert 40 <= len(accepted) < BATCH, "the kill should land in the middle of the batch"

    again = await asyncio.to_thread(HubProcess(data, database_url).start)
    try:
        async with httpx.AsyncClient(base_url=again.base_url, timeout=10) as client:
            r = await client.post("/api/auth/login", json={"username": "supervisor", "password": "demo"})
            assert r.status_code == 200, r.text
            r = await client.get("/api/conversations",
                                 params={"view": "all", "channel": "email", "limit": 200})
            subjects = {c["subject"] for c in r.json()["items"]}
        missing = [i for i in accepted if f"batch {i}" not in subjects]
        assert not missing, f"mails answered 250 but lost after SIGKILL: {missing}"
    finally:
        await asyncio.to_thread(again.stop)
