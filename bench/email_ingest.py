"""Inbound email throughput over SMTP, with threading and storage (EMAIL-1 target ≥ 50 msg/s).

Starts the hub as its own process (``python server.py``, demo data, its SMTP listener on a free
port), then several concurrent SMTP connections (aiosmtplib) send N messages: each simulated
customer opens a conversation with a first mail (routed by the ACD) and answers it with replies
carrying In-Reply-To/References, some with a small PDF attachment. A message counts once the hub
answered ``250`` (it is committed then). Bounded to ``--seconds``. Prints one JSON line and
writes bench/results/email_ingest.json.

Before sending, the bench waits (bounded) until the KB's search index is ready (on a fresh data
directory the hub indexes the demo articles at start, seconds of CPU that are not email work)
and the hub is idle. The hub's CPU
seconds (process tree, from /proc) are read before and after sending (``hub_cpu_s``,
``hub_cpu_ms_per_msg``) and again once the hub is idle afterwards, so the work event consumers
do after the ``250`` counts too (``hub_cpu_settled_ms_per_msg``). On the shared machine these
are steadier than the wall-clock rate; the load average is in ``loadavg``.

    python bench/email_ingest.py [--messages 1000] [--connections 8] [--seconds 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import code_version, cpu_seconds, loadavg, schedstat  # noqa: E402
from bench._common import wait_kb_ready as _wait_kb_ready  # noqa: E402
from tests.support.hub import HubProcess  # noqa: E402
from tests.support.postgres import free_port  # noqa: E402

TO = "support@localhost"
IDLE_CPU = 0.15  # CPU s per wall s under which the hub counts as idle
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def make_mail(customer: int, seq: int) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"Customer {customer} <customer{customer}@bench.example.com>"
    m["To"] = TO
    m["Subject"] = f"{'Re: ' if seq else ''}Meter reading {customer}"
    m["Message-ID"] = f"<c{customer}-m{seq}@bench.example.com>"
    if seq:
        m["In-Reply-To"] = f"<c{customer}-m{seq - 1}@bench.example.com>"
        m["References"] = " ".join(f"<c{customer}-m{i}@bench.example.com>" for i in range(seq))
    m.set_content(f"Message {seq} from customer {customer}: my meter reads {1000 + seq}.\n" * 3)
    if seq % 4 == 1:
        m.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"reading-{seq}.pdf")
    return m


async def sender(port: int, jobs: asyncio.Queue[tuple[int, int]], deadline: float,
                 ok: list[float], failed: list[str]) -> None:
    import aiosmtplib

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    async with asyncio.timeout(30):
        await client.connect()
    try:
        while time.monotonic() < deadline:
            try:
                customer, seq = jobs.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.monotonic()
            try:
                async with asyncio.timeout(30):
                    await client.send_message(make_mail(customer, seq))
            except (aiosmtplib.SMTPException, TimeoutError) as err:
                failed.append(f"{type(err).__name__}: {err}")
                continue
            ok.append(time.monotonic() - t0)
    finally:
        try:
            async with asyncio.timeout(5):
                await client.quit()
        except (aiosmtplib.SMTPException, TimeoutError, OSError):
            client.close()


async def wait_idle(pid: int, within_s: float) -> float:
    """Wait (bounded) until the hub used under IDLE_CPU of a core over one second."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within_s:
        c0 = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if cpu_seconds(pid) - c0 < IDLE_CPU:
            break
    return round(time.monotonic() - t0, 1)


async def wait_kb_ready(base_url: str, within_s: float) -> dict[str, object]:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.post("/api/auth/login", json={"username": "admin", "password": "demo"})
        r.raise_for_status()
        return await _wait_kb_ready(client, within_s)


async def count_conversations(base_url: str) -> int:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.post("/api/auth/login", json={"username": "supervisor", "password": "demo"})
        r.raise_for_status()
        total, before = 0, None
        while True:
            params: dict[str, object] = {"view": "all", "channel": "email", "limit": 200}
            if before is not None:
                params["before"] = before
            page = (await client.get("/api/conversations", params=params)).json()
            total += len(page["items"])
            before = page["next_before"]
            if before is None:
                return total


async def run(messages: int, connections: int, seconds: float, per_customer: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-email-"))
    port = free_port()
    os.environ.update({"HUB_EMAIL_PORT": str(port), "HUB_EMAIL_ADDRESS": TO,
                       "HUB_EMAIL_SMTP_PORT": str(free_port())})
    server = HubProcess(tmp / "data", env={"HUB_API_CHECK_RESPONSES": "0"}).start()  # as `make run`
    try:
        # Customers write in order: the first mail of each customer opens the conversation, the
        # next ones are replies. Each customer's mails go through the same connection (in order).
        customers = -(-messages // per_customer)
        queues: list[asyncio.Queue[tuple[int, int]]] = [asyncio.Queue() for _ in range(connections)]
        n = 0
        for seq in range(per_customer):
            for c in range(customers):
                if n >= messages:
                    break
                queues[c % connections].put_nowait((c, seq))
                n += 1
        ok: list[float] = []
        failed: list[str] = []
        assert server.proc is not None
        pid = server.proc.pid
        kb = await wait_kb_ready(server.base_url, 120)
        idle_before_s = await wait_idle(pid, 60)
        load_start = loadavg()
        cpu0, loop0 = cpu_seconds(pid), schedstat(pid)
        t0 = time.monotonic()
        deadline = t0 + seconds
        await asyncio.gather(*(sender(port, q, deadline, ok, failed) for q in queues))
        elapsed = time.monotonic() - t0
        cpu1, loop1 = cpu_seconds(pid), schedstat(pid)
        load_end = loadavg()
        settled_s = await wait_idle(pid, 30)
        cpu_settled = cpu_seconds(pid) - IDLE_CPU * 1.0  # less the idle second that ended the wait
        conversations = await count_conversations(server.base_url)
        lat = sorted(ok)
        result = {
            "bench": "email_ingest", "msgs_per_s": round(len(ok) / elapsed, 1),
            "messages_stored": len(ok), "messages_failed": len(failed), "seconds": round(elapsed, 2),
            "connections": connections, "customers": customers,
            "conversations": conversations,  # threading check: one per customer who wrote
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1) if lat else None,
            "database": "sqlite", "target_msgs_per_s": 50,
            "hub_cpu_s": round(cpu1 - cpu0, 2),
            "hub_cpu_ms_per_msg": round(1000 * (cpu1 - cpu0) / len(ok), 2) if ok else None,
            "hub_cpu_settled_ms_per_msg": round(1000 * (cpu_settled - cpu0) / len(ok), 2) if ok else None,
            "hub_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 1),
            "hub_loop_cpu_pct": round(100 * (loop1[0] - loop0[0]) / elapsed, 1),
            "hub_loop_runqueue_pct": round(100 * (loop1[1] - loop0[1]) / elapsed, 1),
            "kb_ready": kb.get("ready"), "hub_idle_before_s": idle_before_s, "hub_settled_s": settled_s,
            "loadavg": {"start": load_start, "end": load_end}, **code_version(),
        }
        if failed:
            result["first_error"] = failed[0][:200]
        return result
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=25)
    ap.add_argument("--per-customer", type=int, default=4, help="mails per thread")
    a = ap.parse_args()
    result = asyncio.run(run(a.messages, a.connections, a.seconds, a.per_customer))
    out = ROOT / "bench" / "results" / "email_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
