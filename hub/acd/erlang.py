"""Erlang B / Erlang C staffing formulas (RPT-2), numerically stable (no factorials)."""

from __future__ import annotations

import math


def _check_agents(agents: int) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError(f"agents must be an int >= 0, got {agents!r}")


def _check_traffic(traffic: float) -> None:
    if not math.isfinite(traffic) or traffic < 0:
        raise ValueError(f"traffic must be a finite number >= 0 Erlang, got {traffic!r}")


def _traffic(arrival_rate: float, aht: float) -> float:
    if not math.isfinite(arrival_rate) or arrival_rate < 0:
        raise ValueError(f"arrival_rate must be >= 0 per second, got {arrival_rate!r}")
    if not math.isfinite(aht) or aht <= 0:
        raise ValueError(f"aht must be > 0 seconds, got {aht!r}")
    return arrival_rate * aht


def erlang_b(traffic_erlangs: float, agents: int) -> float:
    """Blocking probability of M/M/N/N by the recurrence B(k) = A B(k-1) / (k + A B(k-1))."""
    _check_traffic(traffic_erlangs)
    _check_agents(agents)
    b = 1.0
    for k in range(1, agents + 1):
        ab = traffic_erlangs * b
        b = ab / (k + ab)
    return b


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """Probability that a contact has to wait (M/M/N). 1.0 when traffic >= agents."""
    _check_traffic(traffic_erlangs)
    _check_agents(agents)
    if traffic_erlangs == 0:
        return 0.0
    if traffic_erlangs >= agents:
        return 1.0
    b = erlang_b(traffic_erlangs, agents)
    return agents * b / (agents - traffic_erlangs * (1 - b))


def average_speed_of_answer(arrival_rate: float, aht: float, agents: int) -> float:
    """Mean wait (seconds) over all contacts; ``inf`` when the queue is unstable."""
    a = _traffic(arrival_rate, aht)
    _check_agents(agents)
    if a >= agents:
        return math.inf
    return erlang_c(a, agents) * aht / (agents - a)


def service_level(arrival_rate: float, aht: float, agents: int, target_s: float) -> float:
    """Fraction of contacts answered within ``target_s`` seconds."""
    a = _traffic(arrival_rate, aht)
    _check_agents(agents)
    if not math.isfinite(target_s) or target_s < 0:
        raise ValueError(f"target_s must be >= 0 seconds, got {target_s!r}")
    if a >= agents:
        return 0.0
    return max(0.0, 1.0 - erlang_c(a, agents) * math.exp(-(agents - a) * target_s / aht))


def agents_required(
    arrival_rate: float,
    aht: float,
    target_s: float,
    target_sl: float,
    max_occupancy: float | None = None,
) -> int:
    """Fewest agents reaching ``target_sl`` within ``target_s`` (and occupancy cap if given)."""
    a = _traffic(arrival_rate, aht)
    if not 0 < target_sl < 1:
        raise ValueError(f"target_sl must be in (0, 1), got {target_sl!r}")
    if not math.isfinite(target_s) or target_s < 0:
        raise ValueError(f"target_s must be >= 0 seconds, got {target_s!r}")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if a == 0:
        return 0
    n = max(1, math.floor(a) + 1)
    if max_occupancy is not None:
        n = max(n, math.ceil(a / max_occupancy - 1e-12))
    limit = n + 100_000
    while n < limit:
        if service_level(arrival_rate, aht, n, target_s) >= target_sl:
            return n
        n += 1
    raise ValueError("no staffing level found (traffic too large)")  # pragma: no cover
