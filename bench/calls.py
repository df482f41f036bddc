"""Concurrent calls through the voice service (VOICE-1/5, issue #3 acceptance 6).

Starts the hub as its own process with voice on, creates N bench agents (voice capacity 1, ready,
members of the queue the dialled number routes to, no wrap-up) whose desk phone accounts are
registered (digest auth) to one sipp UAS that answers every INVITE and echoes the audio back
(``-rtp_echo``). Then a sipp UAC places N concurrent 30-second calls streaming G.711 A-law
(``pcap/g711a.pcap`` four times) to a number whose IVR flow queues them (the flow plays the music)
→ agent, recording on. The hub's CPU is read from
/proc over the step; every call must succeed and every recording's duration must be within 1 % of
the call's answered time. N ramps up (10, 25, 50, 100 by default) until a step does not hold.

Then the call setup rate (#18): for ``--setup-seconds`` at each rate of ``--setup-rates`` a sipp
UAC places short calls (INVITE, 200, ACK, BYE 200 ms later) to the same IVR number; every call's
INVITE→200 time comes from sipp (``-trace_rtt``), refusals (503 + Retry-After, the hub's
admission control: ``voice_max_setup_rate``, ``voice_max_setups`` as configured, ``--no-limit``
turns them off) from the hub's counters. A step holds when no call failed and the p99 of the
calls answered is under 1 s; the ramp stops at the first step that does not hold.
``setup_rate_per_s`` is the highest rate of calls answered per second in a step that held.

Prints one JSON line ``{"bench": "calls", "concurrent": <largest N that held>, "cpu_pct": …,
"recordings_ok": …, "setup_rate_per_s": …, "loadavg": …}`` and writes bench/results/calls.json.

    python bench/calls.py [--steps 10,25,50,100] [--seconds 30] [--setup-rates 10,20,30,40,50,60,80]
                          [--setup-seconds 10] [--no-limit] [--only concurrent|setup]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import loadavg, pct  # noqa: E402
from tests.support.hub import HubProcess  # noqa: E402
from tests.voice.calls.support import PCAPS, SCENARIOS, need  # noqa: E402
from voice.sip.digest import DigestChallenge  # noqa: E402
from voice.sip.message import SipResponse  # noqa: E402

PASSWORD = "bench-phone-password"
CPU_LIMIT_PCT = 150.0
BENCH_NUMBER = "7000"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup_agents(base: str, n: int) -> list[str]:
    """Create ``n`` bench agents with phone accounts, members of 'general' (no wrap-up), ready."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as admin:
        r = await admin.post("/api/auth/login", json={"username": "admin", "password": "demo"})
        r.raise_for_status()
        ids: list[str] = []
        for i in range(n):
            r = await admin.post("/api/users", json={"username": f"bench{i}", "password": PASSWORD,
                                                     "roles": ["agent"], "capacity": {"voice": 1}})
            r.raise_for_status()
            uid = r.json()["id"]
            ids.append(uid)
            r = await admin.put(f"/api/voice/sip-accounts/bench{i}", json={"password": PASSWORD, "user_id": uid})
            r.raise_for_status()
        r = await admin.patch("/api/queues/general", json={"members": ids, "wrapup_s": 0, "offer_timeout_s": 30,
                                                           "max_wait_s": 3600})
        r.raise_for_status()
        # the dialled number runs an IVR flow (voice/ivr) whose queue node plays its own music
        flow = {"name": "Bench line", "start": "queue", "settings": {"timezone": "UTC"}, "nodes": {
            "queue": {"type": "queue", "queue_id": "general", "music": [{"builtin": "moh"}]}}}
        r = await admin.post("/api/ivr/flows", json={"name": "Bench line", "definition": flow})
        r.raise_for_status()
        fid = r.json()["id"]
        (await admin.post(f"/api/ivr/flows/{fid}/publish", json={})).raise_for_status()
        (await admin.put(f"/api/ivr/numbers/{BENCH_NUMBER}", json={"flow_id": fid})).raise_for_status()
    for i in range(n):
        async with httpx.AsyncClient(base_url=base, timeout=60) as agent:
            r = await agent.post("/api/auth/login", json={"username": f"bench{i}", "password": PASSWORD})
            r.raise_for_status()
            r = await agent.post("/api/agent/state", json={"state": "ready"})
            r.raise_for_status()
    return ids


