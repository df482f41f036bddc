"""Internal routing core of the ACD: indexes, routing passes, timers.

The public API is :class:`hub.acd.engine.Acd`, which inherits this class.
"""

from __future__ import annotations

import heapq
import itertools
import random

from hub.acd.decisions import (
    AgentState,
    AgentStateChanged,
    Decision,
    NoAnswer,
    Offer,
    OfferRevoked,
    Overflowed,
    OverflowReason,
    QueueStateChanged,
    Released,
    RevokeReason,
)
from hub.acd.errors import UnknownAgent, UnknownContact, UnknownQueue
from hub.acd.model import OverflowTarget, Strategy
from hub.acd.records import (
    ASSIGNED,
    HELD,
    LIMBO,
    OFFERED,
    WAITING,
    AgentRec,
    ClassHeap,
    ContactRec,
    QueueRec,
    merged_requirements,
    relaxed_requirements,
    select_agents,
    steps_due,
)

_REJECT = OverflowTarget("reject")

# deadline kinds
_K_OFFER = 0
_K_STEP = 1
_K_MAXWAIT = 2
_K_HOLD = 3
_K_WRAPUP = 4
_K_CALENDAR = 5


class AcdCore:
    """State and internal operations shared by the public :class:`Acd` methods."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._queues: dict[str, QueueRec] = {}
        self._agents: dict[str, AgentRec] = {}
        self._contacts: dict[str, ContactRec] = {}
        self._agent_queues: dict[str, dict[str, None]] = {}  # agent id -> queues it is member of
        self._deadlines: list[tuple[float, int, int, str, str | None, int]] = []
        self._gen = itertools.count()
        self._clock = float("-inf")
        self._cal_pending: set[str] = set()

    # ------------------------------------------------------------------ internals: lookups
    def _tick_clock(self, now: float | None) -> float:
        if now is None:
            return self._clock if self._clock != float("-inf") else 0.0
        if now > self._clock:
            self._clock = now
        return now

    def _agent(self, agent_id: str) -> AgentRec:
        rec = self._agents.get(agent_id)
        if rec is None:
            raise UnknownAgent(f"unknown agent {agent_id!r}", agent_id=agent_id)
        return rec

    def _queue(self, queue_id: str) -> QueueRec:
        rec = self._queues.get(queue_id)
        if rec is None:
            raise UnknownQueue(f"unknown queue {queue_id!r}", queue_id=queue_id)
        return rec

    def _contact(self, contact_id: str) -> ContactRec:
        rec = self._contacts.get(contact_id)
        if rec is None:
            raise UnknownContact(f"unknown contact {contact_id!r}", contact_id=contact_id)
        return rec

    def _push_deadline(self, t: float, kind: int, key: str, key2: str | None, token: int) -> None:
        heapq.heappush(self._deadlines, (t, next(self._gen), kind, key, key2, token))

    def _deadline_live(self, entry: tuple[float, int, int, str, str | None, int]) -> bool:
        _t, _seq, kind, key, key2, token = entry
        if kind == _K_OFFER:
            c = self._contacts.get(key)
            return c is not None and c.offers.get(key2, (0.0, -1))[1] == token  # type: ignore[arg-type]  # offer: key2 set
        if kind in (_K_STEP, _K_MAXWAIT):
            c = self._contacts.get(key)
            return c is not None and c.life == token and c.state != ASSIGNED
        if kind == _K_HOLD:
            c = self._contacts.get(key)
            return c is not None and c.hold_token == token and c.hold_agent is not None
        if kind == _K_WRAPUP:
            a = self._agents.get(key)
            return a is not None and a.wrap_token == token and a.state is AgentState.WRAP_UP
        q = self._queues.get(key)
        return q is not None and q.cal_token == token

    # ------------------------------------------------------------------ internals: agents
    def _refresh(self, a: AgentRec) -> None:
        """Recompute the channels with a free slot and update the per-queue free indexes."""
        new = a.compute_avail()
        old = a.avail
        if new == old:
            return
        a.avail = new
        queues = self._agent_queues.get(a.id)
        if not queues:
            return
        added = new - old
        removed = old - new
        for qid in queues:
            q = self._queues.get(qid)
            if q is None:
                continue
            for ch in added:
                q.free[ch][a.id] = None
            for ch in removed:
                q.free[ch].pop(a.id, None)

    def _set_state(
        self, a: AgentRec, state: AgentState, reason: str | None, now: float, out: list[Decision]
    ) -> None:
        was_ready = a.state is AgentState.READY
        a.state = state
        a.reason = reason
        a.since = now
        if state is AgentState.READY and not was_ready:
            a.idle_since = now
        if state is not AgentState.WRAP_UP:
            a.wrap_token = -1
        out.append(AgentStateChanged(a.id, state, reason, now))
        self._refresh(a)
        if state in (AgentState.NOT_READY, AgentState.LOGGED_OUT) and a.offers:
            withdrawn = [self._contacts[cid] for cid in a.offers]
            for c in withdrawn:
                del c.offers[a.id]
                self._drop_offer(c, a, "withdrawn", out)
            self._refresh(a)
            for c in withdrawn:
                if not c.offers:
                    self._back_to_queue(c, now, out)

    def _start_wrapup(self, a: AgentRec, until: float, now: float, out: list[Decision]) -> None:
        if a.state is not AgentState.WRAP_UP:
            self._set_state(a, AgentState.WRAP_UP, None, now, out)
        a.wrap_token = next(self._gen)
        self._push_deadline(until, _K_WRAPUP, a.id, None, a.wrap_token)

    def _drop_offer(
        self, c: ContactRec, a: AgentRec, reason: RevokeReason, out: list[Decision]
    ) -> None:
        """Undo an offer on the agent side (caller removes it from ``c.offers``)."""
        del a.offers[c.id]
        a.load[c.channel] -= 1
        a.total -= 1
        out.append(OfferRevoked(c.id, a.id, reason))

    def _unassign(self, c: ContactRec, now: float, out: list[Decision]) -> AgentRec:
        agent = self._agents[c.agent_id]  # type: ignore[index]  # assigned: agent_id set
        del agent.assigned[c.id]
        agent.load[c.channel] -= 1
        agent.total -= 1
        handled = now - c.assigned_at
        agent.talk_today += handled
        agent.idle_since = now
        out.append(Released(c.id, agent.id, c.queue_id, handled))
        return agent

    def _route_agent(self, a: AgentRec, now: float, out: list[Decision]) -> None:
        """Offer the best waiting contacts to an agent that may have free slots.

        Contacts held for the agent come first; then one pass over the class heaps of the
        agent's queues collects the best head of every class the agent qualifies for, and
        a small heap of those heads is drained while the agent has free slots.
        """
        while a.avail and a.held:
            best: ContactRec | None = None
            for cid in a.held:
                c = self._contacts[cid]
                if c.channel in a.avail and (best is None or c.order_key() < best.order_key()):
                    best = c
            if best is None:
                break
            self._unwait(best)
            self._offer(best, a, self._queues[best.queue_id], now, out)
        while a.avail:
            best = None
            best_key: tuple[int, float, int] | None = None
            for qid in self._agent_queues.get(a.id, ()):
                q = self._queues.get(qid)
                if q is None or not q.classes:
                    continue
                found, key = self._best_in_queue(q, a, best_key)
                if found is not None:
                    best, best_key = found, key
            if best is None:
                return
            self._unwait(best)
            self._offer_from_queue(best, a, now, out)

    def _best_in_queue(
        self, q: QueueRec, a: AgentRec, best_key: tuple[int, float, int] | None
    ) -> tuple[ContactRec | None, tuple[int, float, int] | None]:
        """Best contact of ``q`` for agent ``a`` if better than ``best_key``.

        Walks the queue's class index in head order and stops at the first class the
        agent qualifies for (or at ``best_key``): typically a couple of heap operations.
        """
        index = q.index
        classes = q.classes
        avail = a.avail
        aid = a.id
        skills = a.cfg.skills
        aside = []
        best = None
        while index:
            entry = index[0]
            ekey = (entry[0], entry[1], entry[2])
            if best_key is not None and ekey >= best_key:
                break
            cls = entry[4]
            if classes.get(cls.key) is not cls or cls.indexed != ekey:
                heapq.heappop(index)  # stale
                continue
            head = cls.head()
            if head is None:  # pragma: no cover - a live class always has a head
                heapq.heappop(index)
                continue
            hkey = (-head.prio, head.enqueued_at, head.seq)
            if hkey != ekey:  # the head moved on: re-index at its real key
                heapq.heappop(index)
                cls.indexed = hkey
                heapq.heappush(index, (hkey[0], hkey[1], hkey[2], next(self._gen), cls))
                continue
            aside.append(heapq.heappop(index))
            if cls.channel not in avail:
                continue
            for name, level in cls.req_items:
                if skills.get(name, -1) < level:
                    break
            else:
                c = head if aid not in head.tried else cls.head_for(aid)
                if c is not None:
                    ckey = (-c.prio, c.enqueued_at, c.seq)
                    if best_key is None or ckey < best_key:
                        best, best_key = c, ckey
        for entry in aside:
            heapq.heappush(index, entry)
        return best, best_key

    def _offer_from_queue(
        self, c: ContactRec, a: AgentRec, now: float, out: list[Decision]
    ) -> None:
        """Offer a queued contact picked by a freed agent; RING_ALL also rings the others."""
        q = self._queues[c.queue_id]
        self._offer(c, a, q, now, out)
        if q.cfg.strategy is Strategy.RING_ALL:
            agents = self._agents
            for aid in list(q.free[c.channel]):
                other = agents[aid]
                if aid not in c.tried and aid not in c.offers and other.qualifies(c.reqs):
                    self._offer(c, other, q, now, out)

    # ------------------------------------------------------------------ internals: contacts
    def _admit(
        self,
        c: ContactRec,
        q: QueueRec,
        enqueued_at: float,
        now: float,
        out: list[Decision],
        visited: set[str],
        affinity: bool = False,
        direct_agent: str | None = None,
    ) -> None:
        """Put a contact (state LIMBO, registered in ``_contacts``) into queue ``q``."""
        cfg = q.cfg
        c.queue_id = q.id
        c.prio = c.req.priority + (cfg.vip_priority_boost if c.req.vip else 0)
        c.enqueued_at = enqueued_at
        c.life = next(self._gen)
        c.hold_agent = None
        if cfg.calendar is not None and not cfg.calendar.is_open(now):
            self._overflow(c, q, cfg.closed_target, "closed", now, out, visited)
            return
        if cfg.max_length is not None and len(q.contacts) >= cfg.max_length:
            self._overflow(c, q, cfg.overflow, "max_length", now, out, visited)
            return
        q.contacts[c.id] = None
        c.base_reqs = merged_requirements(cfg, c.req)
        c.reqs = relaxed_requirements(c.base_reqs, cfg, steps_due(cfg, enqueued_at, now))
        self._schedule_contact_timers(c, q)
        hold_for, hold_s = None, 0.0
        if direct_agent is not None:
            hold_for, hold_s = direct_agent, cfg.owner_wait_s
        elif affinity:
            owner = self._logged_in(c.req.owner_agent_id)
            last = self._logged_in(c.req.last_agent_id)
            if owner is not None:
                hold_for, hold_s = owner.id, cfg.owner_wait_s
            elif last is not None:
                hold_for, hold_s = last.id, cfg.sticky_wait_s
        if hold_for is not None:
            a = self._agents[hold_for]
            if c.channel in a.avail:
                self._offer(c, a, q, now, out)
                return
            until = enqueued_at + hold_s if affinity else now + hold_s
            if a.state is not AgentState.LOGGED_OUT and until > now:
                c.hold_agent = hold_for
                c.hold_token = next(self._gen)
                self._push_deadline(until, _K_HOLD, c.id, None, c.hold_token)
        self._route_contact(c, now, out)

    def _logged_in(self, agent_id: str | None) -> AgentRec | None:
        if agent_id is None:
            return None
        a = self._agents.get(agent_id)
        if a is None or a.state is AgentState.LOGGED_OUT:
            return None
        return a

    def _schedule_contact_timers(self, c: ContactRec, q: QueueRec) -> None:
        cfg = q.cfg
        for i, step in enumerate(cfg.overflow_steps):
            t = c.enqueued_at + step.after_s
            if t > self._clock:
                self._push_deadline(t, _K_STEP, c.id, str(i), c.life)
        if cfg.max_wait_s is not None:
            self._push_deadline(c.enqueued_at + cfg.max_wait_s, _K_MAXWAIT, c.id, None, c.life)

    def _route_contact(self, c: ContactRec, now: float, out: list[Decision]) -> None:
        """Offer a LIMBO contact to the right agent(s) or park it (held or waiting)."""
        q = self._queues[c.queue_id]
        if c.hold_agent is not None:
            a = self._agents.get(c.hold_agent)
            if a is not None and c.channel in a.avail:
                self._offer(c, a, q, now, out)
                return
            if a is not None and a.state is not AgentState.LOGGED_OUT:
                c.state = HELD
                a.held[c.id] = None
                return
            c.hold_agent = None
        free = q.free[c.channel]
        if free:
            agents = self._agents
            tried = c.tried
            reqs = c.reqs
            cands = [
                cand
                for aid in free
                if aid not in tried and (cand := agents[aid]).qualifies(reqs)
            ]
            if cands:
                for a in select_agents(q, cands, reqs, self._rng):
                    self._offer(c, a, q, now, out)
                return
        self._park(c, q)

    def _park(self, c: ContactRec, q: QueueRec) -> None:
        key = (c.channel, tuple(sorted(c.reqs.items())))
        cls = q.classes.get(key)
        if cls is None:
            cls = q.classes[key] = ClassHeap(key, c.channel, dict(c.reqs))
        c.state = WAITING
        c.class_key = key
        c.token = next(self._gen)
        okey = (-c.prio, c.enqueued_at, c.seq)
        heapq.heappush(cls.heap, (okey[0], okey[1], okey[2], c.token, c))
        cls.live += 1
        if cls.indexed is None or okey < cls.indexed:
            cls.indexed = okey
            heapq.heappush(q.index, (okey[0], okey[1], okey[2], next(self._gen), cls))

    def _unwait(self, c: ContactRec) -> None:
        """Take a WAITING or HELD contact out of its waiting structure (state -> LIMBO)."""
        if c.state == WAITING:
            q = self._queues[c.queue_id]
            cls = q.classes[c.class_key]  # type: ignore[index]  # WAITING: class_key set
            cls.live -= 1
            if cls.live == 0:
                del q.classes[c.class_key]  # type: ignore[arg-type]  # WAITING: class_key set
            c.token = -1
            c.class_key = None
            c.state = LIMBO
        elif c.state == HELD:
            a = self._agents[c.hold_agent]  # type: ignore[index]  # HELD: hold_agent set
            del a.held[c.id]
            c.state = LIMBO

    def _offer(
        self, c: ContactRec, a: AgentRec, q: QueueRec, now: float, out: list[Decision]
    ) -> None:
        expires = now + q.cfg.offer_timeout_s
        token = next(self._gen)
        c.offers[a.id] = (expires, token)
        c.state = OFFERED
        a.offers[c.id] = None
        a.load[c.channel] += 1
        a.total += 1
        self._refresh(a)
        self._push_deadline(expires, _K_OFFER, c.id, a.id, token)
        out.append(Offer(c.id, a.id, q.id, expires))

    def _back_to_queue(self, c: ContactRec, now: float, out: list[Decision]) -> None:
        """An OFFERED contact lost its last offer: back at its place (original enqueue time)."""
        c.state = LIMBO
        q = self._queues[c.queue_id]
        cfg = q.cfg
        if cfg.max_wait_s is not None and now >= c.enqueued_at + cfg.max_wait_s:
            q.contacts.pop(c.id, None)
            self._overflow(c, q, cfg.overflow, "max_wait", now, out, set())
            return
        if c.tried:
            self._maybe_reset_tried(c, q)
        self._route_contact(c, now, out)

    def _maybe_reset_tried(self, c: ContactRec, q: QueueRec) -> None:
        """Tried agents are skipped until every other logged-in qualified member was tried."""
        for aid in q.cfg.members:
            if aid in c.tried:
                continue
            a = self._agents.get(aid)
            if a is not None and a.state is not AgentState.LOGGED_OUT and a.qualifies(c.reqs):
                return
        c.tried.clear()

    def _overflow(
        self,
        c: ContactRec,
        q: QueueRec,
        target: OverflowTarget | None,
        reason: OverflowReason,
        now: float,
        out: list[Decision],
        visited: set[str],
    ) -> None:
        """Send a LIMBO contact (not in ``q.contacts``) out of queue ``q``."""
        tgt = target if target is not None else _REJECT
        dest = None
        if tgt.kind == "queue":
            dest = self._queues.get(tgt.queue_id)  # type: ignore[arg-type]  # kind "queue": queue_id set
            if dest is None or dest.id in visited or dest.id == q.id:
                tgt, dest = _REJECT, None
        out.append(Overflowed(c.id, q.id, tgt, reason))
        if dest is None:
            self._forget(c)
            return
        c.tried = set()
        self._admit(c, dest, now, now, out, visited | {q.id})

    def _forget(self, c: ContactRec) -> None:
        q = self._queues.get(c.queue_id)
        if q is not None:
            q.contacts.pop(c.id, None)
        self._contacts.pop(c.id, None)
        c.state = LIMBO
        c.life = -1

    # ------------------------------------------------------------------ internals: timers
    def _on_offer_timeout(
        self, cid: str, aid: str | None, token: int, now: float, out: list[Decision]
    ) -> None:
        c = self._contacts.get(cid)
        if c is None or aid is None or c.offers.get(aid, (0.0, -1))[1] != token:
            return
        a = self._agents[aid]
        del c.offers[aid]
        self._drop_offer(c, a, "timeout", out)
        out.append(NoAnswer(cid, aid))
        c.tried.add(aid)
        if c.hold_agent == aid:
            c.hold_agent = None
        q = self._queues[c.queue_id]
        if q.cfg.noanswer_sets_not_ready and a.state is AgentState.READY:
            self._set_state(a, AgentState.NOT_READY, "no_answer", now, out)
        else:
            self._refresh(a)
        if not c.offers:
            self._back_to_queue(c, now, out)
        self._route_agent(a, now, out)

    def _on_step(self, cid: str, token: int, now: float, out: list[Decision]) -> None:
        c = self._contacts.get(cid)
        if c is None or c.life != token or c.state == ASSIGNED:
            return
        q = self._queues[c.queue_id]
        reqs = relaxed_requirements(c.base_reqs, q.cfg, steps_due(q.cfg, c.enqueued_at, now))
        if reqs == c.reqs:
            return
        c.reqs = reqs
        if c.state == WAITING:
            self._unwait(c)
            if c.tried:
                self._maybe_reset_tried(c, q)
            self._route_contact(c, now, out)

    def _on_max_wait(self, cid: str, token: int, now: float, out: list[Decision]) -> None:
        c = self._contacts.get(cid)
        if c is None or c.life != token or c.state not in (WAITING, HELD):
            return  # offered contacts are checked when they come back to the queue
        q = self._queues[c.queue_id]
        self._unwait(c)
        q.contacts.pop(c.id, None)
        self._overflow(c, q, q.cfg.overflow, "max_wait", now, out, set())

    def _on_hold_expired(self, cid: str, token: int, now: float, out: list[Decision]) -> None:
        c = self._contacts.get(cid)
        if c is None or c.hold_token != token or c.hold_agent is None:
            return
        if c.state == HELD:
            self._unwait(c)
            c.hold_agent = None
            self._route_contact(c, now, out)
        elif c.state == OFFERED:
            c.hold_agent = None  # ringing the held-for agent: if it fails, any agent

    def _on_wrapup_end(self, aid: str, token: int, now: float, out: list[Decision]) -> None:
        a = self._agents.get(aid)
        if a is None or a.wrap_token != token or a.state is not AgentState.WRAP_UP:
            return
        self._set_state(a, AgentState.READY, None, now, out)
        self._route_agent(a, now, out)

    def _schedule_calendars(self, now: float) -> None:
        for qid in self._cal_pending:
            q = self._queues[qid]
            cal = q.cfg.calendar
            if cal is None:
                continue
            q.open = cal.is_open(now)
            nxt = cal.next_change(now)
            if nxt is not None:
                self._push_deadline(nxt, _K_CALENDAR, qid, None, q.cal_token)
        self._cal_pending.clear()

    def _on_calendar(self, qid: str, token: int, now: float, out: list[Decision]) -> None:
        q = self._queues.get(qid)
        if q is None or q.cal_token != token or q.cfg.calendar is None:
            return
        cal = q.cfg.calendar
        is_open = cal.is_open(now)
        if is_open != q.open:
            q.open = is_open
            out.append(QueueStateChanged(qid, is_open, now))
        nxt = cal.next_change(now)
        if nxt is not None:
            self._push_deadline(nxt, _K_CALENDAR, qid, None, q.cal_token)
