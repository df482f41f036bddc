"""Discrete-event simulation driving the real :class:`Acd` on a virtual clock (RPT-2).

Poisson arrivals, exponential handle times, agents accept offers instantly and release when
done, no wrap-up, no abandonment: an M/M/N queue, so results can be checked against Erlang C.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from hub.acd.decisions import Assigned, Decision, Offer
from hub.acd.engine import Acd
from hub.acd.model import AgentConfig, Channel, ContactRequest, QueueConfig, Strategy


@dataclass(frozen=True, slots=True)
class SimResult:
    offered: int  # arrivals counted (after warm-up, before the end)
    answered: int  # of those, assigned to an agent
    prob_wait: float  # fraction that waited > 0
    asa_s: float  # mean wait of answered contacts
    service_level: float  # fraction answered within target_s
    occupancy: float  # busy agent-seconds / available agent-seconds in the window
    max_wait_s: float
    decisions: int  # decisions the ACD returned during the whole run


def simulate(
    arrival_rate: float,
    mean_handle_s: float,
    agents: int,
    duration_s: float,
    seed: int,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    warmup_s: float | None = None,
    target_s: float = 20.0,
    channel: Channel = Channel.VOICE,
) -> SimResult:
    if arrival_rate <= 0 or mean_handle_s <= 0 or agents <= 0 or duration_s <= 0:
        raise ValueError("arrival_rate, mean_handle_s, agents and duration_s must be > 0")
    if warmup_s is None:
        warmup_s = min(duration_s * 0.1, 50 * mean_handle_s)
    if not 0 <= warmup_s < duration_s:
        raise ValueError("warmup_s must be in [0, duration_s)")
    rng = random.Random(seed)
    acd = Acd(seed=seed)
    ids = [f"a{i}" for i in range(agents)]
    cap = {ch: 0 for ch in Channel}
    cap[channel] = 1
    acd.configure_queue(
        QueueConfig(id="q", name="sim", strategy=strategy, members=tuple(ids),
                    offer_timeout_s=1e9, service_level_s=target_s)
    )
    for aid in ids:
        acd.configure_agent(AgentConfig(id=aid, capacity=cap))
        acd.login(aid, 0.0)
        acd.set_ready(aid, 0.0)

    arrived_at: dict[str, float] = {}
    waits: list[float] = []
    busy_s = 0.0
    decisions = 0
    events: list[tuple[float, int, str]] = []  # (time, seq, contact id to release)
    seq = 0

    def handle(out: list[Decision], now: float) -> None:
        nonlocal decisions, busy_s, seq
        pending = list(out)
        while pending:
            d = pending.pop(0)
            decisions += 1
            if isinstance(d, Offer):
                pending.extend(acd.accept(d.contact_id, d.agent_id, now))
            elif isinstance(d, Assigned):
                t0 = arrived_at.pop(d.contact_id)
                end = now + rng.expovariate(1.0 / mean_handle_s)
                if t0 >= warmup_s:
                    waits.append(d.waited_s)
                # busy time inside the measurement window
                lo, hi = max(now, warmup_s), min(end, duration_s)
                if hi > lo:
                    busy_s += hi - lo
                seq += 1
                heapq.heappush(events, (end, seq, d.contact_id))

    now = 0.0
    next_arrival = rng.expovariate(arrival_rate)
    n = 0
    offered = 0
    while True:
        t_release = events[0][0] if events else math.inf
        if next_arrival <= t_release:
            now = next_arrival
            if now >= duration_s:
                break
            n += 1
            cid = f"c{n}"
            arrived_at[cid] = now
            if now >= warmup_s:
                offered += 1
            handle(acd.enqueue(ContactRequest(id=cid, channel=channel, queue_id="q"), now), now)
            next_arrival = now + rng.expovariate(arrival_rate)
        else:
            now, _s, cid = heapq.heappop(events)
            if now >= duration_s:
                break
            handle(acd.release(cid, now), now)
    answered = len(waits)
    window = duration_s - warmup_s
    return SimResult(
        offered=offered,
        answered=answered,
        prob_wait=sum(1 for w in waits if w > 0) / answered if answered else 0.0,
        asa_s=sum(waits) / answered if answered else 0.0,
        service_level=sum(1 for w in waits if w <= target_s) / answered if answered else 0.0,
        occupancy=busy_s / (agents * window),
        max_wait_s=max(waits, default=0.0),
        decisions=decisions,
    )
