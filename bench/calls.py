"""Concurrent calls through the voice service (VOICE-1/5, issue #3 acceptance 6).

Starts the hub as its own process with voice on, creates N bench agents (voice capacity 1, ready,
members of the queue the dialled number routes to, no wrap-up) whose desk phone accounts are
registered (digest auth) to one sipp UAS that answers every INVITE and echoes the audio back
(``-rtp_echo``). Then a sipp UAC places N concurrent 30-second calls streaming G.711 A-law
(``pcap/g711a.pcap`` four times) to a number whose IVR flow queues them (the flow plays the music)
→ agent, recording on. The hub's CPU is read from
/proc over the step; every call must succeed and every recording's duration must be within 1 % of
the call's answered time. N ramps up (10, 25, 50, 100 by default) until a step does not hold.

Prints one JSON line ``{"bench": "calls", "concurrent": <largest N that held>, "cpu_pct": …,
"recordings_ok": …}`` and writes bench/results/calls.json.

    python bench/calls.py [--steps 10,25,50,100] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
    assert hub.proc is not None
    cpu0, t0 = cpu_seconds(hub.proc.pid), time.monotonic()
    with open(workdir / f"caller-{n}.out", "wb") as out:  # noqa: ASYNC230 - before the subprocess starts
        proc = await asyncio.create_subprocess_exec(*args, cwd=workdir, stdout=out, stderr=asyncio.subprocess.STDOUT,
                                                    stdin=asyncio.subprocess.DEVNULL)
        try:
            async with asyncio.timeout(seconds + 120):
                rc = await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    cpu1, t1 = cpu_seconds(hub.proc.pid), time.monotonic()
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
            "recordings_ok": ok, "cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
            "wall_s": round(t1 - t0, 1), "bad": bad[:10]}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="10,25,50,100")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    sip_port = free_port()
    uas_port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    hub = HubProcess(tmp / "data", env={
        "HUB_VOICE_ENABLED": "1", "HUB_VOICE_SIP_UDP_PORT": str(sip_port), "HUB_VOICE_SIP_TCP_PORT": "-1",
        "HUB_VOICE_RTP_PORT_MIN": "0", "HUB_VOICE_RTP_PORT_MAX": "0", "HUB_VOICE_TRUNK_IPS": "127.0.0.1",
        "HUB_LOG_LEVEL": "warning", "HUB_API_CHECK_RESPONSES": "0"})
    hub.start(timeout=60)
    uas: asyncio.subprocess.Process | None = None
    results: list[dict[str, Any]] = []
    try:
        await setup_agents(hub.base_url, max(steps))
        uas_out = open(tmp / "uas.out", "wb")  # noqa: SIM115, ASYNC230 - closed below
        uas = await asyncio.create_subprocess_exec(
            need("sipp"), "-sf", str(SCENARIOS / "bench_agent.xml"), "-i", "127.0.0.1", "-p", str(uas_port),
            "-mi", "127.0.0.1", "-mp", str(free_port()), "-rtp_echo", "-nostdin", "-trace_err",
            "-error_file", str(tmp / "uas.err"), cwd=tmp, stdout=uas_out, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL)
        await asyncio.sleep(0.5)
        register_all(sip_port, uas_port, max(steps))
        for n in steps:
            step = await run_step(hub, sip_port, n, args.seconds, tmp / "sipp")
            step["holds"] = (step["sipp_rc"] == 0 and step["bridged"] == n and step["recordings_ok"] == n
                             and step["cpu_pct"] < CPU_LIMIT_PCT)
            results.append(step)
            print(json.dumps({"step": step}), file=sys.stderr)
            if not step["holds"]:
                break
    finally:
        if uas is not None and uas.returncode is None:
            uas.kill()
            await uas.wait()
        hub.stop()
    held = [r for r in results if r["holds"]]
    best = held[-1] if held else (results[0] if results else {"n": 0, "cpu_pct": None, "recordings_ok": 0})
    out = {"bench": "calls", "concurrent": best["n"] if held else 0, "cpu_pct": best["cpu_pct"],
           "recordings_ok": best["recordings_ok"], "call_seconds": args.seconds,
           "target": {"concurrent": 100, "cpu_pct_below": CPU_LIMIT_PCT}, "steps": results}
    line = json.dumps(out)
    print(line)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "calls.json").write_text(line + "\n")


if __name__ == "__main__":
    asyncio.run(main())
