"""SMS throughput end to end through a real Kannel (bearerbox + smsbox + fakesmsc), SMS-1.

Starts Kannel on free loopback ports and the hub as its own process (``python server.py``, demo
data) wired to it, then measures:

- outbound: a bulk job of N messages (template with a placeholder) → the hub's durable queue →
  smsbox ``sendsms`` → bearerbox → the fake SMSC; counted when the hub has every message ``sent``
  and again when every delivery report (``delivered``) is back through Kannel's ``dlr-url``;
- inbound: M messages from phones (fakesmsc, 50 different numbers) → bearerbox → smsbox →
  the hub's ``get-url`` (stored first) → threaded into conversations and routed by the ACD;
  counted when every message is ``routed``.

``msgs_per_s`` is the outbound rate to delivered (the job's whole round trip). The hub's rate
limit is raised to --rate for the run. Bounded to --seconds per phase. Prints one JSON line and
writes bench/results/sms.json.

    python bench/sms.py [--messages 2000] [--inbound 500] [--rate 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.hub import HubProcess  # noqa: E402
from tests.support.kannel import Kannel, have_kannel  # noqa: E402

TOKEN = "bench-token"


def wait(fetch, done, seconds: float, every: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(every)


def run(messages: int, inbound: int, rate: float, seconds: float) -> dict[str, object]:
    if not have_kannel():
        raise SystemExit("Kannel is not installed (apt-get install kannel kannel-extras)")
    with tempfile.TemporaryDirectory(prefix="bench-sms-") as tmp:
        kannel = Kannel(Path(tmp) / "kannel", 0, TOKEN)
        hub = HubProcess(Path(tmp) / "data", env={
            "HUB_SMS_KANNEL_SENDSMS_URL": kannel.sendsms_url,
            "HUB_SMS_KANNEL_USERNAME": kannel.username, "HUB_SMS_KANNEL_PASSWORD": kannel.password,
            "HUB_SMS_INBOUND_TOKEN": TOKEN, "HUB_SMS_RATE_PER_S": str(rate),
            "HUB_SMS_SEND_CONCURRENCY": "16", "HUB_API_CHECK_RESPONSES": "0"})
        kannel.hub_port = hub.port
        kannel.start()
        try:
            hub.start()
            with httpx.Client(base_url=hub.base_url, timeout=30) as http:
                r = http.post("/api/auth/login", json={"username": "supervisor", "password": "demo"})
                r.raise_for_status()
                numbers = [{"phone": f"+86138{i:08d}", "name": f"Customer {i}"} for i in range(messages)]
                t0 = time.perf_counter()
                job = http.post("/api/sms/bulk", json={
                    "name": "bench", "template": "Dear {name}, your meter will be read on Monday.",
                    "recipients": numbers})
                job.raise_for_status()
                jid = job.json()["id"]
                created_s = time.perf_counter() - t0

                def counts() -> dict[str, int]:
                    return http.get(f"/api/sms/bulk/{jid}").json()["counts"]
                sent = wait(counts, lambda c: c["sent"] + c["failed"] >= messages, seconds)
                sent_s = time.perf_counter() - t0
                final = wait(counts, lambda c: c["delivered"] + c["failed"] >= messages, seconds)
                delivered_s = time.perf_counter() - t0
                at_phone = len(kannel.received())

                lines = [f"+86139{i:08d} 95007 text Meter reading {i} is 0{i}345" for i in range(50)]
                t1 = time.perf_counter()
                kannel.inject_lines(lines, count=inbound, timeout=seconds)
                injected_s = time.perf_counter() - t1

                def routed() -> dict[str, int]:
                    return http.get("/api/sms/status").json()["counts"].get("in", {})
                got_in = wait(routed, lambda c: c.get("routed", 0) >= inbound, seconds, every=0.1)
                inbound_s = time.perf_counter() - t1
        finally:
            hub.stop()
            kannel.stop()
    return {
        "bench": "sms", "msgs_per_s": round(final["delivered"] / delivered_s, 1),
        "outbound_messages": messages, "outbound_sent_per_s": round(sent["sent"] / sent_s, 1),
        "outbound_delivered": final["delivered"], "outbound_failed": final["failed"],
        "outbound_at_phone": at_phone, "job_create_s": round(created_s, 3),
        "inbound_messages": inbound, "inbound_routed": got_in.get("routed", 0),
        "inbound_msgs_per_s": round(got_in.get("routed", 0) / inbound_s, 1),
        "inbound_fakesmsc_s": round(injected_s, 2), "rate_limit_per_s": rate,
        "database": "sqlite", "gateway": "kannel (bearerbox + smsbox + fakesmsc)",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--inbound", type=int, default=500)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    result = run(a.messages, a.inbound, a.rate, a.seconds)
    out = ROOT / "bench" / "results" / "sms.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
