"""The ``hub`` fixture for fax tests: the real hub (SQLite or PostgreSQL) with the fax webhook
secret, its SMTP listener (fax-to-email), and a HylaFAX protocol server as the outbound gateway."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from tests.channels.fax.support import GATEWAY_SENDER, SECRET, HylafaxServer, have_tools
from tests.support.hub import InProcessHub, running_hub
from tests.support.postgres import free_port


@pytest.fixture
async def hylafax() -> AsyncIterator[HylafaxServer]:
    server = await HylafaxServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def hub(tmp_path, database_url: str, hylafax: HylafaxServer) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    if not have_tools():
        msg = "ghostscript, libtiff-tools and tesseract-ocr are needed (apt-get install …)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    async with running_hub(
            tmp_path / "data", database_url, email_port=free_port(),
            email_address="support@hub.example.com", fax_inbound_secret=SECRET,
            fax_email_senders=GATEWAY_SENDER, fax_gateway="hylafax", fax_hylafax_port=hylafax.port,
            fax_hylafax_password="pw", fax_poll_s=0.2, fax_retry_base_s=0.1,
            fax_max_page_pixels=20_000_000, fax_max_pages=20) as h:
        yield h
