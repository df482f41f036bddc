"""Mutable internal records of the engine and the agent-selection strategies.

Internal: the public API is :class:`hub.acd.engine.Acd`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping

from hub.acd.decisions import AgentState
from hub.acd.model import AgentConfig, Channel, ContactRequest, QueueConfig, Strategy

CHANNELS: tuple[Channel, ...] = tuple(Channel)
# a class of waiting contacts: their channel and sorted skill requirements
ClassKey = tuple[Channel, tuple[tuple[str, int], ...]]

# contact states
LIMBO = "limbo"  # being routed right now (transient, never visible outside a call)
WAITING = "waiting"  # in a class heap of its queue
HELD = "held"  # waiting for one agent (owner / sticky / direct transfer)
OFFERED = "offered"
ASSIGNED = "assigned"


class AgentRec:
    __slots__ = (
        "cfg",
        "id",
        "seq",
        "state",
        "reason",
        "since",
        "load",
        "total",
        "offers",
        "assigned",
        "held",
        "avail",
        "idle_since",
        "talk_today",
        "handled_today",
        "wrap_token",
        "occupied",
    )

    def __init__(self, cfg: AgentConfig, seq: int) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.seq = seq
        self.state = AgentState.LOGGED_OUT
        self.reason: str | None = None
        self.since: float | None = None
        self.load: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self.total = 0
        self.offers: dict[str, None] = {}
        self.assigned: dict[str, None] = {}
        self.held: dict[str, None] = {}
        self.avail: frozenset[Channel] = frozenset()
        self.idle_since = 0.0
        self.talk_today = 0.0
        self.handled_today = 0
        self.wrap_token = -1
        # work outside the ACD that takes a slot (a consultation call): key -> channel
        self.occupied: dict[str, Channel] = {}

    def compute_avail(self) -> frozenset[Channel]:
        if self.state is not AgentState.READY:
            return frozenset()
        cap = self.cfg.capacity
        load = self.load
        if self.occupied:
            load = dict(load)
            for ch in self.occupied.values():
                load[ch] += 1
        if load[Channel.VOICE] > 0 and self.cfg.voice_blocks_other_channels:
            return frozenset((Channel.VOICE,)) if load[Channel.VOICE] < cap.get(
                Channel.VOICE, 0
            ) else frozenset()
        return frozenset(ch for ch in CHANNELS if load[ch] < cap.get(ch, 0))

    def qualifies(self, reqs: Mapping[str, int]) -> bool:
        skills = self.cfg.skills
        for name, level in reqs.items():
            have = skills.get(name)
            if have is None or have < level:
                return False
        return True


class ClassHeap:
    """Waiting contacts of one queue sharing channel and effective skill requirements."""

    __slots__ = ("key", "channel", "reqs", "req_items", "heap", "live", "indexed")

    def __init__(self, key: ClassKey, channel: Channel, reqs: dict[str, int]) -> None:
        self.key = key
        # order key of this class's entry in the queue index (<= its head's key)
        self.indexed: tuple[int, float, int] | None = None
        self.channel = channel
        self.reqs = reqs
        self.req_items = tuple(reqs.items())
        self.heap: list[tuple[int, float, int, int, ContactRec]] = []
        self.live = 0

    def head(self) -> ContactRec | None:
        """The first valid contact (lazy deletion of stale entries)."""
        heap = self.heap
        while heap:
            entry = heap[0]
            if entry[4].token == entry[3]:
                return entry[4]
            heapq.heappop(heap)
        return None

    def head_for(self, agent_id: str) -> ContactRec | None:
        """The first valid contact that has not excluded ``agent_id`` (lazy deletion)."""
        heap = self.heap
        aside = []
        found = None
        while heap:
            entry = heap[0]
            c = entry[4]
            if c.token != entry[3]:
                heapq.heappop(heap)
                continue
            if agent_id in c.tried:
                aside.append(heapq.heappop(heap))
                continue
            found = c
            break
        for entry in aside:
            heapq.heappush(heap, entry)
        return found


class QueueRec:
    __slots__ = ("cfg", "id", "members_index", "free", "classes", "index", "contacts", "rr_pos",
                 "cal_token", "open")

    def __init__(self, cfg: QueueConfig) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.members_index: dict[str, int] = {a: i for i, a in enumerate(cfg.members)}
        self.free: dict[Channel, dict[str, None]] = {ch: {} for ch in CHANNELS}
        self.classes: dict[ClassKey, ClassHeap] = {}
        # classes ordered by the key of their head contact (lazy: stale entries skipped)
        self.index: list[tuple[int, float, int, int, ClassHeap]] = []
        self.contacts: dict[str, None] = {}  # not yet assigned contacts of this queue
        self.rr_pos = 0
        self.cal_token = -1
        self.open: bool | None = None


class ContactRec:
    __slots__ = (
        "req",
        "id",
        "channel",
        "queue_id",
        "prio",
        "enqueued_at",
        "seq",
        "state",
        "token",
        "class_key",
        "offers",
        "tried",
        "hold_agent",
        "hold_token",
        "base_reqs",
        "reqs",
        "life",
        "agent_id",
        "assigned_at",
    )

    def __init__(self, req: ContactRequest, seq: int) -> None:
        self.req = req
        self.id = req.id
        self.channel = req.channel
        self.queue_id = req.queue_id
        self.prio = req.priority
        self.enqueued_at = 0.0
        self.seq = seq
        self.state = LIMBO
        self.token = -1
        self.class_key: ClassKey | None = None
        self.offers: dict[str, tuple[float, int]] = {}
        self.tried: set[str] = set()
        self.hold_agent: str | None = None
        self.hold_token = -1
        self.base_reqs: dict[str, int] = {}
        self.reqs: dict[str, int] = {}
        self.life = -1
        self.agent_id: str | None = None
        self.assigned_at = 0.0

    def order_key(self) -> tuple[int, float, int]:
        return (-self.prio, self.enqueued_at, self.seq)


def merged_requirements(q: QueueConfig, req: ContactRequest) -> dict[str, int]:
    merged = dict(q.required_skills)
    for name, level in req.required_skills.items():
        merged[name] = max(merged.get(name, level), level)
    return merged


def relaxed_requirements(base: dict[str, int], q: QueueConfig, steps: int) -> dict[str, int]:
    if steps <= 0:
        return base
    drop: set[str] = set()
    delta = 0
    for step in q.overflow_steps[:steps]:
        drop |= step.relax_skills
        delta += step.level_delta
    return {name: max(0, level - delta) for name, level in base.items() if name not in drop}


def steps_due(q: QueueConfig, enqueued_at: float, now: float) -> int:
    return sum(1 for s in q.overflow_steps if enqueued_at + s.after_s <= now)


def select_agents(
    q: QueueRec, cands: list[AgentRec], reqs: Mapping[str, int], rng: random.Random
) -> list[AgentRec]:
    """Pick among free, qualified candidates according to the queue's strategy (ACD-1)."""
    strategy = q.cfg.strategy
    if strategy is Strategy.RING_ALL:
        return cands
    if len(cands) == 1:
        chosen = cands[0]
    elif strategy is Strategy.LONGEST_IDLE:
        chosen = min(cands, key=lambda a: (a.total > 0, a.idle_since, a.seq))
    elif strategy is Strategy.ROUND_ROBIN:
        idx = q.members_index
        n = max(len(idx), 1)
        pos = q.rr_pos
        chosen = min(cands, key=lambda a: ((idx.get(a.id, n) - pos) % (n + 1), a.seq))
    elif strategy is Strategy.LEAST_TALK_TIME:
        chosen = min(cands, key=lambda a: (a.talk_today, a.idle_since, a.seq))
    elif strategy is Strategy.FEWEST_CONTACTS:
        chosen = min(cands, key=lambda a: (a.handled_today, a.idle_since, a.seq))
    elif strategy is Strategy.LINEAR:
        idx = q.members_index
        chosen = min(cands, key=lambda a: (idx.get(a.id, len(idx)), a.seq))
    elif strategy is Strategy.RANDOM:
        chosen = rng.choice(sorted(cands, key=lambda a: a.seq))
    elif strategy is Strategy.SKILLS_BEST_MATCH:

        def score(a: AgentRec) -> tuple[int, float, int]:
            skills = a.cfg.skills
            return (-sum(skills.get(s, 0) for s in reqs), a.idle_since, a.seq)

        chosen = min(cands, key=score)
    else:  # pragma: no cover - exhaustive over Strategy
        raise AssertionError(strategy)
    if strategy is Strategy.ROUND_ROBIN and chosen.id in q.members_index:
        q.rr_pos = (q.members_index[chosen.id] + 1) % max(len(q.members_index), 1)
    return [chosen]
