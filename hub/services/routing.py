"""Routing: owns the ACD engine (pure decisions) and turns its decisions into stored state and
events. Every ACD call runs under one lock, followed by one transaction applying its decisions,
so the database and the engine never disagree about who has what.

Restart: on start the engine is rebuilt from the database: queue and agent configuration, agent
states, assigned conversations (restored onto their agents) and waiting conversations
(re-enqueued with their original enqueue time and priority). Offers in flight become waiting
again; the agents get a fresh offer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import Connection, select, update

from hub import acd
from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import Conflict, HubError, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.services.auth import AuthService, User
from hub.services.conversations import ConversationService
from hub.services.directory import DirectoryService

log = logging.getLogger(__name__)

ENDED = ("closed", "abandoned")  # a conversation in these statuses never waits or rings again
AGENT_STATES = ("logged_out", "ready", "not_ready", "wrap_up")
REASON_CODES = [
    {"code": "break", "label": "Break"}, {"code": "lunch", "label": "Lunch"},
    {"code": "meeting", "label": "Meeting"}, {"code": "training", "label": "Training"},
    {"code": "after_call_work", "label": "After-call work"},
    {"code": "no_answer", "label": "Missed an offer"},
    {"code": "disconnected", "label": "Disconnected"},  # the desk closed (hub/realtime.py)
]
DISPOSITIONS = [
    {"code": "resolved", "label": "Resolved"}, {"code": "follow_up", "label": "Needs follow-up"},
    {"code": "repair_order", "label": "Repair order created"},
    {"code": "complaint", "label": "Complaint"}, {"code": "info", "label": "Information given"},
    {"code": "spam", "label": "Spam / no customer"},
]


class RoutingError(HubError):
    code, status, title = "routing_error", 409, "Routing refused"


def _acd_error(err: acd.AcdError) -> HubError:
    code = getattr(err, "code", "routing_error")
    if code in ("unknown_contact", "unknown_agent", "unknown_queue"):
        return NotFound(str(err), code=code)
    return RoutingError(str(err), code=code)


def acd_agent(user: User) -> acd.AgentConfig:
    caps = {acd.Channel(k): int(v) for k, v in user.capacity.items() if k in acd.Channel.__members__.values()}
    return acd.AgentConfig(id=user.id, skills=dict(user.skills), capacity=caps)


class RoutingService:
    def __init__(self, db: Database, clock: Clock, directory: DirectoryService,
                 auth: AuthService, conversations: ConversationService, seed: int | None = None) -> None:
        self.db = db
        self.clock = clock
        self.directory = directory
        self.auth = auth
        self.conversations = conversations
        self.engine = acd.Acd(seed=seed)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._agent_ids: set[str] = set()
        self._capacity: dict[str, dict[str, int]] = {}
        self._day = time.localtime(clock.now())[:3]
        #: called after the engine's state may have changed (several processes: the leader
        #: publishes its view, ``hub/services/routing_cluster.py``)
        self.on_change: Callable[[], None] | None = None
        #: several processes: run first in every transaction applying ACD decisions; raises when
        #: this process no longer holds the leader lock, so a deposed leader writes nothing
        self.fence: Callable[[Tx], Awaitable[None]] | None = None

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._lock:
            await self._load_directory()
            await self._restore()
        self._timer = asyncio.create_task(self._timer_loop(), name="acd-timer")

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None

    async def reload_directory(self) -> None:
        """Apply changed users/queues/calendars to the running engine."""
        async with self._lock:
            await self._load_directory()
        self._wake.set()

    async def _load_directory(self) -> None:
        queues = await self.directory.list_queues()
        users = await self.auth.list_users()
        self.conversations.set_directory(queues, users)
        for cfg in await self.directory.acd_queue_configs():
            await self._apply(self.engine.configure_queue(cfg, self.clock.now()) or [])
        agents = {u.id: u for u in users if u.is_agent and u.active}
        for uid in self._agent_ids - set(agents):
            with contextlib.suppress(acd.AcdError):
                await self._apply(self.engine.logout(uid, self.clock.now()))
        for user in agents.values():
            await self._apply(self.engine.configure_agent(acd_agent(user), self.clock.now()) or [])
            self._capacity[user.id] = dict(user.capacity)
        self._agent_ids = set(agents)
        if self.on_change is not None:
            self.on_change()

    async def _restore(self) -> None:
        now = self.clock.now()
        async with self.db.read() as conn:
            states = {r.user_id: r for r in (await conn.execute(select(t.agent_states))).all()}
            convs = (await conn.execute(select(t.conversations).where(
                t.conversations.c.status.in_(("queued", "offered", "assigned")))
                .order_by(t.conversations.c.enqueued_at))).all()
        decisions: list[Any] = []
        for uid in self._agent_ids:
            st = states.get(uid)
            if st is not None and st.state != "logged_out":
                decisions += self.engine.login(uid, now)
        for row in convs:
            if row.status == "assigned" and row.assignee_id in self._agent_ids:
                self.engine.restore_assigned(self._request(row), row.assignee_id, now)
        for uid in self._agent_ids:
            st = states.get(uid)
            if st is None or st.state == "logged_out":
                continue
            if st.state in ("ready", "wrap_up"):
                decisions += self.engine.set_ready(uid, now)
            else:
                decisions += self.engine.set_not_ready(uid, st.reason or "", now)
        for row in convs:
            if row.status in ("queued", "offered") and row.queue_id:
                try:
                    decisions += self.engine.enqueue(self._request(row), now)
                except acd.AcdError:
                    log.exception("could not restore conversation %s", row.id)
        await self._apply(decisions, restoring=True)

    def _request(self, row: Any) -> acd.ContactRequest:
        return acd.ContactRequest(
            id=row.id, channel=acd.Channel(row.channel), queue_id=row.queue_id,
            priority=row.priority, vip=bool(row.meta.get("vip")),
            # preferred_agent_id: set by whoever opened it for one agent (a personal voicemail box);
            # it wins over the contact's owner
            owner_agent_id=row.meta.get("preferred_agent_id") or row.meta.get("owner_agent_id"),
            last_agent_id=row.meta.get("last_agent_id"),
            required_skills=row.meta.get("required_skills") or {}, enqueued_at=row.enqueued_at)

    async def _timer_loop(self) -> None:
        while True:
            deadline = self.engine.next_deadline()
            delay = 1.0 if deadline is None else min(1.0, max(0.0, deadline - self.clock.now()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the timer must keep running
                log.exception("ACD tick failed")

    async def tick(self) -> None:
        now = self.clock.now()
        async with self._lock:
            day = time.localtime(now)[:3]
            if day != self._day:
                # least-talk-time and fewest-contacts count "today"
                self._day = day
                self.engine.reset_daily_stats()
            await self._apply(self.engine.tick(now))

    # --- operations -----------------------------------------------------------------------
    async def _run(self, fn: Any, *args: Any) -> list[Any]:
        async with self._lock:
            decisions = await self._decide(fn, *args)
        self._wake.set()
        return decisions

    async def _decide(self, fn: Any, *args: Any) -> list[Any]:
        """One engine call and its decisions applied (the caller holds the routing lock)."""
        try:
            decisions = fn(*args)
        except acd.AcdError as err:
            raise _acd_error(err) from err
        await self._apply(decisions)
        return decisions

    async def enqueue(self, row: Any, **values: Any) -> bool:
        """Put an open conversation in the ACD. ``values`` (e.g. ``status="queued"``, the queue,
        the enqueue time) are stored in the same transaction as the queued event, so a
        conversation is never "queued" without the ACD having it. A conversation that was closed
        or abandoned meanwhile (its caller hung up while it was being queued) is left alone:
        returns False. The check and the engine's enqueue run under the routing lock, so a
        :meth:`release` racing with it always finds the contact in the engine."""
        now = self.clock.now()
        c = t.conversations.c

        def work(conn: Connection, emit: Callable[[Event], None]) -> Any:
            # one transaction, one hop: what the ACD needs to know of the contact, the queued
            # event, and the row as stored
            meta = dict(values.get("meta") or row.meta)
            contact = conn.execute(select(t.contacts.c.vip, t.contacts.c.owner_agent_id).where(
                t.contacts.c.id == row.contact_id)).first() if row.contact_id else None
            if contact is not None:
                meta["vip"] = bool(contact.vip)
                meta["owner_agent_id"] = contact.owner_agent_id
                meta["last_agent_id"] = conn.execute(select(c.last_agent_id).where(
                    c.contact_id == row.contact_id, c.id != row.id, c.last_agent_id.is_not(None))
                    .order_by(c.created_at.desc()).limit(1)).scalar()
            done = conn.execute(update(t.conversations).where(c.id == row.id, c.status.not_in(ENDED))
                                .values(**{**values, "meta": meta})).rowcount
            if not done:  # ended while it was being queued (False), or gone (None)
                return False if conn.execute(select(c.id).where(c.id == row.id)).first() else None
            stored = conn.execute(select(t.conversations).where(c.id == row.id)).one()
            emit(Event(EventType.CONVERSATION_QUEUED, now, conversation_id=row.id,
                       queue_id=stored.queue_id, data={"channel": stored.channel, "priority": stored.priority}))
            return stored

        async with self._lock:
            stored = await self.db.write(work)
            if stored is False:
                return False
            if stored is None:
                raise NotFound(f"conversation {row.id} does not exist")
            await self._decide(self.engine.enqueue, self._request(stored), self.clock.now())
        self._wake.set()
        return True

    async def reprioritise(self, cid: str) -> None:
        """The conversation's stored priority or VIP flag changed (its customer proved who they
        are): applied to it while it waits in the ACD (nothing to do once it is assigned)."""
        if self.engine.contact_location(cid) is None:
            return
        row = await self.conversations.row(cid)
        await self._run(self.engine.reprioritise, cid, row.priority, bool(row.meta.get("vip")),
                        self.clock.now())

    async def set_agent_state(self, user_id: str, state: str, reason: str | None = None,
                              forced_by: User | None = None) -> dict[str, Any]:
        if user_id not in self._agent_ids:
            raise ValidationFailed("this user is not an active agent")
        if state not in ("ready", "not_ready", "logged_out"):
            raise ValidationFailed("state must be ready, not_ready or logged_out")
        if state == "not_ready" and reason and reason not in {r["code"] for r in REASON_CODES}:
            raise ValidationFailed(f"unknown reason code {reason!r}")
        now = self.clock.now()
        snap = self.engine.agent_snapshot(user_id)
        async with self._lock:
            decisions: list[Any] = []
            try:
                if state == "logged_out":
                    decisions += self.engine.logout(user_id, now)
                else:
                    if str(snap.state) == "logged_out":
                        decisions += self.engine.login(user_id, now)
                    if state == "ready":
                        decisions += self.engine.set_ready(user_id, now)
                    else:
                        decisions += self.engine.set_not_ready(user_id, reason or "break", now)
                        if reason == "disconnected":  # nobody is there to take what rings now
                            for cid in list(self.engine.agent_snapshot(user_id).offers):
                                decisions += self.engine.reject(cid, user_id, now)
            except acd.AcdError as err:
                raise _acd_error(err) from err
            await self._apply(decisions, forced_by=forced_by)
        self._wake.set()
        return self.agent_state(user_id)

    async def occupy(self, user_id: str, key: str, channel: str = "voice") -> None:
        """The agent takes work the ACD does not route (a consultation call, named ``key``):
        one slot of ``channel`` counts as busy until :meth:`vacate`."""
        if user_id in self._agent_ids:
            await self._run(self.engine.occupy, user_id, key, acd.Channel(channel), self.clock.now())

    async def vacate(self, user_id: str, key: str) -> None:
        if user_id in self._agent_ids:
            await self._run(self.engine.vacate, user_id, key, self.clock.now())

    async def end_wrapup(self, user_id: str) -> dict[str, Any]:
        await self._run(self.engine.end_wrapup, user_id, self.clock.now())
        return self.agent_state(user_id)

    @property
    def agent_ids(self) -> frozenset[str]:
        """The active agents the ACD knows (ids)."""
        return frozenset(self._agent_ids)

    def agent_state(self, user_id: str) -> dict[str, Any]:
        if user_id not in self._agent_ids:
            return {"state": "logged_out", "reason": None, "since": None, "load": {}, "capacity": {},
                    "occupied": []}
        snap = self.engine.agent_snapshot(user_id)
        return {"state": str(snap.state), "reason": snap.reason or None, "since": snap.since,
                "load": {str(k): v for k, v in snap.load.items()},
                "capacity": dict(self._capacity.get(user_id, {})), "occupied": list(snap.occupied)}

    async def accept(self, cid: str, user: User) -> None:
        await self._run(self.engine.accept, cid, user.id, self.clock.now())

    async def reject(self, cid: str, user: User) -> None:
        await self._run(self.engine.reject, cid, user.id, self.clock.now())
        async with self.db.tx() as tx:
            tx.emit(Event(EventType.CONVERSATION_REJECTED, self.clock.now(), conversation_id=cid,
                          user_id=user.id))

    async def release(self, cid: str) -> None:
        """The conversation ended (closed by agent or customer): free the agent's slot. Looked
        up under the routing lock: an :meth:`enqueue` of it still running finishes first."""
        async with self._lock:
            loc = self.engine.contact_location(cid)
            if loc is None:
                return
            fn = self.engine.abandon if loc.state != "assigned" else self.engine.release
            await self._decide(fn, cid, self.clock.now())
        self._wake.set()

    async def transfer(self, cid: str, by: User, queue_id: str | None = None,
                       agent_id: str | None = None, note: str | None = None,
                       vacates: str | None = None) -> Any:
        """Back to a queue, or to one agent. ``vacates``: the target agent's occupation (see
        :meth:`occupy`) that this conversation takes over, freed in the same step so the slot goes
        to it and to nothing else (a consultation call that becomes the consulted agent's)."""
        if bool(queue_id) == bool(agent_id):
            raise ValidationFailed("give exactly one of queue_id or agent_id")
        row = await self.conversations.row(cid)
        self.conversations.require_handler(by, row)
        if queue_id:
            await self.directory.get_queue(queue_id)
        if agent_id and agent_id not in self._agent_ids:
            raise ValidationFailed("the target is not an active agent")
        if agent_id == row.assignee_id:
            raise ValidationFailed("the conversation is already assigned to this agent")
        now = self.clock.now()
        target_queue = queue_id or row.queue_id
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid).values(
                status="queued", assignee_id=None, queue_id=target_queue, enqueued_at=now,
                updated_at=now))
            if note:
                await self.conversations.insert_message(
                    tx, cid, kind="note", sender="agent", body=note, sender_name=by.display_name,
                    queue_id=target_queue, assignee_id=None, user_id=by.id)
            tx.emit(Event(EventType.CONVERSATION_TRANSFERRED, now, conversation_id=cid,
                          user_id=by.id, queue_id=target_queue,
                          data={"from_agent_id": row.assignee_id, "to_queue_id": queue_id,
                                "to_agent_id": agent_id, "from_queue_id": row.queue_id}))
        if vacates and agent_id:
            await self._run(self._transfer_into, cid, now, agent_id, vacates)
        else:
            await self._run(self.engine.transfer, cid, now, queue_id, agent_id)
        return await self.conversations.row(cid)

    def _transfer_into(self, cid: str, now: float, agent_id: str, key: str) -> list[Any]:
        return [*self.engine.vacate(agent_id, key, now, route=False),
                *self.engine.transfer(cid, now, None, agent_id)]

    def offers_for(self, user_id: str) -> list[tuple[str, float]]:
        """Conversations now offered to this agent, with the offer's expiry."""
        if user_id not in self._agent_ids:
            return []
        snap = self.engine.agent_snapshot(user_id)
        offered = self.conversations.offered_to
        return [(cid, offered.get(cid, {}).get(user_id, 0.0)) for cid in snap.offers]

    async def remove_queue(self, queue_id: str, actor_id: str) -> None:
        await self.directory.get_queue(queue_id)
        async with self.db.read() as conn:
            busy = (await conn.execute(select(t.conversations.c.id).where(
                t.conversations.c.queue_id == queue_id,
                t.conversations.c.status.in_(("queued", "offered", "assigned"))).limit(1))).first()
        if busy:
            raise Conflict("the queue still has open conversations; transfer or close them first")
        async with self._lock:
            await self.directory.delete_queue(queue_id, actor_id)
            self.engine.remove_queue(queue_id)
            await self._load_directory()

    # --- applying decisions ----------------------------------------------------------------
    async def _apply(self, decisions: Iterable[Any], restoring: bool = False,
                     forced_by: User | None = None) -> None:
        decisions = list(decisions)
        if not decisions:
            return
        now = self.clock.now()
        # what the rows become is decided here, on the event loop (the engine and the offers map
        # are read and changed only under the routing lock, never from the writer thread)
        requeue = self._requeued(decisions)

        def work(conn: Connection, emit: Callable[[Event], None]) -> None:
            for i, d in enumerate(decisions):
                self._apply_one(conn, emit, d, now, forced_by, i in requeue)

        if self.fence is None:
            await self.db.write(work)
        else:
            async with self.db.tx() as tx:
                await self.fence(tx)
                await tx.conn.run_sync(lambda conn: work(conn, tx.emit))
        self._remember_offers(decisions)
        if self.on_change is not None:
            self.on_change()

    def _requeued(self, decisions: list[Any]) -> set[int]:
        """The revoked offers (by position) after which the contact waits again: its last offer
        went (timed out or withdrawn) and the engine still has it."""
        offered = self.conversations.offered_to
        pending = {cid: set(offered.get(cid, {})) for cid in
                   {getattr(d, "contact_id", None) for d in decisions} if cid is not None}
        out: set[int] = set()
        for i, d in enumerate(decisions):
            if isinstance(d, acd.Offer):
                pending[d.contact_id].add(d.agent_id)
            elif isinstance(d, acd.OfferRevoked):
                pending[d.contact_id].discard(d.agent_id)
                if (not pending[d.contact_id] and str(d.reason) in ("timeout", "withdrawn")
                        and self.engine.contact_location(d.contact_id)):
                    out.add(i)
            elif isinstance(d, acd.Assigned | acd.Abandoned):
                pending[d.contact_id].clear()
        return out

    def _remember_offers(self, decisions: list[Any]) -> None:
        offered = self.conversations.offered_to
        for d in decisions:
            if isinstance(d, acd.Offer):
                offered.setdefault(d.contact_id, {})[d.agent_id] = d.expires_at
            elif isinstance(d, acd.OfferRevoked):
                offered.get(d.contact_id, {}).pop(d.agent_id, None)
                if not offered.get(d.contact_id):
                    offered.pop(d.contact_id, None)
            elif isinstance(d, acd.Assigned | acd.Abandoned):
                offered.pop(d.contact_id, None)

    def _conv_update(self, conn: Connection, cid: str, **values: Any) -> None:
        conn.execute(update(t.conversations).where(t.conversations.c.id == cid)
                     .values(updated_at=self.clock.now(), **values))

    def _open_update(self, conn: Connection, cid: str, **values: Any) -> None:
        """Like :meth:`_conv_update`, but a closed or abandoned conversation keeps its status (an
        offer of it, or its requeue when the agent logs out, never reopens it)."""
        conn.execute(update(t.conversations).where(t.conversations.c.id == cid,
                                                   t.conversations.c.status.not_in(ENDED))
                     .values(updated_at=self.clock.now(), **values))

    def _apply_one(self, conn: Connection, emit: Callable[[Event], None], d: Any, now: float,
                   forced_by: User | None, requeue: bool) -> None:
        """One decision's rows and event (synchronous: runs in the database's writer)."""
        if isinstance(d, acd.Offer):
            self._open_update(conn, d.contact_id, status="offered")
            emit(Event(EventType.CONVERSATION_OFFERED, now, conversation_id=d.contact_id,
                       user_id=d.agent_id, queue_id=d.queue_id, data={"expires_at": d.expires_at}))
        elif isinstance(d, acd.OfferRevoked):
            if requeue:
                self._open_update(conn, d.contact_id, status="queued")
            emit(Event(EventType.CONVERSATION_OFFER_REVOKED, now, conversation_id=d.contact_id,
                       user_id=d.agent_id, data={"reason": str(d.reason)}))
        elif isinstance(d, acd.Assigned):
            self._conv_update(conn, d.contact_id, status="assigned", assignee_id=d.agent_id,
                              last_agent_id=d.agent_id, assigned_at=now, queue_id=d.queue_id)
            emit(Event(EventType.CONVERSATION_ASSIGNED, now, conversation_id=d.contact_id,
                       user_id=d.agent_id, queue_id=d.queue_id, data={"waited_s": d.waited_s}))
        elif isinstance(d, acd.NoAnswer):
            emit(Event(EventType.CONVERSATION_NO_ANSWER, now, conversation_id=d.contact_id,
                       user_id=d.agent_id))
        elif isinstance(d, acd.Overflowed):
            target = d.target
            data = {"reason": str(d.reason), "target": target.kind, "target_queue_id": target.queue_id,
                    "from_queue_id": d.from_queue_id}
            if target.kind == "queue":
                self._conv_update(conn, d.contact_id, queue_id=target.queue_id, status="queued")
            elif target.kind == "reject":
                self._conv_update(conn, d.contact_id, status="closed", closed_at=now, disposition="rejected")
            else:
                self._conv_update(conn, d.contact_id, status="pending")
            emit(Event(EventType.CONVERSATION_OVERFLOWED, now, conversation_id=d.contact_id,
                       queue_id=d.from_queue_id, data=data))
        elif isinstance(d, acd.Abandoned):
            emit(Event(EventType.CONVERSATION_ABANDONED, now, conversation_id=d.contact_id,
                       queue_id=d.queue_id, data={"waited_s": d.waited_s}))
        elif isinstance(d, acd.AgentStateChanged):
            values = {"state": str(d.state), "reason": d.reason or None, "since": d.at}
            res = conn.execute(update(t.agent_states).where(t.agent_states.c.user_id == d.agent_id).values(**values))
            if res.rowcount == 0:
                conn.execute(t.agent_states.insert().values(user_id=d.agent_id, **values))
            emit(Event(EventType.AGENT_STATE_CHANGED, now, user_id=d.agent_id,
                       data={"state": str(d.state), "reason": d.reason or None, "since": d.at,
                             "forced_by": forced_by.id if forced_by else None}))
        else:
            log.debug("unhandled ACD decision %r", d)
