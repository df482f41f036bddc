"""Issue #16, item 10: bad input never answers 500. Schemathesis generates requests from
``/api/openapi.json`` — valid ones and ones that break the schema — for every operation of a hub
with every component on, as an administrator and as an agent, and checks that no answer is a 5xx
and every answer fits its documented schema (a success its response model, anything else the
problem document).

The number of generated requests per operation is bounded (``HUB_SCHEMATHESIS_EXAMPLES``, default
2) and the seed fixed (``HUB_SCHEMATHESIS_SEED``) so that ``make test`` stays short and
reproducible; raise the first and vary the second for a deeper run (docs/SECURITY.md)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.hub import InProcessHub, running_hub
from tests.voice.calls.conftest import VOICE_SETTINGS

EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES") or 2)
SEED = int(os.environ.get("HUB_SCHEMATHESIS_SEED") or 16)

#: operations not run: they end the session the run uses
SKIPPED = ("/api/auth/logout",)


@pytest.fixture
async def full_hub(tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", **VOICE_SETTINGS, sms_inbound_token="kannel-secret-0123",
                           fax_inbound_secret="fax-provider-secret-0123") as h:
        yield h


async def schemathesis(hub: InProcessHub, username: str, workdir: Path) -> tuple[int, str]:
    """Run the schemathesis CLI against the hub with ``username``'s session; its exit code and
    output."""
    client = await hub.client(username)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    args = [sys.executable, "-m", "schemathesis.cli", "run", f"{hub.base_url}/api/openapi.json",
            "--header", f"Cookie: {client.cookie_header}", "--header", f"Origin: {hub.base_url}",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--phases", "examples,fuzzing", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
            "--no-shrink", "--workers", "1", "--generation-database", "none", "--request-timeout", "30",
            "--warnings", "off", "--no-color", *(a for p in SKIPPED for a in ("--exclude-path", p))]
    proc = await asyncio.create_subprocess_exec(*args, cwd=workdir, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(240):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode("utf-8", "replace")


@pytest.mark.timeout(300)
async def test_generated_requests_get_no_5xx_and_answers_fit_the_document(full_hub: InProcessHub,
                                                                           tmp_path: Path) -> None:
    runs = await asyncio.gather(*(schemathesis(full_hub, user, tmp_path / user) for user in ("admin", "agent1")))
    for (code, out), user in zip(runs, ("admin", "agent1"), strict=True):
        assert "Tested: " in out, out[-3000:]
        tested = int(out.split("Tested: ", 1)[1].split()[0])
        assert tested >= 200, f"as {user}: only {tested} operations tested\n{out[-3000:]}"
        assert code == 0, f"schemathesis as {user} found problems (exit {code}):\n{out[-12000:]}"