def register_all(sip_port: int, uas_port: int, n: int) -> None:
    """REGISTER every bench phone (digest) with the sipp UAS as its Contact."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    me = sock.getsockname()[1]
    try:
        for i in range(n):
            user = f"bench{i}"

            def msg(cseq: int, auth: str | None, user: str = user) -> bytes:
                lines = [f"REGISTER sip:127.0.0.1:{sip_port} SIP/2.0",
                         f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-bench-{user}-{cseq}",
                         f"From: <sip:{user}@127.0.0.1>;tag=b{cseq}", f"To: <sip:{user}@127.0.0.1>",
                         f"Call-ID: bench-reg-{user}", f"CSeq: {cseq} REGISTER",
                         f"Contact: <sip:{user}@127.0.0.1:{uas_port}>", "Expires: 3600", "Max-Forwards: 70"]
                if auth:
                    lines.append(f"Authorization: {auth}")
                return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()

            sock.sendto(msg(1, None), ("127.0.0.1", sip_port))
            chal = SipResponse.parse(sock.recv(65535))
            creds = DigestChallenge.parse(chal.require("WWW-Authenticate")).respond(
                method="REGISTER", uri=f"sip:127.0.0.1:{sip_port}", username=user, password=PASSWORD)
            sock.sendto(msg(2, str(creds)), ("127.0.0.1", sip_port))
            ok = SipResponse.parse(sock.recv(65535))
            if ok.status != 200:
                raise RuntimeError(f"REGISTER {user}: {ok.status} {ok.reason}")
    finally:
        sock.close()


def recordings(db: Path, since: float) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT c.id, c.answered_at, c.ended_at, c.end_reason, c.agent_id, c.callee, r.duration_s "
            "FROM voice_calls c LEFT JOIN voice_recordings r ON r.call_id = c.id WHERE c.started_at >= ?",
            (since,)).fetchall()
    return [dict(r) for r in rows]


async def wait_idle(pid: int, limit_pct: float = 15.0, within: float = 180.0) -> float:
    """Wait until the hub's start-up work (e.g. other components pre-rendering TTS prompts or
    indexing) is over, so a step measures calls only. Returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        c0, t0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(2)
        if 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0) < limit_pct:
            break
    return round(time.monotonic() - start, 1)


