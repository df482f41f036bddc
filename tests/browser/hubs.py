"""Hub processes for the browser tests: started per test, stopped after it, with the end of the
hub's log printed when the test failed (``rep_call`` is set by the hook in conftest.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hub import ThreadedHub


def failed(request: pytest.FixtureRequest) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@contextlib.contextmanager
def running(h: ThreadedHub, request: pytest.FixtureRequest, timeout: float = 60) -> Iterator[ThreadedHub]:
    """Start ``h``; stop it after the test and print the end of its log when the test failed."""
    h.start(timeout=timeout)
    try:
        yield h
    finally:
        h.stop()
        if failed(request) and h.log.exists():
            print(f"--- hub log ({h.log}) ---\n{h.log.read_text(errors='replace')[-4000:]}")


@contextlib.contextmanager
def voice_hub(tmp_path: Path, request: pytest.FixtureRequest, *, speech: bool = False,
              **env: str) -> Iterator[ThreadedHub]:
    """A hub with voice on: SIP on a free UDP port (``h.sip_port``), RTP on ephemeral ports,
    loopback as the trunk, plus ``env`` (``HUB_*`` settings). ``speech``: the test makes speech
    with espeak-ng and sox (missing ones fail in CI, else skip)."""
    if speech:
        from tests.voice.calls.speech import need_tools

        try:
            need_tools()
        except RuntimeError as err:
            if os.environ.get("CI"):
                pytest.fail(str(err))
            pytest.skip(str(err))
    from tests.voice.calls.support import free_udp_port

    port = free_udp_port()
    h = ThreadedHub(tmp_path / "data", env={
        "HUB_VOICE_ENABLED": "1", "HUB_VOICE_SIP_UDP_PORT": str(port), "HUB_VOICE_SIP_TCP_PORT": "-1",
        "HUB_VOICE_RTP_PORT_MIN": "0", "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
        **env})
    h.sip_port = port  # type: ignore[attr-defined]
    with running(h, request, timeout=90) as started:
        yield started
