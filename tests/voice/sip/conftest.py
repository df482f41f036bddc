"""Fixtures for the SIP tests: captured messages live in ``fixtures/`` (CRLF, byte-exact)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def invite_bytes() -> bytes:
    return fixture_bytes("invite_sipp_uac.sip")
