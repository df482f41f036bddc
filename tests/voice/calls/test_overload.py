"""Overload push-back (#18 item 4): past ``voice_max_setup_rate`` or ``voice_max_setups`` a new
call gets ``503 Service Unavailable`` with ``Retry-After`` instead of queueing up its set-up
(INVITE→200 rose to 11–13 s before). The pure admission decisions on a given clock, then sipp
against a hub: below the limit no call is refused; a flood above it has calls refused with
Retry-After and the calls taken are answered within a second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.hub import InProcessHub
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp
from voice.calls.admission import CallAdmission


def test_a_burst_of_one_second_passes_then_the_rate_holds():
    adm = CallAdmission(rate=5)
    assert [adm.admit(0, 10.0) for _ in range(6)] == [None] * 5 + [1]
    assert adm.admit(0, 10.3) is None  # 0.3 s at 5/s: one more token and a half
    assert adm.admit(0, 10.3) == 1
    assert adm.admit(0, 20.0) is None and adm.refused == 2


def test_a_slow_rate_asks_to_retry_when_a_token_is_back():
    adm = CallAdmission(rate=0.2)  # one call per 5 s
    assert adm.admit(0, 0.0) is None
    assert adm.admit(0, 1.0) == 4


def test_setups_in_progress_are_capped_and_no_limit_takes_everything():
    adm = CallAdmission(max_setups=3)
    assert adm.admit(2, 0.0) is None and adm.admit(3, 0.0) == 1
    free = CallAdmission()
    assert all(free.admit(10_000, 0.0) is None for _ in range(1000))


def test_a_stopping_service_refuses_every_new_call():
    adm = CallAdmission(rate=100)
    adm.close()
    assert adm.admit(0, 0.0) == 30


RATE = 4.0
SETUPS = 3  # at most 3 set-ups at once: past that the next INVITE waits, so it is refused instead


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"voice_max_setup_rate": RATE, "voice_max_setups": SETUPS}


def outcome(sipp: Sipp, workdir: Path) -> dict[str, Any]:
    """How many INVITEs got 503 and the INVITE→200 time of each call answered (sipp's trace)."""
    received = Path(str(sipp.out) + ".msg").read_text(errors="replace")
    rtt = [float(line.split(";")[1]) / 1000 for f in workdir.glob("caller_or_refused_*_rtt.csv")
           for line in f.read_text().splitlines()[1:] if line.strip()]
    return {"refused": received.count("SIP/2.0 503 Service Unavailable"), "setup_s": sorted(rtt)}


async def flood(hub: InProcessHub, workdir: Path, calls: int, rate: float) -> dict[str, Any]:
    sipp = Sipp(workdir, "caller_or_refused.xml", f"127.0.0.1:{sip_port(hub)}", calls=calls, rate=rate,
                timeout_s=30, extra=["-s", "5000", "-trace_rtt", "-rtt_freq", "1"])
    await sipp.start()
    try:
        rc = await sipp.wait()
    finally:
        await sipp.stop()
    assert rc == 0, sipp.log()  # every 503 carried Retry-After, every other call was answered
    return outcome(sipp, workdir)


@pytest.mark.slow
async def test_a_flood_past_the_setup_rate_gets_503_and_the_calls_taken_are_answered_promptly(voice_hub, tmp_path):
    below = await flood(voice_hub, tmp_path / "below", calls=8, rate=RATE / 2)
    assert below["refused"] == 0 and len(below["setup_s"]) == 8
    above = await flood(voice_hub, tmp_path / "above", calls=40, rate=8 * RATE)  # 40 INVITEs in 1 s
    # at most the burst (4) and the rate (4/s) while the flood lasts are taken; the others are refused
    assert 30 <= above["refused"] <= 37, above
    assert len(above["setup_s"]) == 40 - above["refused"]
    assert above["setup_s"][-1] < 1.0, above  # every call taken was answered within a second
    stats = voice_hub.services.ports.voice.service.stats
    assert stats["overloaded"] == above["refused"]


@pytest.mark.slow
@pytest.mark.parametrize("voice_settings", [{"voice_ring_s": 1.0, "voice_max_setups": 1, "voice_max_setup_rate": 0}])
async def test_calls_ringing_before_the_answer_do_not_count_as_set_ups_in_progress(voice_hub, tmp_path):
    ringing = await flood(voice_hub, tmp_path / "ringing", calls=3, rate=4)  # all three ring at once
    assert ringing["refused"] == 0 and len(ringing["setup_s"]) == 3, ringing
