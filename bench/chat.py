"""Chat as a browser user of ``make run`` sees it (CHAT-1; issue #14 acceptance 4).

The hub runs as its own process (``python server.py``) with ``make run`` defaults (``--processes 2``:
two such processes on PostgreSQL and Redis behind haproxy, bench/hubs.py): demo data
(``HUB_DEMO=1``), the knowledge base on and the widget bot on (``assist_bot = "demo"``, the
setting's default, which is on with demo data). Everything is on loopback; every wait is bounded
and the hub is stopped on exit, errors included.

1. **Set-up.** Bench agents (chat capacity 50 each, enough for every client) join a bench queue,
   open their desk socket (``/desk``) and go ready; they accept every ``offer`` over REST like
   the desk does. The bench waits until the KB index is ready (the bot takes no chat before).
2. **New chats** (``new_chats_per_s``): ``--clients`` widget sessions are opened as a burst with
   ``--concurrency`` customers at a time, each one as the widget does it: ``POST
   /api/widget/sessions`` (pre-chat form; the bot takes the chat and greets) then the ``/widget``
   Socket.IO connection with the token. A chat counts once both are done; the figure is chats
   fully created per second over the burst.
3. **Hand-over.** With the bot on, every customer then presses "Talk to a person" (the widget's
   ``POST /api/widget/handover``, ``assist/api.py`` → ``WidgetBot.handover``): the chat is queued,
   offered to an agent, who accepts. Customers whose chat was not accepted in time do not send.
4. **Saturation search** (``saturation_msgs_per_s``), run first, on an idle hub: short steps
   (``--step-seconds``, at least 100 messages) at increasing offered rates (``--steps``); a step
   holds when the acked rate (acks within 1 s after the step's last send) is at least 95 % of the
   offered rate and the ack p99 is under 250 ms. The figure is the highest rate that held; the
   search stops at the first step that fails twice in a row (the machine is shared: a failed
   step is tried once more from an idle hub), or after ``--saturation-budget`` s. Each step
   waits for its own acks and deliveries (up to 10 s) before the next.
5. **Latency at a fixed rate** (``rate_msgs_per_s``, default 100 msg/s for ``--seconds``), after
   the failed step's backlog is gone (``hub_idle_before``; waited up to ``--drain`` s).

Both phases are open loop: one scheduler fires sends at planned instants ``k / rate`` whatever
the acks, round robin over the customers (at 100 msg/s and 500 customers each writes every 5 s).
A send is the widget's ``message`` emit with an ack callback; each message carries a unique tag
in its text (and as ``client_id``). ``p50_ms`` / ``p99_ms``: the customer's emit → the agent's
desk socket receiving it; ``ack_p99_ms``: emit → the hub's ack (sent after commit). A message
still missing counts as infinitely late, so under overload a percentile may be ``null``; the
``*_at_least`` figure is then its lower bound. ``sender_lag_ms``: the most the scheduler itself
fired behind plan (a large value means the bench, not the hub, lagged; ``bench_limited`` marks a
step the bench could not offer).

Counted over the whole run, after the last wait (``--drain`` s): ``lost`` = messages the hub
acked as stored that never reached an agent's desk; ``unsettled`` = neither acked nor delivered
when the bench stopped waiting (the hub was still behind); ``ack_errors`` = refused by the hub;
``duplicated`` = extra deliveries of a tag. The hub's RSS (MB, process tree) idle, after the
run and at its peak, its CPU seconds, and the load average at start and end. WebSocket
transport (no long-polling first, unlike socket.io-client in a browser) with permessage-deflate
offered like a browser does (``"deflate"`` says whether the hub accepted it). Prints one JSON
line and writes bench/results/chat.json (the hub's log: bench/results/chat-hub.log).

    python bench/chat.py [--clients 500] [--rate 100] [--seconds 20] [--steps 10,25,50,100,...]

Targets (issue #14): saturation >= 400 msg/s; p99 < 50 ms at 100 msg/s with 500 clients;
RSS < 400 MB with the KB loaded; new chats >= 100/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import code_version, loadavg, ms, pct, schedstat, wait_kb_ready  # noqa: E402
from bench.hubs import BenchHubs  # noqa: E402

CAPACITY = 50  # chats per bench agent (the API's maximum)
BENCH_PASSWORD = "bench-agent-pass"  # the password policy wants 10 characters
#: ``assist_bot``'s default in hub/config.py: on when demo data is on, as with ``make run``
MAKE_RUN_BOT = "demo"
ACK_P99_LIMIT_S = 0.250
KEEP_UP = 0.95
DEFAULT_STEPS = "10,25,50,100,200,300,400,600,800,1000,1200"
MIN_STEP_MESSAGES = 100  # a slow step lasts long enough for its p99 to mean something
STEP_ATTEMPTS = 2  # a step fails when it failed twice in a row
QUIET_S, QUIET_MAX_S = 3.0, 30.0  # after the hand-over bound: wait for accepts to stop coming
STEP_DRAIN_S = 10.0  # longest wait for a step's late acks and deliveries
IDLE_CPU, IDLE_MAX_S = 0.15, 30.0  # the hub counts as idle under 15 % of a core over 1 s
TARGETS = {"saturation_msgs_per_s": ">= 400", "p99_ms_at_100_msgs_per_s": "< 50",
           "rss_mb": "< 400 (KB loaded)", "new_chats_per_s": ">= 100"}

HARD_LIMIT_S = 480  # whatever happens, the run is cancelled (and the hub stopped) after this

now = time.perf_counter


@dataclass(slots=True)
class Msg:
    phase: str
    planned: float
    sent: float
    acked: float = math.inf
    ack_ok: bool | None = None  # None: no ack yet
    received: float = math.inf
    receptions: int = 0


@dataclass
class Customer:
    i: int
    token: str = ""
    conversation_id: str = ""
    sio: socketio.AsyncClient | None = None


@dataclass
class State:
    msgs: dict[str, Msg] = field(default_factory=dict)
    duplicated: int = 0
    foreign: int = 0  # desk messages without a bench tag (bot greetings are not sent to agents)
    send_errors: int = 0
    accepted: set[str] = field(default_factory=set)
    accepted_changed: asyncio.Event = field(default_factory=asyncio.Event)
    accept_failed: int = 0
    deflate: set[int] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    sockets: list[socketio.AsyncClient] = field(default_factory=list)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def on_desk_message(self, msg: Any) -> None:
        t = now()
        body = (msg.get("body") or "") if isinstance(msg, dict) else ""
        end = body.find("]")
        m = self.msgs.get(body[1:end]) if body.startswith("[") and end > 0 else None
        if m is None:
            self.foreign += 1
            return
        m.receptions += 1
        if m.receptions == 1:
            m.received = t
        else:
            self.duplicated += 1


def new_socket(deflate: bool) -> socketio.AsyncClient:
    # engine.io hands ``websocket_extra_options`` to aiohttp's ws_connect (fresh dict: it is
    # mutated); compress=15 offers permessage-deflate with a 32 KiB window, as browsers do.
    extra = {"compress": 15} if deflate else {}
    return socketio.AsyncClient(reconnection=False, request_timeout=10,
                                websocket_extra_options=extra)


def negotiated_deflate(sio: socketio.AsyncClient) -> int:
    ws = getattr(sio.eio, "ws", None)
    return int(getattr(ws, "compress", 0) or 0)


# --------------------------------------------------------------------------- set-up
async def make_agents(base: str, clients: int, st: State, deflate: bool
                      ) -> tuple[str, list[httpx.AsyncClient]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as admin:
        (await admin.post("/api/auth/login", json={"username": "admin", "password": "demo"})).raise_for_status()
        ids = []
        for i in range(-(-clients // CAPACITY)):
            r = await admin.post("/api/users", json={
                "username": f"bench{i}", "password": BENCH_PASSWORD, "roles": ["agent"],
                "capacity": {"chat": CAPACITY}})
            r.raise_for_status()
            ids.append(r.json()["id"])
        r = await admin.post("/api/queues", json={"name": "Bench", "members": ids, "offer_timeout_s": 60})
        r.raise_for_status()
        queue_id = r.json()["id"]
    agents = []
    for i in range(len(ids)):
        http = httpx.AsyncClient(base_url=base, timeout=30)
        agents.append(http)
        login = {"username": f"bench{i}", "password": BENCH_PASSWORD}
        (await http.post("/api/auth/login", json=login)).raise_for_status()
        desk = new_socket(deflate)
        st.sockets.append(desk)

        def on_offer(data: Any, http: httpx.AsyncClient = http) -> None:
            async def accept() -> None:
                cid = data["conversation"]["id"]
                try:
                    r = await http.post(f"/api/conversations/{cid}/accept")
                except httpx.HTTPError:
                    st.accept_failed += 1
                    return
                if r.status_code == 200:
                    st.accepted.add(cid)
                    st.accepted_changed.set()
                else:
                    st.accept_failed += 1
            st.spawn(accept())

        desk.on("offer", on_offer, namespace="/desk")
        desk.on("message", st.on_desk_message, namespace="/desk")
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        async with asyncio.timeout(20):
            await desk.connect(base, namespaces=["/desk"], headers={"Cookie": cookie},
                               transports=["websocket"], wait_timeout=10)
        st.deflate.add(negotiated_deflate(desk))
        (await http.post("/api/agent/state", json={"state": "ready"})).raise_for_status()
    return queue_id, agents


async def open_chats(base: str, queue_id: str, clients: int, concurrency: int, within_s: float,
                     st: State, deflate: bool) -> tuple[list[Customer], dict[str, Any]]:
    """The new-chat burst: pre-chat form + widget socket per customer, ``concurrency`` at once."""
    done: list[Customer] = []
    took: list[float] = []
    last = [0.0]
    errors: list[str] = []
    todo = iter(range(clients))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as anon:
        async def worker() -> None:
            for i in todo:
                c = Customer(i)
                t0 = now()
                try:
                    async with asyncio.timeout(40):
                        r = await anon.post("/api/widget/sessions", json={
                            "name": f"Customer {i}", "email": f"c{i}@bench.example",
                            "queue_id": queue_id})
                        r.raise_for_status()
                        c.token, c.conversation_id = r.json()["token"], r.json()["conversation_id"]
                        c.sio = new_socket(deflate)
                        st.sockets.append(c.sio)
                        await c.sio.connect(base, namespaces=["/widget"], auth={"token": c.token},
                                            transports=["websocket"], wait_timeout=10)
                except (httpx.HTTPError, socketio.exceptions.SocketIOError, TimeoutError, KeyError) as err:
                    errors.append(f"{type(err).__name__}: {err}"[:200])
                    continue
                last[0] = now()
                took.append(last[0] - t0)
                done.append(c)

        t0 = now()
        workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
        _, pending = await asyncio.wait(workers, timeout=within_s)
        for w in pending:
            w.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = (last[0] if done else now()) - t0  # until the last chat was fully created
    if done:
        st.deflate.add(negotiated_deflate(done[0].sio))  # type: ignore[arg-type]
    took.sort()
    return done, {
        "new_chats_per_s": round(len(done) / elapsed, 1) if elapsed > 0 else None,
        "new_chats": len(done), "new_chats_failed": clients - len(done),
        "new_chat_p50_ms": ms(pct(took, 50)), "new_chat_p99_ms": ms(pct(took, 99)),
        "new_chat_concurrency": concurrency, "new_chats_s": round(elapsed, 2),
        **({"new_chat_first_error": errors[0]} if errors else {}),
    }


async def hand_over(base: str, customers: list[Customer], bot_on: bool, within_s: float,
                    st: State) -> tuple[list[Customer], dict[str, Any]]:
    """Every customer presses "Talk to a person"; wait until the agents accepted the chats."""
    t0 = now()
    refused: list[str] = []
    if bot_on:
        todo = iter(customers)
        async with httpx.AsyncClient(base_url=base, timeout=30) as anon:
            async def worker() -> None:
                for c in todo:
                    try:
                        r = await anon.post("/api/widget/handover",
                                            headers={"Authorization": f"Bearer {c.token}"})
                    except httpx.HTTPError as err:
                        refused.append(f"{type(err).__name__}: {err}"[:200])
                        continue
                    if r.status_code != 200:  # e.g. the bot did not take it (KB not ready): queued
                        refused.append(f"{r.status_code} {r.text[:150]}")

            workers = [asyncio.ensure_future(worker()) for _ in range(20)]
            _, pending = await asyncio.wait(workers, timeout=within_s)
            for w in pending:
                w.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
    wanted = {c.conversation_id for c in customers}
    deadline = t0 + within_s
    while now() < deadline and not wanted <= st.accepted:
        st.accepted_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(st.accepted_changed.wait(), deadline - now())
    # Hand-overs still being worked on would load the measured phases: wait (bounded) until no
    # accept came for QUIET_S before measuring.
    quiet_end = now() + QUIET_MAX_S
    while not wanted <= st.accepted and now() < quiet_end:
        st.accepted_changed.clear()
        try:
            await asyncio.wait_for(st.accepted_changed.wait(), QUIET_S)
        except TimeoutError:
            break
    ready = [c for c in customers if c.conversation_id in st.accepted]
    return ready, {
        "chats_accepted": len(ready), "handover_and_accept_s": round(now() - t0, 2),
        "handover_refused": len(refused), "accept_failed": st.accept_failed,
        **({"handover_first_refusal": refused[0]} if refused else {}),
    }


# --------------------------------------------------------------------------- open-loop load
async def offer_load(pool: list[Customer], rate: float, seconds: float, phase: str,
                     st: State) -> dict[str, Any]:
    """Fire ``rate * seconds`` sends at planned instants, never waiting for an ack."""
    n = max(1, round(rate * seconds))
    lags: list[float] = []
    msgs: list[Msg] = []
    start = now() + 0.02

    def acked(m: Msg, reply: Any = None) -> None:
        m.acked = now()
        m.ack_ok = isinstance(reply, dict) and reply.get("ok") is True

    for k in range(n):
        planned = start + k / rate
        t = now()
        if planned > t:
            await asyncio.sleep(planned - t)
        elif k % 4 == 0:
            await asyncio.sleep(0)  # behind plan: still let receptions be handled
        t = now()
        lags.append(t - planned)
        c = pool[k % len(pool)]
        tag = f"{phase}-{k}"
        m = Msg(phase, planned, t)
        st.msgs[tag] = m
        msgs.append(m)
        try:
            await c.sio.emit("message", {"body": f"[{tag}] message {k} from customer {c.i}",  # type: ignore[union-attr]
                                         "client_id": tag}, namespace="/widget",
                             callback=lambda reply=None, m=m: acked(m, reply))
        except (socketio.exceptions.SocketIOError, ConnectionError, OSError):
            m.ack_ok, m.acked = False, now()
            st.send_errors += 1
    end = now()
    lags.sort()
    return {"msgs": msgs, "start": start, "end": end, "planned_s": n / rate,
            "sender_lag_max_ms": ms(lags[-1]), "sender_lag_p99_ms": ms(pct(lags, 99)),
            "sender_slipped": sum(1 for x in lags if x > 0.010)}


def settled(m: Msg) -> bool:
    return m.ack_ok is False or (m.ack_ok is True and m.receptions > 0)


async def drain(msgs: list[Msg], within_s: float) -> bool:
    deadline = now() + within_s
    while now() < deadline:
        if all(settled(m) for m in msgs):
            return True
        await asyncio.sleep(0.1)
    return all(settled(m) for m in msgs)


def summarize(run: dict[str, Any], rate: float, cpu: tuple[float, ...],
              cpu_end: tuple[float, ...]) -> dict[str, Any]:
    """Figures of one load phase; CPU over the sending interval (from ``cpu`` to ``cpu_end``)."""
    msgs: list[Msg] = run["msgs"]
    wall = cpu_end[2] - cpu[2]
    deliver = sorted(m.received - m.sent for m in msgs if m.ack_ok is not False)
    acks = sorted(m.acked - m.sent for m in msgs)
    # a message still missing is at least this late: a lower bound where a percentile is missing
    t = now()
    deliver_floor = sorted(min(m.received, t) - m.sent for m in msgs if m.ack_ok is not False)
    acks_floor = sorted(min(m.acked, t) - m.sent for m in msgs)
    floors: dict[str, float | None] = {}
    for name, q, exact, floor in (("p50_ms", 50, deliver, deliver_floor),
                                  ("p99_ms", 99, deliver, deliver_floor),
                                  ("ack_p99_ms", 99, acks, acks_floor)):
        if exact and math.isinf(pct(exact, q) or 0.0):
            floors[f"{name}_at_least"] = ms(pct(floor, q))
    window = run["end"] + 1.0  # acks within 1 s after the last send count towards the rate
    acked_in_time = sum(1 for m in msgs if m.ack_ok and m.acked <= window)
    planned_s = run["planned_s"]
    return {
        "offered_msgs_per_s": rate,
        "sent_msgs_per_s": round(len(msgs) / max(run["end"] - run["start"], 1e-9), 1),
        "acked_msgs_per_s": round(acked_in_time / planned_s, 1),
        "delivered_msgs_per_s": round(sum(1 for m in msgs if m.received <= window) / planned_s, 1),
        "p50_ms": ms(pct(deliver, 50)), "p99_ms": ms(pct(deliver, 99)),
        "max_ms": ms(deliver[-1]) if deliver else None,
        "ack_p50_ms": ms(pct(acks, 50)), "ack_p99_ms": ms(pct(acks, 99)), **floors,
        "messages": len(msgs), "ack_errors": sum(1 for m in msgs if m.ack_ok is False),
        "unacked": sum(1 for m in msgs if m.ack_ok is None),
        "undelivered": sum(1 for m in msgs if m.ack_ok is not False and m.receptions == 0),
        "sender_lag_max_ms": run["sender_lag_max_ms"], "sender_lag_p99_ms": run["sender_lag_p99_ms"],
        "sender_slipped": run["sender_slipped"],
        "hub_cpu_pct": round(100 * (cpu_end[0] - cpu[0]) / wall, 1),
        "loadgen_cpu_pct": round(100 * (cpu_end[1] - cpu[1]) / wall, 1),
        # the hub's event loop: share of the time on a CPU, and runnable but waiting for a CPU
        # (other processes on the machine); the rest it was idle or blocked (locks, I/O)
        "hub_loop_cpu_pct": round(100 * (cpu_end[3] - cpu[3]) / wall, 1),
        "hub_loop_runqueue_pct": round(100 * (cpu_end[4] - cpu[4]) / wall, 1),
        "loadgen_runqueue_pct": round(100 * (cpu_end[5] - cpu[5]) / wall, 1),
    }


async def wait_hub_idle(hubs: BenchHubs, within_s: float) -> float:
    """Wait (bounded) until the hub used under IDLE_CPU of a core over a second: events of the
    set-up (hand-overs, offers, assist work) may still be in its queues after the last accept."""
    t0 = now()
    while now() - t0 < within_s:
        c0 = hubs.cpu_seconds()
        await asyncio.sleep(1.0)
        if hubs.cpu_seconds() - c0 < IDLE_CPU * len(hubs.pids):
            break
    return round(now() - t0, 1)


def cpu_mark(hubs: BenchHubs) -> tuple[float, float, float, float, float]:
    """Hub CPU s, own CPU s, wall clock, the hub's event-loop thread's on-CPU s and runqueue s,
    and the bench's own runqueue s."""
    return hubs.cpu_seconds(), time.process_time(), now(), *hubs.schedstat(), schedstat(os.getpid())[1]


