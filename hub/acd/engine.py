"""The Automatic Call Distributor: pure decision code on an injected clock.

Every public call takes ``now`` (seconds, epoch or virtual) and returns a list of typed
decisions (:mod:`hub.acd.decisions`). Nothing here does I/O or reads the wall clock.

Design (see also ``hub/acd/README.md``):

* per queue, waiting contacts live in small heaps grouped by (channel, effective skill
  requirements) ordered by (priority + VIP boost desc, enqueue time asc, arrival seq);
* per queue and channel, an ordered set of member agents that have a free slot right now;
* a contact that arrives looks only at the free agents of its queue; an agent that frees up
  looks only at the contacts held for it and at the heads of the heaps of its queues;
* every timer (offer expiry, overflow steps, max wait, owner/sticky hold, wrap-up, calendar)
  is one entry in a single deadline heap with lazy deletion (tokens).

Rules chosen where the brief left room (all tested):

* ``set_not_ready`` and ``logout`` withdraw the agent's pending offers (contacts go back to
  their place at the head); assigned contacts stay with the agent until released.
* A transfer releases the contact from the agent *without* wrap-up; the contact re-enters the
  target queue with enqueue time = now and its priority; the transferring agent is not offered
  it again until every other qualified member has been tried.
* When a calendar closes a queue, contacts already waiting stay and are still served (their
  max wait still applies); only new arrivals are sent to ``closed_target``.
* Overflow to another queue re-enters that queue with enqueue time = now (its own max wait
  starts again); owner/sticky holds are not re-applied. A target queue that is unknown, or a
  loop back to a queue already visited in the same instant, becomes ``reject``.
* ``waited_s`` in ``Assigned``/``Abandoned`` is measured from the enqueue time in the current
  queue (kept across no-answer/reject, restarted by transfer/overflow).
* Owner/sticky holds apply only when that agent is logged in; held contacts count as waiting.
"""

from __future__ import annotations

import heapq
import itertools
import random

