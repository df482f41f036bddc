"""Stopping the hub (SIGTERM) with live recorded calls whose far end is gone (sipp killed, no BYE
will ever be answered): the calls end at once, not one after another at 5 s each, the process
exits within ``voice_shutdown_wait_s`` plus the time to store what the calls left, and every
recording is complete (a readable WAV as long as the call was answered) and listed."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub import HubProcess
from tests.support.wait import eventually
from tests.voice.calls.support import Sipp, free_udp_port

pytestmark = pytest.mark.slow

CALLS = 12
WAIT_S = 1.0  # voice_shutdown_wait_s
# The far ends' answers are awaited WAIT_S; ending the calls and storing their recordings and
# CDRs took 0.7 s more here, the hub's whole stop 5-10 s at load 19. Before: the calls ended one
# after another, 5 s each (60 s).
EXIT_WITHIN_S = WAIT_S + 20


def query(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql).fetchall()]


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


async def test_sigterm_ends_live_calls_at_once_and_stores_every_recording(tmp_path: Path):
    sip = free_udp_port()
    hub = HubProcess(tmp_path / "data", env={
        "HUB_VOICE_ENABLED": "1", "HUB_VOICE_SIP_UDP_PORT": str(sip), "HUB_VOICE_SIP_TCP_PORT": "-1",
        "HUB_VOICE_RTP_PORT_MIN": "0", "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
        "HUB_VOICE_ROUTES": "5000=general", "HUB_VOICE_SHUTDOWN_WAIT_S": str(WAIT_S),
        "HUB_VOICE_MAX_SETUPS": "0",  # all 12 calls at once: admission control is not tested here
        "HUB_KB_ENABLED": "0", "HUB_SMS_ENABLED": "0", "HUB_EMAIL_ENABLED": "0"})  # a quicker start
    db = hub.data_dir / "hub.db"
    await asyncio.to_thread(hub.start)
    try:
        callers = Sipp(tmp_path / "sipp", "bench_caller.xml", f"127.0.0.1:{sip}", calls=CALLS, rate=CALLS,
                       limit=CALLS, extra=["-s", "5000"])
        await callers.start()
        try:
            await eventually(lambda: len(query(db, "SELECT id FROM voice_calls WHERE answered_at IS NOT NULL"))
                             == CALLS, 30, every=0.2, what=f"{CALLS} answered calls")
        finally:
            await callers.stop()  # SIGKILL: the callers vanish, their BYEs will never be answered
        assert hub.proc is not None
        started = time.monotonic()
        hub.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(hub.proc.wait, EXIT_WITHIN_S + 5)
        finally:
            took = time.monotonic() - started
    finally:
        hub.stop()  # kills it if it is still running
    # uvicorn re-raises the SIGTERM it caught once it has shut down: -15 is its clean exit
    assert hub.proc.returncode in (0, -signal.SIGTERM) and took < EXIT_WITHIN_S, (took, hub.log.read_text()[-3000:])
    # what GET /api/voice/recordings lists: the recordings joined with their call records
    calls = query(db, "SELECT c.id, c.answered_at, c.ended_at, c.end_reason, r.duration_s, r.attachment_id "
                      "FROM voice_calls c LEFT JOIN voice_recordings r ON r.call_id = c.id")
    assert len(calls) == CALLS and {c["end_reason"] for c in calls} == {"shutdown"}
    for call in calls:
        answered = call["ended_at"] - call["answered_at"]
        assert call["duration_s"] is not None and abs(call["duration_s"] - answered) < 0.05, call
        path = hub.data_dir / "attachments" / call["attachment_id"][:2] / call["attachment_id"]
        assert abs(wav_seconds(path) - call["duration_s"]) < 0.05, (call, wav_seconds(path))