# --------------------------------------------------------------------------- the run
async def run(a: argparse.Namespace, holder: list[BenchHubs]) -> dict[str, Any]:
    t_start = now()
    load_start = loadavg()
    version = code_version()
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-chat-"))
    hubs = BenchHubs(tmp, {"HUB_ASSIST_BOT": MAKE_RUN_BOT}, a.processes)
    holder.append(hubs)
    hubs.start(timeout=90)
    base = hubs.base_url  # with two processes, haproxy in front of them
    st = State()
    result: dict[str, Any] = {"bench": "chat", "processes": a.processes, "clients": a.clients,
                              "rate_msgs_per_s": a.rate}
    agents: list[httpx.AsyncClient] = []
    try:
        for hub in hubs.hubs:  # each process has its own search index; the bot needs it
            async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as admin:
                (await admin.post("/api/auth/login", json={"username": "admin", "password": "demo"})).raise_for_status()
                kb = await wait_kb_ready(admin, 120)
                assist = (await admin.get("/api/assist/status")).json()
        bot_on = bool(assist.get("bot_enabled")) and bool(kb.get("ready"))
        result.update({"kb_ready": bool(kb.get("ready")), "bot": bot_on,
                       "chats_via": ("bot greets, then POST /api/widget/handover ('Talk to a person') "
                                     "→ ACD offer → agent accepts" if bot_on else
                                     "queued directly (bot off or KB not ready) → agent accepts")})
        hub_ready_s = now() - t_start
        rss_idle = hubs.rss_mb()

        queue_id, agents = await make_agents(base, a.clients, st, not a.no_deflate)
        print(json.dumps({"phase": "new_chats", "hub_pids": hubs.pids}), file=sys.stderr, flush=True)
        customers, chats = await open_chats(base, queue_id, a.clients, a.concurrency,
                                            a.chat_timeout, st, not a.no_deflate)
        pool, handed = await hand_over(base, customers, bot_on, a.chat_timeout, st)
        if not pool:
            raise RuntimeError(f"no chat was accepted by an agent: {chats} {handed}")
        random.Random(1).shuffle(pool)
        result["hub_idle_wait_s"] = await wait_hub_idle(hubs, IDLE_MAX_S)
        result.update({"deflate": bool(st.deflate) and min(st.deflate) > 0, **chats,
                       "clients_sending": len(pool), **handed})

        # The load generator's own collector pauses would be counted as hub latency: keep its
        # collector off while measuring (the hub's collector stays on).
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            # (b) first, on an idle hub: the saturation search. Each step starts once the previous
            # one settled; the search ends at the first step that does not hold.
            steps: list[dict[str, Any]] = []
            saturation = 0.0
            stop_reason = "all steps held"
            search_end = now() + a.saturation_budget
            rates = [float(x) for x in a.steps.split(",") if x.strip()]
            attempt = 0
            while rates:
                rate = rates[0]
                seconds = max(a.step_seconds, MIN_STEP_MESSAGES / rate)
                if now() + seconds > search_end:
                    stop_reason = "time budget of the search used up"
                    break
                attempt += 1
                mark = cpu_mark(hubs)
                step = await offer_load(pool, rate, seconds, f"s{rate:g}.{attempt}", st)
                mark_end = cpu_mark(hubs)
                await drain(step["msgs"], STEP_DRAIN_S)
                s = summarize(step, rate, mark, mark_end)
                bench_limited = s["sent_msgs_per_s"] < KEEP_UP * rate
                held = (not bench_limited and s["acked_msgs_per_s"] >= KEEP_UP * rate
                        and s["ack_p99_ms"] is not None and s["ack_p99_ms"] < ACK_P99_LIMIT_S * 1000)
                steps.append({**s, "attempt": attempt, "held": held, "bench_limited": bench_limited})
                print(json.dumps({"step": rate, "attempt": attempt, "held": held,
                                  "acked_msgs_per_s": s["acked_msgs_per_s"],
                                  "ack_p99_ms": s["ack_p99_ms"], "p99_ms": s["p99_ms"],
                                  "hub_cpu_pct": s["hub_cpu_pct"], "hub_loop_runqueue_pct": s["hub_loop_runqueue_pct"],
                                  "sender_lag_max_ms": s["sender_lag_max_ms"]}),
                      file=sys.stderr)
                if held:
                    saturation = rate
                    rates.pop(0)
                    attempt = 0
                    continue
                if bench_limited:
                    stop_reason = "the load generator could not send at this rate"
                    break
                if attempt >= STEP_ATTEMPTS:
                    stop_reason = f"{rate:g} msg/s did not hold ({attempt} attempts)"
                    break
                # the machine is shared: a failed step is tried once more from an idle hub
                await drain(list(st.msgs.values()), STEP_DRAIN_S)
                await wait_hub_idle(hubs, IDLE_MAX_S / 3)
            result["saturation_msgs_per_s"] = saturation
            result["saturation_stop"] = stop_reason
            # the failed step's backlog must be gone before the fixed-rate phase
            backlog_cleared = await drain(list(st.msgs.values()), a.drain)

            # (a) latency at the fixed rate (default 100 msg/s)
            mark = cpu_mark(hubs)
            fixed = await offer_load(pool, a.rate, a.seconds, "a", st)
            mark_end = cpu_mark(hubs)
            drained = await drain(fixed["msgs"], a.drain)
            fixed_stats = summarize(fixed, a.rate, mark, mark_end)
            result.update({k: v for k, v in fixed_stats.items() if k.startswith(("p50_ms", "p99_ms", "ack_p99_ms"))})
            result["at_rate"] = {**fixed_stats, "drained": drained,
                                 "hub_idle_before": backlog_cleared}
            result["steps"] = steps
        finally:
            gc.enable()
        everything = list(st.msgs.values())
        lags = [x for x in [fixed_stats["sender_lag_max_ms"], *(s["sender_lag_max_ms"] for s in steps)]
                if x is not None]
        result.update({
            "sender_lag_ms": max(lags) if lags else None,
            "messages": len(everything),
            # stored (acked ok) but never pushed to the agent's desk
            "lost": sum(1 for m in everything if m.ack_ok is True and m.receptions == 0),
            # neither acked nor delivered when the bench stopped waiting: the hub was still behind
            "unsettled": sum(1 for m in everything if m.ack_ok is None and m.receptions == 0),
            "never_delivered": sum(1 for m in everything if m.ack_ok is not False and m.receptions == 0),
            # false: the hub was still behind when the bench stopped waiting; the ack comes after
            # the commit, the push to the desk may come later, so ``lost`` may count late ones
            "settled": all(settled(m) for m in everything),
            "duplicated": st.duplicated,
            "ack_errors": sum(1 for m in everything if m.ack_ok is False),
            "send_errors": st.send_errors,
            "rss_mb": round(hubs.rss_mb(), 1), "rss_peak_mb": round(hubs.rss_mb("VmHWM"), 1),
            "rss_idle_mb": round(rss_idle, 1),
            "hub_cpu_s": round(hubs.cpu_seconds(), 1), "hub_ready_s": round(hub_ready_s, 1),
        })
    finally:
        for http in agents:
            with contextlib.suppress(Exception):
                await http.aclose()
        await asyncio.gather(*(_disconnect(s) for s in st.sockets), return_exceptions=True)
        for task in list(st.tasks):
            task.cancel()
        hubs.stop()
        with contextlib.suppress(OSError):  # the hubs' own logs, for a look afterwards
            (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
            for i, log in enumerate(hubs.logs):
                shutil.copyfile(log, ROOT / "bench" / "results" / f"chat-hub{'' if i == 0 else i + 1}.log")
        shutil.rmtree(tmp, ignore_errors=True)
    result.update({"loadavg": {"start": load_start, "end": loadavg()}, "cores": os.cpu_count(),
                   "database": "sqlite" if a.processes == 1 else "postgresql", "elapsed_s": round(now() - t_start, 1),
                   "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **version,
                   "targets": TARGETS})
    return result


async def _disconnect(s: socketio.AsyncClient) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await s.disconnect()


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=500, help="widget customers (each accepted by an agent)")
    p.add_argument("--rate", type=float, default=100, help="aggregate msg/s of the fixed-rate phase")
    p.add_argument("--seconds", type=float, default=20, help="length of the fixed-rate phase")
    p.add_argument("--steps", default=DEFAULT_STEPS, help="offered msg/s of the saturation steps")
    p.add_argument("--step-seconds", type=float, default=4)
    p.add_argument("--concurrency", type=int, default=50, help="customers opening chats at once")
    p.add_argument("--chat-timeout", type=float, default=60, help="bound of the new-chat burst and of the hand-over")
    p.add_argument("--drain", type=float, default=20,
                   help="longest wait for late acks/deliveries before and after the fixed-rate phase")
    p.add_argument("--saturation-budget", type=float, default=60,
                   help="seconds after which no further saturation step starts")
    p.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    p.add_argument("--processes", type=int, default=1, choices=(1, 2),
                   help="hub processes: 1 (make run: SQLite) or 2 (PostgreSQL + Redis behind haproxy)")
    a = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the KB model comes from a package, never the network
    holder: list[BenchHubs] = []
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C so the hub is stopped below
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        result = asyncio.run(asyncio.wait_for(run(a, holder), timeout=HARD_LIMIT_S))
    finally:
        for hubs in holder:  # whatever happened: no hub (nor its PostgreSQL, Redis) is left behind
            hubs.stop(kill=True)
    print(json.dumps(result))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat.json").write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
