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
* Work the ACD does not route (a consultation call the agent takes) takes a slot of its channel
  through ``occupy`` until ``vacate``; with ``voice_blocks_other_channels`` an occupied voice
  slot blocks the other channels too, as an assigned call does.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import cast

from hub.acd.core import _K_HOLD, _K_MAXWAIT, _K_OFFER, _K_STEP, _K_WRAPUP, AcdCore
from hub.acd.decisions import Abandoned, AgentState, Assigned, Decision
from hub.acd.errors import InvalidState, OfferNotFound, UnknownQueue
from hub.acd.model import AgentConfig, Channel, ContactRequest, QueueConfig
from hub.acd.records import (
    ASSIGNED,
    CHANNELS,
    HELD,
    LIMBO,
    OFFERED,
    WAITING,
    AgentRec,
    ContactRec,
    QueueRec,
    merged_requirements,
    relaxed_requirements,
    steps_due,
)
from hub.acd.snapshots import AgentSnapshot, ContactLocation, ContactState, QueueSnapshot, WaitingContact


class Acd(AcdCore):
    """The ACD. Every call takes ``now`` and returns decisions; see the module doc."""

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

    def occupy(self, agent_id: str, key: str, channel: Channel, now: float) -> list[Decision]:
        """The agent is busy on ``channel`` with work the ACD does not route (a consultation
        call, ``key`` names it): that slot counts as taken until :meth:`vacate`. Offers already
        made stay; nothing new is offered on a full channel."""
        rec = self._agent(agent_id)
        self._tick_clock(now)
        rec.occupied[key] = Channel(channel)
        self._refresh(rec)
        return []

    def vacate(self, agent_id: str, key: str, now: float, *, route: bool = True) -> list[Decision]:
        """The work ``key`` is over: the slot is free again and waiting contacts are offered
        (not with ``route=False``: the caller fills the slot itself, e.g. by a transfer)."""
        rec = self._agent(agent_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        if rec.occupied.pop(key, None) is not None:
            self._refresh(rec)
            if route and rec.state is AgentState.READY:
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

    def restore_assigned(self, req: ContactRequest, agent_id: str, now: float) -> list[Decision]:
        """After a restart: put back a contact that is already assigned to ``agent_id``.

        Emits nothing (the assignment is already stored); the agent's load counts it, even
        above a capacity that was lowered meanwhile, so no new offer overfills them."""
        if req.queue_id not in self._queues:
            raise UnknownQueue(f"unknown queue {req.queue_id!r}", queue_id=req.queue_id)
        if req.id in self._contacts:
            raise InvalidState(f"contact {req.id!r} is already in the ACD", contact_id=req.id)
        agent = self._agent(agent_id)
        now = self._tick_clock(now)
        c = ContactRec(req, next(self._gen))
        c.enqueued_at = req.enqueued_at if req.enqueued_at is not None else now
        c.state = ASSIGNED
        c.agent_id = agent_id
        c.assigned_at = now
        self._contacts[req.id] = c
        agent.assigned[req.id] = None
        agent.load[c.channel] += 1
        agent.total += 1
        self._refresh(agent)
        return []

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

    def reprioritise(self, contact_id: str, priority: int, vip: bool, now: float) -> list[Decision]:
        """A waiting contact's priority or VIP flag changed (e.g. the customer proved who they
        are): it keeps its place in time but is ordered by the new priority from now on. A contact
        on offer or assigned keeps its offer; only its request is updated."""
        c = self._contact(contact_id)
        now = self._tick_clock(now)
        out: list[Decision] = []
        c.req = replace(c.req, priority=priority, vip=vip)
        q = self._queues.get(c.queue_id) if c.queue_id is not None else None
        if q is None:
            return out
        c.prio = c.req.priority + (q.cfg.vip_priority_boost if c.req.vip else 0)
        if c.state == WAITING:
            self._unwait(c)
            self._route_contact(c, now, out)
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
            busy=bool(a.assigned or a.occupied),
            occupied=tuple(a.occupied),
            talk_time_s=a.talk_today,
            contacts_handled=a.handled_today,
            idle_since=a.idle_since if a.state is not AgentState.LOGGED_OUT else None,
        )

    def waiting_contacts(self, queue_id: str) -> list[WaitingContact]:
        q = self._queue(queue_id)
        contacts = sorted((self._contacts[cid] for cid in q.contacts), key=ContactRec.order_key)
        return [
            WaitingContact(c.id, c.req, cast(ContactState, c.state), c.enqueued_at, c.prio, c.hold_agent)
            for c in contacts
        ]

    def contact_location(self, contact_id: str) -> ContactLocation | None:
        c = self._contacts.get(contact_id)
        if c is None:
            return None
        if c.state == ASSIGNED:
            agents: tuple[str, ...] = (c.agent_id,)  # type: ignore[assignment]  # ASSIGNED: agent_id set
        elif c.state == OFFERED:
            agents = tuple(c.offers)
        elif c.state == HELD:
            agents = (c.hold_agent,)  # type: ignore[assignment]  # HELD: hold_agent set
        else:
            agents = ()
        return ContactLocation(c.id, cast(ContactState, c.state), c.queue_id, agents, c.enqueued_at, c.prio)

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def agent_ids(self) -> list[str]:
        return list(self._agents)

    def contact_ids(self) -> list[str]:
        return list(self._contacts)

