"""The ``hub`` fixture for email tests: the real hub (SQLite or PostgreSQL) with its SMTP listener
on a free loopback port, replying through a test relay (``relay`` fixture) on another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.channels.email.support import HUB_ADDRESS, Relay, have_swaks
from tests.support.hub import InProcessHub, running_hub
from tests.support.postgres import free_port

MAX_MESSAGE_BYTES = 512 * 1024


@pytest.fixture
def relay_port() -> int:
    return free_port()


@pytest.fixture
async def relay(relay_port: int) -> AsyncIterator[Relay]:
    r = Relay(relay_port).start()
    yield r
    r.stop()


@pytest.fixture
async def hub(tmp_path, database_url: str, relay_port: int) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    if not have_swaks():
        pytest.skip("swaks is not installed (apt-get install swaks)")
    async with running_hub(
            tmp_path / "data", database_url, email_port=free_port(), email_address=HUB_ADDRESS,
            email_accept_recipients="@hub.example.com,sales@other.example.org",
            email_max_message_bytes=MAX_MESSAGE_BYTES, email_smtp_port=relay_port,
            email_smtp_timeout_s=5, email_send_attempts=3, email_retry_base_s=0.05) as h:
        yield h