async def run_sipp(hub: HubProcess, args: list[str], out_path: Path, within: float) -> tuple[int, int, float, float]:
    """Run sipp to its end (killed after ``within`` s): its return code and pid, the hub's CPU %
    and the wall seconds it ran."""
    assert hub.proc is not None
    cpu0, t0 = cpu_seconds(hub.proc.pid), time.monotonic()
    with open(out_path, "wb") as out:  # noqa: ASYNC230 - before the subprocess starts
        proc = await asyncio.create_subprocess_exec(*args, cwd=out_path.parent, stdout=out,
                                                    stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(within):
                rc = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    cpu1, t1 = cpu_seconds(hub.proc.pid), time.monotonic()
    return rc, proc.pid, round(100 * (cpu1 - cpu0) / (t1 - t0), 1), round(t1 - t0, 1)


async def run_step(hub: HubProcess, sip_port: int, n: int, seconds: float, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up before the measurement
    link = workdir / "pcap"
    if not link.exists():
        link.symlink_to(PCAPS)
    assert hub.proc is not None
    idle_wait = await wait_idle(hub.proc.pid)
    started = time.time()
    rate = max(5, n // 4)
    args = [need("sipp"), f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "bench_caller.xml"), "-s", BENCH_NUMBER,
            "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1", "-mp", str(free_port()),
            "-m", str(n), "-l", str(n), "-r", str(rate), "-timeout", f"{int(seconds + 60)}s", "-timeout_error",
            "-nostdin", "-trace_err", "-error_file", str(workdir / f"caller-{n}.err")]
    rc, _, cpu_pct, wall = await run_sipp(hub, args, workdir / f"caller-{n}.out", seconds + 120)
    deadline = time.monotonic() + 60  # recordings are written after the hang-up
    while True:
        rows = recordings(hub.data_dir / "hub.db", started - 1)
        if sum(1 for r in rows if r["duration_s"]) >= n or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    ok = 0
    bad: list[dict[str, Any]] = []
    for r in rows:
        expected = (r["ended_at"] or 0) - (r["answered_at"] or 0)
        complete = r["duration_s"] and r["answered_at"] and r["ended_at"]
        if complete and abs(r["duration_s"] - expected) <= 0.01 * expected:
            ok += 1
        else:
            bad.append({"call": r["id"], "recording_s": r["duration_s"], "answered_s": round(expected, 3),
                        "end_reason": r["end_reason"]})
    bridged = sum(1 for r in rows if r["agent_id"])
    to_ivr_number = sum(1 for r in rows if r["callee"] == BENCH_NUMBER)
    return {"n": n, "idle_wait_s": idle_wait, "sipp_rc": rc, "calls": len(rows), "to_ivr_number": to_ivr_number,
            "bridged": bridged,
            "recordings_ok": ok, "cpu_pct": cpu_pct, "wall_s": wall, "bad": bad[:10]}


SETUP_P99_LIMIT_S = 1.0


async def overloaded(base: str) -> int:
    """The hub's count of INVITEs refused by its admission control (503 + Retry-After)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as admin:
        (await admin.post("/api/auth/login", json={"username": "admin", "password": "demo"})).raise_for_status()
        r = await admin.get("/api/voice/calls")
        r.raise_for_status()
        return int(r.json()["stats"].get("overloaded", 0))


def rtt_times(workdir: Path, pid: int) -> list[float]:
    """INVITE→200 of every answered call (seconds, sorted) from sipp's ``-trace_rtt`` file."""
    times: list[float] = []
    for f in workdir.glob(f"caller_or_refused_{pid}_rtt.csv"):
        times += [float(line.split(";")[1]) / 1000 for line in f.read_text().splitlines()[1:] if line.strip()]
    return sorted(times)


async def setup_step(hub: HubProcess, sip_port: int, rate: int, seconds: float, workdir: Path) -> dict[str, Any]:
    """``rate`` short calls per second for ``seconds``: INVITE→200 of each call answered (sipp's
    response-time trace), the calls refused with 503 and the calls that failed."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - set-up before the measurement
    assert hub.proc is not None
    idle_wait = await wait_idle(hub.proc.pid)
    calls = int(rate * seconds)
    refused0 = await overloaded(hub.base_url)
    args = [need("sipp"), f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "caller_or_refused.xml"),
            "-s", BENCH_NUMBER, "-i", "127.0.0.1", "-p", str(free_port()), "-mi", "127.0.0.1",
            "-mp", str(free_port()), "-m", str(calls), "-r", str(rate), "-l", str(max(50, rate * 20)),
            "-timeout", f"{int(seconds + 60)}s", "-timeout_error", "-nostdin", "-trace_rtt", "-rtt_freq", "1",
            "-trace_err", "-error_file", str(workdir / f"setup-{rate}.err")]
    rc, pid, cpu_pct, _ = await run_sipp(hub, args, workdir / f"setup-{rate}.out", seconds + 120)
    times = rtt_times(workdir, pid)
    refused = await overloaded(hub.base_url) - refused0
    failed = calls - len(times) - refused
    p99 = pct(times, 99)
    return {"rate": rate, "calls": calls, "answered": len(times), "refused": refused, "failed": failed,
            "answered_per_s": round(len(times) / seconds, 1), "idle_wait_s": idle_wait, "sipp_rc": rc,
            "p50_s": pct(times, 50), "p99_s": p99, "max_s": times[-1] if times else None,
            "cpu_pct": cpu_pct, "loadavg": loadavg(),
            "holds": failed == 0 and p99 is not None and p99 < SETUP_P99_LIMIT_S}


async def setup_ramp(hub: HubProcess, sip_port: int, rates: list[int], seconds: float,
                     workdir: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for rate in rates:
        step = await setup_step(hub, sip_port, rate, seconds, workdir)
        results.append(step)
        print(json.dumps({"setup_step": step}), file=sys.stderr)
        if not step["holds"]:
            break
    return results


async def start_agent_phones(tmp: Path, uas_port: int, sip_port: int, agents: int) -> asyncio.subprocess.Process:
    """The bench agents' desk phones: one sipp UAS echoing the caller's audio, registered as each
    agent. Its output goes to ``tmp/uas.out``; the caller kills the process."""
    uas_out = open(tmp / "uas.out", "wb")  # noqa: SIM115, ASYNC230 - closed with the process
    uas = await asyncio.create_subprocess_exec(
        need("sipp"), "-sf", str(SCENARIOS / "bench_agent.xml"), "-i", "127.0.0.1", "-p", str(uas_port),
        "-mi", "127.0.0.1", "-mp", str(free_port()), "-rtp_echo", "-nostdin", "-trace_err",
        "-error_file", str(tmp / "uas.err"), cwd=tmp, stdout=uas_out, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(0.5)
    register_all(sip_port, uas_port, agents)
    return uas


@contextlib.asynccontextmanager
async def bench_hub(tmp: Path, agents: int, *, admission: bool) -> AsyncIterator[tuple[HubProcess, int]]:
    """The hub as its own process with voice on, ``agents`` bench agents whose desk phones are
    one sipp UAS echoing audio; ``admission``: False turns voice_max_setup_rate/_setups off."""
    sip_port, uas_port = free_port(), free_port()
    hub = HubProcess(tmp / "data", env={
        "HUB_VOICE_ENABLED": "1", "HUB_VOICE_SIP_UDP_PORT": str(sip_port), "HUB_VOICE_SIP_TCP_PORT": "-1",
        "HUB_VOICE_RTP_PORT_MIN": "0", "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
        "HUB_LOG_LEVEL": "warning", "HUB_API_CHECK_RESPONSES": "0",
        **({} if admission else {"HUB_VOICE_MAX_SETUP_RATE": "0", "HUB_VOICE_MAX_SETUPS": "0"})})
    hub.start(timeout=60)
    uas: asyncio.subprocess.Process | None = None
    try:
        await setup_agents(hub.base_url, agents)
        uas = await start_agent_phones(tmp, uas_port, sip_port, agents)
        yield hub, sip_port
    finally:
        if uas is not None and uas.returncode is None:
            uas.kill()
            await uas.wait()
        hub.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="10,25,50,100")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--setup-rates", default="10,20,30,40,50,60,80")
    ap.add_argument("--setup-seconds", type=float, default=10.0)
    ap.add_argument("--no-limit", action="store_true", help="admission control off (voice_max_setup_rate/_setups 0)")
    ap.add_argument("--only", choices=("concurrent", "setup"))
    args = ap.parse_args()
    load_start = loadavg()
    steps = [int(s) for s in args.steps.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    results: list[dict[str, Any]] = []
    setup: list[dict[str, Any]] = []
    if args.only != "setup":  # media capacity: the calls are paced by sipp, admission control off
        async with bench_hub(tmp / "concurrent", max(steps), admission=False) as (hub, sip_port):
            for n in steps:
                step = await run_step(hub, sip_port, n, args.seconds, tmp / "sipp")
                step["holds"] = (step["sipp_rc"] == 0 and step["bridged"] == n and step["recordings_ok"] == n
                                 and step["cpu_pct"] < CPU_LIMIT_PCT)
                results.append(step)
                print(json.dumps({"step": step}), file=sys.stderr)
                if not step["holds"]:
                    break
    if args.only != "concurrent":  # a fresh hub, admission control as configured (--no-limit: off)
        async with bench_hub(tmp / "setup", 10, admission=not args.no_limit) as (hub, sip_port):
            setup = await setup_ramp(hub, sip_port, [int(r) for r in args.setup_rates.split(",")],
                                     args.setup_seconds, tmp / "setup" / "sipp")
    held = [r for r in results if r["holds"]]
    best = held[-1] if held else (results[0] if results else {"n": 0, "cpu_pct": None, "recordings_ok": 0})
    out = {"bench": "calls", "concurrent": best["n"] if held else 0, "cpu_pct": best["cpu_pct"],
           "recordings_ok": best["recordings_ok"], "call_seconds": args.seconds,
           "target": {"concurrent": 100, "cpu_pct_below": CPU_LIMIT_PCT, "setup_rate_per_s": 40},
           "steps": results, **setup_figures(setup, args.no_limit), "loadavg": [load_start, loadavg()]}
    line = json.dumps(out)
    print(line)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "calls.json").write_text(line + "\n")


def setup_figures(steps: list[dict[str, Any]], no_limit: bool) -> dict[str, Any]:
    held = [s for s in steps if s["holds"]]
    return {"setup_rate_per_s": max((s["answered_per_s"] for s in held), default=None),
            "setup_p99_s": max(held, key=lambda s: s["answered_per_s"])["p99_s"] if held else None,
            "admission_control": not no_limit, "setup_steps": steps}


if __name__ == "__main__":
    asyncio.run(main())
