"""Fixtures for the SMS tests: the real hub with a real Kannel (bearerbox + smsbox + fakesmsc)
on free loopback ports; everything is stopped in teardown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub import InProcessHub
from tests.support.kannel import Kannel, have_kannel
from tests.support.wait import eventually

TOKEN = "kannel-test-token"
OUR_NUMBER = "95007"


def sms_settings(kannel: Kannel, **extra: Any) -> dict[str, Any]:
    return {"sms_kannel_sendsms_url": kannel.sendsms_url, "sms_kannel_username": kannel.username,
            "sms_kannel_password": kannel.password, "sms_inbound_token": TOKEN,
            "sms_number": OUR_NUMBER, "sms_default_country": "CN", "sms_retry_base_s": 0.2,
            "sms_rate_per_s": 500, **extra}


@dataclass
class SmsRig:
    hub: InProcessHub
    kannel: Kannel

    @property
    def channel(self) -> Any:
        return self.hub.services.ports.sms

    async def phone_sends(self, sender: str, text: str, coding: str = "text") -> None:
        await asyncio.to_thread(self.kannel.inject, sender, OUR_NUMBER, text, coding=coding)

    async def phone_gets(self, count: int = 1, within_s: float = 30, predicate: Any = None) -> list[Any]:
        return await asyncio.to_thread(self.kannel.wait_received, count, within_s, predicate)


async def poll(fetch: Any, done: Any, within_s: float = 20, every: float = 0.1) -> Any:
    """Call ``fetch`` until ``done(value)``; every wait is bounded."""
    return await eventually(fetch, within_s, until=done, every=every)


async def start_rig(tmp_path: Path, database_url: str, **extra: Any) -> SmsRig:
    if not have_kannel():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    kannel = Kannel(tmp_path / "kannel", 0, TOKEN, mo_method=extra.pop("_mo_method", "get"))
    hub = InProcessHub(tmp_path / "data", database_url, **sms_settings(kannel, **extra))
    kannel.hub_port = hub.port
    await asyncio.to_thread(kannel.start)
    try:
        await hub.start()
    except BaseException:
        kannel.stop()
        raise
    return SmsRig(hub, kannel)


@pytest.fixture
async def rig(tmp_path, database_url: str) -> AsyncIterator[SmsRig]:  # type: ignore[no-untyped-def]
    r = await start_rig(tmp_path, database_url)
    try:
        yield r
    finally:
        await r.hub.stop()
        await asyncio.to_thread(r.kannel.stop)