from hub.acd.decisions import (
    Abandoned,
    AgentState,
    AgentStateChanged,
    Assigned,
    Decision,
    NoAnswer,
    Offer,
    OfferRevoked,
    Overflowed,
    QueueStateChanged,
    Released,
    RevokeReason,
)
from hub.acd.errors import InvalidState, OfferNotFound, UnknownAgent, UnknownContact, UnknownQueue
from hub.acd.model import (
    AgentConfig,
    Channel,
    ContactRequest,
    OverflowTarget,
    QueueConfig,
    Strategy,
)
from hub.acd.records import (
    ASSIGNED,
    CHANNELS,
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
from hub.acd.snapshots import AgentSnapshot, ContactLocation, QueueSnapshot, WaitingContact

_REJECT = OverflowTarget("reject")

# deadline kinds
_K_OFFER = 0
_K_STEP = 1
_K_MAXWAIT = 2
_K_HOLD = 3
_K_WRAPUP = 4
_K_CALENDAR = 5


class Acd:
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

    # ------------------------------------------------------------------ configuration
    def configure_queue(self, q: QueueConfig, now: float | None = None) -> list[Decision]:
        """Add or update a queue. Routing triggered by the change uses ``now`` (or the last
        time seen by the engine when omitted)."""
        now = self._tick_clock(now)
        out: list[Decision] = []
        rec = self._queues.get(q.id)
        if rec is None:
            rec = QueueRec(q)
            self._queues[q.id] = rec
            old_members: tuple[str, ...] = ()
        else:
            old_members = rec.cfg.members
            rec.cfg = q
            rec.members_index = {a: i for i, a in enumerate(q.members)}
            rec.rr_pos = 0
        for aid in set(old_members) - set(q.members):
            self._agent_queues.get(aid, {}).pop(q.id, None)
            for ch in CHANNELS:
                rec.free[ch].pop(aid, None)
        for aid in q.members:
            self._agent_queues.setdefault(aid, {})[q.id] = None
            agent = self._agents.get(aid)
            if agent is not None:
                for ch in agent.avail:
                    rec.free[ch][aid] = None
        rec.cal_token = next(self._gen)
        rec.open = None
        if q.calendar is not None:
            self._cal_pending.add(q.id)
        else:
            self._cal_pending.discard(q.id)
        # re-evaluate contacts of the queue under the new rules
        reroute = []
        for cid in list(rec.contacts):
            c = self._contacts[cid]
            c.prio = c.req.priority + (q.vip_priority_boost if c.req.vip else 0)
            c.base_reqs = merged_requirements(q, c.req)
            c.reqs = relaxed_requirements(c.base_reqs, q, steps_due(q, c.enqueued_at, now))
            c.life = next(self._gen)
            self._schedule_contact_timers(c, rec)
            if c.state == WAITING:
                self._unwait(c)
                reroute.append(c)
        for c in reroute:
            self._route_contact(c, now, out)
        for aid in q.members:
            agent = self._agents.get(aid)
            if agent is not None and agent.avail:
                self._route_agent(agent, now, out)
        return out

    def remove_queue(self, queue_id: str) -> None:
        rec = self._queues.get(queue_id)
        if rec is None:
            raise UnknownQueue(f"unknown queue {queue_id!r}", queue_id=queue_id)
        if rec.contacts:
            raise InvalidState(
                f"queue {queue_id!r} still has {len(rec.contacts)} contacts",
                queue_id=queue_id,
            )
        for aid in rec.cfg.members:
            self._agent_queues.get(aid, {}).pop(queue_id, None)
        self._cal_pending.discard(queue_id)
        del self._queues[queue_id]

    def configure_agent(self, a: AgentConfig, now: float | None = None) -> list[Decision]:
        """Add an agent (logged out) or update its skills/capacity in place."""
        now = self._tick_clock(now)
        out: list[Decision] = []
        rec = self._agents.get(a.id)
        if rec is None:
            self._agents[a.id] = AgentRec(a, next(self._gen))
            return out
        rec.cfg = a
        self._refresh(rec)
        self._route_agent(rec, now, out)
        return out

    def remove_agent(self, agent_id: str) -> None:
        rec = self._agent(agent_id)
        if rec.state is not AgentState.LOGGED_OUT or rec.total or rec.held:
            raise InvalidState(
                f"agent {agent_id!r} must be logged out with no contacts to be removed",
                agent_id=agent_id,
            )
        del self._agents[agent_id]

    def reset_daily_stats(self) -> None:
        """Start a new day for LEAST_TALK_TIME / FEWEST_CONTACTS."""
        for rec in self._agents.values():
            rec.talk_today = 0.0
            rec.handled_today = 0

    # ------------------------------------------------------------------ agent states
    def login(self, agent_id: str, now: float) -> list[Decision]:
        rec = self._agent(agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        if rec.state is AgentState.LOGGED_OUT:
            self._set_state(rec, AgentState.NOT_READY, None, now, out)
        return out

    def set_ready(self, agent_id: str, now: float) -> list[Decision]:
        rec = self._agent(agent_id)
        if rec.state is AgentState.LOGGED_OUT:
            raise InvalidState(f"agent {agent_id!r} is logged out", agent_id=agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        if rec.state is not AgentState.READY:
            self._set_state(rec, AgentState.READY, None, now, out)
            self._route_agent(rec, now, out)
        return out

    def set_not_ready(self, agent_id: str, reason: str | None, now: float) -> list[Decision]:
        rec = self._agent(agent_id)
        if rec.state is AgentState.LOGGED_OUT:
            raise InvalidState(f"agent {agent_id!r} is logged out", agent_id=agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        if rec.state is not AgentState.NOT_READY or rec.reason != reason:
            self._set_state(rec, AgentState.NOT_READY, reason, now, out)
        return out

    def logout(self, agent_id: str, now: float) -> list[Decision]:
        """Withdraw offers and release held contacts to the queue; assigned contacts stay
        with the agent until released."""
        rec = self._agent(agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        if rec.state is not AgentState.LOGGED_OUT:
            self._set_state(rec, AgentState.LOGGED_OUT, None, now, out)
            for cid in list(rec.held):
                c = self._contacts[cid]
                self._unwait(c)
                c.hold_agent = None
                self._route_contact(c, now, out)
        return out

    def end_wrapup(self, agent_id: str, now: float) -> list[Decision]:
        rec = self._agent(agent_id)
        if rec.state is not AgentState.WRAP_UP:
            raise InvalidState(f"agent {agent_id!r} is not in wrap-up", agent_id=agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        self._set_state(rec, AgentState.READY, None, now, out)
        self._route_agent(rec, now, out)
        return out

    # ------------------------------------------------------------------ contacts
    def enqueue(self, req: ContactRequest, now: float) -> list[Decision]:
        if req.queue_id not in self._queues:
            raise UnknownQueue(f"unknown queue {req.queue_id!r}", queue_id=req.queue_id)
        if req.id in self._contacts:
            raise InvalidState(f"contact {req.id!r} is already in the ACD", contact_id=req.id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        c = ContactRec(req, next(self._gen))
        self._contacts[req.id] = c
        enqueued_at = req.enqueued_at if req.enqueued_at is not None else now
        self._admit(c, self._queues[req.queue_id], enqueued_at, now, out, set(), affinity=True)
        return out

    def accept(self, contact_id: str, agent_id: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        c = self._contact(contact_id)
        if agent_id not in c.offers:
            raise OfferNotFound(
                f"no pending offer of {contact_id!r} to {agent_id!r}",
                contact_id=contact_id,
                agent_id=agent_id,
            )
        now = self._tick_clock(now)
        del c.offers[agent_id]
        del agent.offers[contact_id]
        out: list[Decision] = [Assigned(contact_id, agent_id, c.queue_id, now - c.enqueued_at)]
        others = [self._agents[aid] for aid in c.offers]
        for other in others:
            self._drop_offer(c, other, "accepted_elsewhere", out)
        c.offers.clear()
        agent.assigned[contact_id] = None
        agent.handled_today += 1
        c.state = ASSIGNED
        c.agent_id = agent_id
        c.assigned_at = now
        c.hold_agent = None
        q = self._queues.get(c.queue_id)
        if q is not None:
            q.contacts.pop(contact_id, None)
        for other in others:
            self._refresh(other)
        for other in others:
            self._route_agent(other, now, out)
        return out

    def reject(self, contact_id: str, agent_id: str, now: float) -> list[Decision]:
        agent = self._agent(agent_id)
        c = self._contact(contact_id)
        if agent_id not in c.offers:
            raise OfferNotFound(
                f"no pending offer of {contact_id!r} to {agent_id!r}",
                contact_id=contact_id,
                agent_id=agent_id,
            )
        now = self._tick_clock(now)
        out: list[Decision] = []
        del c.offers[agent_id]
        self._drop_offer(c, agent, "rejected", out)
        c.tried.add(agent_id)
        if c.hold_agent == agent_id:
            c.hold_agent = None
        self._refresh(agent)
        if not c.offers:
            self._back_to_queue(c, now, out)
        self._route_agent(agent, now, out)
        return out

    def release(self, contact_id: str, now: float) -> list[Decision]:
        c = self._contact(contact_id)
        if c.state != ASSIGNED:
            raise InvalidState(f"contact {contact_id!r} is not assigned", contact_id=contact_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        agent = self._unassign(c, now, out)
        del self._contacts[contact_id]
        q = self._queues.get(c.queue_id)
        wrap = q.cfg.wrapup_s if q is not None else 0
        if wrap > 0 and agent.state in (AgentState.READY, AgentState.WRAP_UP):
            self._start_wrapup(agent, now + wrap, now, out)
        self._refresh(agent)
        self._route_agent(agent, now, out)
        return out

    def transfer(
        self,
        contact_id: str,
        now: float,
        queue_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[Decision]:
        """Blind transfer of an assigned contact to a queue and/or a named agent.

        No wrap-up for the transferring agent. With ``agent_id`` the contact waits for that
        agent up to the target queue's ``owner_wait_s``, then any member of the queue.
        """
        c = self._contact(contact_id)
        if c.state != ASSIGNED:
            raise InvalidState(f"contact {contact_id!r} is not assigned", contact_id=contact_id)
        if queue_id is None and agent_id is None:
            raise InvalidState("transfer needs a queue_id or an agent_id", contact_id=contact_id)
        target_qid = queue_id if queue_id is not None else c.queue_id
        if target_qid not in self._queues:
            raise UnknownQueue(f"unknown queue {target_qid!r}", queue_id=target_qid)
        if agent_id is not None:
            self._agent(agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        agent = self._unassign(c, now, out)
        c.state = LIMBO
        c.agent_id = None
        c.tried = {agent.id} if agent.id != agent_id else set()
        self._refresh(agent)
        self._admit(c, self._queues[target_qid], now, now, out, set(), direct_agent=agent_id)
        self._route_agent(agent, now, out)
        return out

    def abandon(self, contact_id: str, now: float) -> list[Decision]:
        """The customer left before being assigned."""
        c = self._contact(contact_id)
        if c.state == ASSIGNED:
            raise InvalidState(
                f"contact {contact_id!r} is assigned: release it instead", contact_id=contact_id
            )
        now = self._tick_clock(now)
        out: list[Decision] = [Abandoned(contact_id, c.queue_id, now - c.enqueued_at)]
        self._unwait(c)
        freed = [self._agents[aid] for aid in c.offers]
        for agent in freed:
            self._drop_offer(c, agent, "abandoned", out)
        c.offers.clear()
        self._forget(c)
        for agent in freed:
            self._refresh(agent)
        for agent in freed:
            self._route_agent(agent, now, out)
        return out

    # ------------------------------------------------------------------ time
    def tick(self, now: float) -> list[Decision]:
        now = self._tick_clock(now)
        out: list[Decision] = []
        self._schedule_calendars(now)
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _t, _seq, kind, key, key2, token = heapq.heappop(heap)
            if kind == _K_OFFER:
                self._on_offer_timeout(key, key2, token, now, out)
            elif kind == _K_STEP:
                self._on_step(key, token, now, out)
            elif kind == _K_MAXWAIT:
                self._on_max_wait(key, token, now, out)
            elif kind == _K_HOLD:
                self._on_hold_expired(key, token, now, out)
            elif kind == _K_WRAPUP:
                self._on_wrapup_end(key, token, now, out)
            else:
                self._on_calendar(key, token, now, out)
        return out

    def next_deadline(self) -> float | None:
        """When ``tick`` should be called next (None: no timer pending).

        A newly configured calendar is scheduled by the next ``tick``."""
        if self._cal_pending and self._clock != float("-inf"):
            self._schedule_calendars(self._clock)
        heap = self._deadlines
        while heap and not self._deadline_live(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # ------------------------------------------------------------------ introspection
    def queue_snapshot(self, queue_id: str, now: float) -> QueueSnapshot:
        q = self._queue(queue_id)
        by_channel = dict.fromkeys(CHANNELS, 0)
        offered = 0
        longest = 0.0
        for cid in q.contacts:
            c = self._contacts[cid]
            by_channel[c.channel] += 1
            offered += c.state == OFFERED
            longest = max(longest, now - c.enqueued_at)
        cal = q.cfg.calendar
        return QueueSnapshot(
            queue_id=queue_id,
            waiting=len(q.contacts),
            offered=offered,
            longest_wait_s=longest,
            by_channel=by_channel,
            is_open=cal.is_open(now) if cal is not None else True,
            agents_available={ch: len(q.free[ch]) for ch in CHANNELS},
        )

    def agent_snapshot(self, agent_id: str) -> AgentSnapshot:
        a = self._agent(agent_id)
        return AgentSnapshot(
            agent_id=agent_id,
            state=a.state,
            reason=a.reason,
            since=a.since,
            load=dict(a.load),
            offers=tuple(a.offers),
            assigned=tuple(a.assigned),
            held=tuple(a.held),
            busy=bool(a.assigned),
            talk_time_s=a.talk_today,
            contacts_handled=a.handled_today,
            idle_since=a.idle_since if a.state is not AgentState.LOGGED_OUT else None,
        )

    def waiting_contacts(self, queue_id: str) -> list[WaitingContact]:
        q = self._queue(queue_id)
        contacts = sorted((self._contacts[cid] for cid in q.contacts), key=ContactRec.order_key)
        return [
            WaitingContact(c.id, c.req, c.state, c.enqueued_at, c.prio, c.hold_agent)
            for c in contacts
        ]

    def contact_location(self, contact_id: str) -> ContactLocation | None:
        c = self._contacts.get(contact_id)
        if c is None:
            return None
        if c.state == ASSIGNED:
            agents: tuple[str, ...] = (c.agent_id,)  # type: ignore[assignment]
        elif c.state == OFFERED:
            agents = tuple(c.offers)
        elif c.state == HELD:
            agents = (c.hold_agent,)  # type: ignore[assignment]
        else:
            agents = ()
        return ContactLocation(c.id, c.state, c.queue_id, agents, c.enqueued_at, c.prio)

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def agent_ids(self) -> list[str]:
        return list(self._agents)

    def contact_ids(self) -> list[str]:
        return list(self._contacts)

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

    def _deadline_live(self, entry: tuple) -> bool:
        _t, _seq, kind, key, key2, token = entry
        if kind == _K_OFFER:
            c = self._contacts.get(key)
            return c is not None and c.offers.get(key2, (0.0, -1))[1] == token
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
        agent = self._agents[c.agent_id]  # type: ignore[index]
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
            best: ContactRec | None = None
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

    def _offer_from_queue(self, c: ContactRec, a: AgentRec, now: float, out: list[Decision]) -> None:
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
                a
                for aid in free
                if aid not in tried and (a := agents[aid]).qualifies(reqs)
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
            cls = q.classes[c.class_key]  # type: ignore[index]
            cls.live -= 1
            if cls.live == 0:
                del q.classes[c.class_key]  # type: ignore[arg-type]
            c.token = -1
            c.class_key = None
            c.state = LIMBO
        elif c.state == HELD:
            a = self._agents[c.hold_agent]  # type: ignore[index]
            del a.held[c.id]
            c.state = LIMBO

    def _offer(self, c: ContactRec, a: AgentRec, q: QueueRec, now: float, out: list[Decision]) -> None:
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
        reason: str,
        now: float,
        out: list[Decision],
        visited: set[str],
    ) -> None:
        """Send a LIMBO contact (not in ``q.contacts``) out of queue ``q``."""
        tgt = target if target is not None else _REJECT
        dest = None
        if tgt.kind == "queue":
            dest = self._queues.get(tgt.queue_id)  # type: ignore[arg-type]
            if dest is None or dest.id in visited or dest.id == q.id:
                tgt, dest = _REJECT, None
        out.append(Overflowed(c.id, q.id, tgt, reason))  # type: ignore[arg-type]
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
