"""ACD routing benchmark: 2,000 agents, 100 queues, 20,000 waiting contacts.

Run from the repository root: ``python bench/acd.py``. Prints one JSON line and writes it to
``bench/results/acd.json``. Every engine call (release, accept, enqueue, tick) in the measured
loop is timed with ``perf_counter_ns``; ``decisions_per_s`` is engine calls per second of
engine time (each call is one routing decision step: a slot freed and refilled, an offer
accepted, an arrival routed or parked).
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.acd import (  # noqa: E402
    Acd,
    AgentConfig,
    Assigned,
    Channel,
    ContactRequest,
    Offer,
    OverflowStep,
    QueueConfig,
    Strategy,
)

N_AGENTS = 2000
N_QUEUES = 100
N_WAITING = 20000
LOOP_SECONDS = 20.0
MAX_OPS = 400_000
LANGS = ("en", "fr", "de", "es")
PRODUCTS = ("gas", "billing", "meter", "repair", "complaint")
CHANNEL_MIX = (Channel.VOICE,) * 5 + (Channel.CHAT,) * 3 + (Channel.EMAIL,) * 2


def build(rng: random.Random) -> tuple[Acd, list[QueueConfig]]:
    acd = Acd(seed=7)
    strategies = (
        [Strategy.LONGEST_IDLE] * 45
        + [Strategy.SKILLS_BEST_MATCH] * 35
        + [Strategy.ROUND_ROBIN] * 5
        + [Strategy.FEWEST_CONTACTS] * 5
        + [Strategy.LEAST_TALK_TIME] * 4
        + [Strategy.LINEAR] * 3
        + [Strategy.RANDOM] * 3
    )
    agent_ids = [f"agent{i}" for i in range(N_AGENTS)]
    agent_skills = {}
    for aid in agent_ids:
        skills = {lang: rng.randint(1, 5) for lang in rng.sample(LANGS, 2)}
        skills.update({p: rng.randint(1, 5) for p in rng.sample(PRODUCTS, 3)})
        agent_skills[aid] = skills
    queue_product = [PRODUCTS[i % len(PRODUCTS)] for i in range(N_QUEUES)]
    members: dict[int, list[str]] = {i: [] for i in range(N_QUEUES)}
    for aid in agent_ids:
        own = [i for i in range(N_QUEUES) if queue_product[i] in agent_skills[aid]]
        for qi in rng.sample(own, 5):
            members[qi].append(aid)
    queues = []
    for i in range(N_QUEUES):
        q = QueueConfig(
            id=f"q{i}",
            name=f"Queue {i}",
            strategy=strategies[i],
            required_skills={queue_product[i]: 1},
            overflow_steps=(OverflowStep(after_s=60, relax_skills=frozenset(LANGS)),),
            members=tuple(members[i]),
            offer_timeout_s=20,
        )
        acd.configure_queue(q)
        queues.append(q)
    for aid in agent_ids:
        acd.configure_agent(AgentConfig(id=aid, skills=agent_skills[aid]))
        acd.login(aid, 0.0)
    return acd, queues


def make_contact(rng: random.Random, n: int, now: float) -> ContactRequest:
    extra = {rng.choice(LANGS): rng.randint(1, 2)} if rng.random() < 0.5 else {}
    return ContactRequest(
        id=f"c{n}",
        channel=rng.choice(CHANNEL_MIX),
        queue_id=f"q{rng.randrange(N_QUEUES)}",
        priority=rng.choice((0, 0, 0, 1, 2, 3)),
        vip=rng.random() < 0.05,
        required_skills=extra,
        enqueued_at=now,
    )


def main() -> dict:
    rng = random.Random(42)
    acd, _queues = build(rng)
    now = 0.0
    for n in range(N_WAITING):
        acd.enqueue(make_contact(rng, n, now), now)
    assigned: list[str] = []
    pos: dict[str, int] = {}

    def settle(out: list, now: float, timings: list[int] | None) -> None:
        pending = list(out)
        while pending:
            d = pending.pop()
            if isinstance(d, Offer):
                t0 = time.perf_counter_ns()
                res = acd.accept(d.contact_id, d.agent_id, now)
                if timings is not None:
                    timings.append(time.perf_counter_ns() - t0)
                pending.extend(res)
            elif isinstance(d, Assigned):
                pos[d.contact_id] = len(assigned)
                assigned.append(d.contact_id)

    now = 1.0
    for i in range(N_AGENTS):
        settle(acd.set_ready(f"agent{i}", now), now, None)
    # keep ~20,000 waiting: top up what the agents took
    n = N_WAITING
    while len(acd.contact_ids()) - len(assigned) < N_WAITING:
        settle(acd.enqueue(make_contact(rng, n, now), now), now, None)
        n += 1

    # the long-lived setup objects need no more cyclic-GC passes (as a server would do at start)
    gc.collect()
    gc.freeze()
    timings: list[int] = []
    deadline = time.perf_counter() + LOOP_SECONDS
    next_tick = now + 1.0
    ops = 0
    while ops < MAX_OPS and time.perf_counter() < deadline:
        now += 0.002
        # an agent finishes a contact and gets the next one
        i = rng.randrange(len(assigned))
        cid = assigned[i]
        last = assigned.pop()
        if last != cid:
            assigned[i] = last
            pos[last] = i
        del pos[cid]
        t0 = time.perf_counter_ns()
        out = acd.release(cid, now)
        timings.append(time.perf_counter_ns() - t0)
        settle(out, now, timings)
        # a new arrival
        t0 = time.perf_counter_ns()
        out = acd.enqueue(make_contact(rng, n, now), now)
        timings.append(time.perf_counter_ns() - t0)
        n += 1
        settle(out, now, timings)
        if now >= next_tick:
            t0 = time.perf_counter_ns()
            out = acd.tick(now)
            timings.append(time.perf_counter_ns() - t0)
            settle(out, now, timings)
            next_tick = now + 1.0
            # top the backlog up to N_WAITING again (measured like any arrival)
            short = N_WAITING - sum(acd.queue_snapshot(q, now).waiting for q in acd.queue_ids())
            for _ in range(max(0, short)):
                t0 = time.perf_counter_ns()
                out = acd.enqueue(make_contact(rng, n, now), now)
                timings.append(time.perf_counter_ns() - t0)
                n += 1
                settle(out, now, timings)
        ops += 1

    timings.sort()
    total_s = sum(timings) / 1e9
    waiting = sum(acd.queue_snapshot(q, now).waiting for q in acd.queue_ids())
    result = {
        "bench": "acd",
        "decisions_per_s": round(len(timings) / total_s),
        "p99_us": round(timings[int(len(timings) * 0.99)] / 1000, 1),
        "p50_us": round(timings[len(timings) // 2] / 1000, 1),
        "agents": N_AGENTS,
        "queues": N_QUEUES,
        "waiting": waiting,
    }
    return result


if __name__ == "__main__":
    res = main()
    line = json.dumps(res)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "acd.json").write_text(line + "\n")
    print(line)
