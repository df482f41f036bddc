"""Chat latency under load: N concurrent widget clients over real Socket.IO (CHAT-1 target).

Starts the hub as its own process (so its memory is measured alone), creates agents with enough
chat capacity, opens N widget conversations which the agents accept, then every customer writes
messages at random intervals; the latency is from the customer's emit to the agent's desk socket
receiving the message. Prints one JSON line and writes bench/results/chat.json.

    python bench/chat.py [--clients 500] [--seconds 20] [--rate 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hub import HubProcess  # noqa: E402

CAPACITY = 50


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(clients: int, seconds: float, rate: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-chat-"))
    server = HubProcess(tmp / "data").start()
    base = server.base_url
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    sockets: list[socketio.AsyncClient] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as admin:
            r = await admin.post("/api/auth/login", json={"username": "admin", "password": "demo"})
            r.raise_for_status()
            n_agents = -(-clients // CAPACITY)
            agent_ids = []
            for i in range(n_agents):
                r = await admin.post("/api/users", json={
                    "username": f"bench{i}", "password": "bench", "roles": ["agent"],
                    "capacity": {"chat": CAPACITY}})
                r.raise_for_status()
                agent_ids.append(r.json()["id"])
            r = await admin.post("/api/queues", json={"name": "Bench", "members": agent_ids,
                                                      "offer_timeout_s": 60})
            r.raise_for_status()
            queue_id = r.json()["id"]

        agents: list[httpx.AsyncClient] = []
        accepted = 0
        all_accepted = asyncio.Event()
        for i in range(n_agents):
            http = httpx.AsyncClient(base_url=base, timeout=30)
            r = await http.post("/api/auth/login", json={"username": f"bench{i}", "password": "bench"})
            r.raise_for_status()
            agents.append(http)
            desk = socketio.AsyncClient(reconnection=False)
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())

            def on_offer(data, http=http):  # type: ignore[no-untyped-def]
                async def accept() -> None:
                    nonlocal accepted
                    resp = await http.post(f"/api/conversations/{data['conversation']['id']}/accept")
                    if resp.status_code == 200:
                        accepted += 1
                        if accepted >= clients:
                            all_accepted.set()
                return asyncio.ensure_future(accept())

            def on_message(msg):  # type: ignore[no-untyped-def]
                t0 = sent_at.pop(msg.get("client_id") or "", None)
                if t0 is not None:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    timeline.append((t0, latencies[-1]))

            desk.on("offer", on_offer, namespace="/desk")
            desk.on("message", on_message, namespace="/desk")
            await desk.connect(base, namespaces=["/desk"], headers={"Cookie": cookie},
                               transports=["websocket"], wait_timeout=10)
            sockets.append(desk)
            r = await http.post("/api/agent/state", json={"state": "ready"})
            r.raise_for_status()

        widgets: list[socketio.AsyncClient] = []
        async with httpx.AsyncClient(base_url=base, timeout=30) as anon:
            for i in range(clients):
                r = await anon.post("/api/widget/sessions", json={
                    "name": f"Customer {i}", "email": f"c{i}@bench.example", "queue_id": queue_id})
                r.raise_for_status()
                w = socketio.AsyncClient(reconnection=False)
                await w.connect(base, namespaces=["/widget"], auth={"token": r.json()["token"]},
                                transports=["websocket"], wait_timeout=10)
                widgets.append(w)
                sockets.append(w)
        async with asyncio.timeout(120):
            await all_accepted.wait()

        # The load generator's own collector pauses would be counted as hub latency: keep its
        # collector off while measuring (it runs for seconds; the hub's collector stays on).
        gc.collect()
        gc.freeze()
        gc.disable()
        rss_before = rss_mb(server.proc.pid)
        cpu0 = (cpu_seconds(server.proc.pid), cpu_seconds(os.getpid()), time.perf_counter())
        acks_failed = 0
        stop_at = time.perf_counter() + seconds

        async def customer(i: int, w: socketio.AsyncClient) -> None:
            nonlocal acks_failed
            rnd = random.Random(i)
            await asyncio.sleep(rnd.random() / rate)
            n = 0
            while time.perf_counter() < stop_at:
                n += 1
                cid = f"{i}-{n}"
                sent_at[cid] = time.perf_counter()
                ack = await w.call("message", {"body": f"message {n} from customer {i}",
                                               "client_id": cid}, namespace="/widget", timeout=10)
                if not ack.get("ok"):
                    acks_failed += 1
                await asyncio.sleep(rnd.expovariate(rate))

        await asyncio.gather(*(customer(i, w) for i, w in enumerate(widgets)))
        cpu1 = (cpu_seconds(server.proc.pid), cpu_seconds(os.getpid()), time.perf_counter())
        await asyncio.sleep(1.0)
        gc.enable()
        rss_after = rss_mb(server.proc.pid)
        for http in agents:
            await http.aclose()
    finally:
        for s in sockets:
            try:
                await asyncio.wait_for(s.disconnect(), 5)
            except Exception:  # noqa: BLE001
                pass
        server.stop()
    if timeline:
        t_first = timeline[0][0]
        worst = sorted(timeline, key=lambda x: -x[1])[:15]
        print("worst (s since start, ms):", [(round(t - t_first, 2), round(ms)) for t, ms in worst],
              file=sys.stderr)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 100 else [float("nan")] * 99
    return {
        "bench": "chat", "clients": clients, "messages": len(latencies), "acks_failed": acks_failed,
        "lost": len(sent_at), "p50_ms": round(q[49], 2), "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "msgs_per_s": round(len(latencies) / seconds, 1),
        "rss_mb": round(max(rss_before, rss_after), 1),
        "server_cpu_pct": round(100 * (cpu1[0] - cpu0[0]) / (cpu1[2] - cpu0[2]), 1),
        "loadgen_cpu_pct": round(100 * (cpu1[1] - cpu0[1]) / (cpu1[2] - cpu0[2]), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=500)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rate", type=float, default=0.2, help="messages per second per client")
    a = p.parse_args()
    result = asyncio.run(run(a.clients, a.seconds, a.rate))
    print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat.json").write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
