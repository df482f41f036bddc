"""A hub with voice on (ephemeral SIP and RTP ports, loopback as the trunk) and helpers to put an
agent's desk phone (a real baresip) online."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.voice.calls.support import Baresip

PHONE_PASSWORD = "desk-phone-secret-1"


VOICE_SETTINGS: dict[str, Any] = {
    "voice_enabled": True, "voice_sip_udp_port": 0, "voice_sip_tcp_port": 0, "voice_rtp_port_min": 0,
    "voice_rtp_port_max": 0, "voice_trunk_ips": "127.0.0.1", "voice_routes": "5000=general",
}


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    """Override in a test module to change the hub's voice settings."""
    return {}


@pytest.fixture
async def voice_hub(tmp_path: Path, voice_settings: dict[str, Any]) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", **{**VOICE_SETTINGS, **voice_settings}) as h:
        yield h


async def registered(hub: InProcessHub, username: str, within: float = 10) -> None:
    voice = hub.services.ports.voice
    async with asyncio.timeout(within):
        while not any(b.username == username  # noqa: ASYNC110 - polls the registrar
                      for b in voice.registrar.active_bindings(voice.engine.now())):
            await asyncio.sleep(0.05)


def sip_port(hub: InProcessHub, transport: str = "UDP") -> int:
    return int(hub.services.ports.voice.sip_port(transport))


async def agent_phone(hub: InProcessHub, workdir: Path, agent: str = "agent1", *,
                      username: str | None = None, password: str = PHONE_PASSWORD,
                      answermode: str = "auto", source_wav: Path | None = None,
                      ready: bool = True) -> tuple[Baresip, Any]:
    """Give ``agent`` a desk phone account, start baresip registered with it, set the agent ready."""
    admin = await hub.client("admin")
    agent_client = await hub.client(agent)
    assert agent_client.user is not None
    username = username or agent  # replaces the demo account of the same name
    await admin.ok("PUT", f"/api/voice/sip-accounts/{username}",
                   {"password": PHONE_PASSWORD, "user_id": agent_client.user["id"]})
    port = sip_port(hub)
    phone = Baresip(workdir, answermode=answermode, source_wav=source_wav,
                    account=f"<sip:{username}@127.0.0.1:{port}>;auth_pass={password};regint=600")
    await phone.start()
    await registered(hub, username)
    if ready:
        await agent_client.ok("POST", "/api/agent/state", {"state": "ready"})
    return phone, agent_client
