"""A hub with voice on (as in tests/voice/calls) for the browser softphone tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.voice.calls.conftest import VOICE_SETTINGS


@pytest.fixture
async def voice_hub(tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", **VOICE_SETTINGS) as h:
        yield h
