"""Live wallboard figures (SUP-1): per queue waiting/longest wait from the ACD, today's offered,
answered, abandoned and service level from the event log (kept incrementally in memory, loaded
from the log at start so a restart does not reset the day)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database
from hub.events import Event, EventType
from hub.services.auth import AuthService
from hub.services.directory import DirectoryService
from hub.services.routing import RoutingService


@dataclass
class DayStats:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0


def local_midnight(now: float) -> float:
    lt = time.localtime(now)
    return time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))


class WallboardService:
    def __init__(self, db: Database, clock: Clock, directory: DirectoryService, auth: AuthService,
                 routing: RoutingService) -> None:
        self.db = db
        self.clock = clock
        self.directory = directory
        self.auth = auth
        self.routing = routing
        self._day = 0.0
        self._stats: dict[str, DayStats] = defaultdict(DayStats)
        self._answered: set[str] = set()
        self._sl: dict[str, float] = {}

    async def start(self) -> None:
        """The day's figures from the event log (again, when called again)."""
        self._stats.clear()
        self._answered.clear()
        self._day = local_midnight(self.clock.now())
        self._sl = {q["id"]: float(q["service_level_s"]) for q in await self.directory.list_queues()}
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.events).where(
                t.events.c.at >= self._day,
                t.events.c.type.in_([str(EventType.CONVERSATION_QUEUED),
                                     str(EventType.CONVERSATION_TRANSFERRED),
                                     str(EventType.CONVERSATION_OVERFLOWED),
                                     str(EventType.CONVERSATION_ASSIGNED),
                                     str(EventType.CONVERSATION_ABANDONED)]))
                .order_by(t.events.c.id))).all()
        for r in rows:
            self._count(Event(EventType(r.type), r.at, r.conversation_id, r.user_id, r.queue_id, r.data))

    def _count(self, ev: Event) -> None:
        if ev.at < self._day:
            return
        if ev.at >= self._day + 86400:
            self._day = local_midnight(ev.at)
            self._stats.clear()
            self._answered.clear()
        qid = ev.queue_id or ""
        if ev.type is EventType.CONVERSATION_QUEUED:
            self._stats[qid].offered += 1
        elif ev.type is EventType.CONVERSATION_TRANSFERRED:
            # into another queue: offered there too (its answer counts there); to an agent of the
            # same queue: neither again
            to_queue = ev.data.get("to_queue_id")
            if to_queue and to_queue != ev.data.get("from_queue_id"):
                self._stats[to_queue].offered += 1
        elif ev.type is EventType.CONVERSATION_OVERFLOWED:
            to_queue = ev.data.get("target_queue_id")
            if ev.data.get("target") == "queue" and to_queue and to_queue != ev.data.get("from_queue_id"):
                self._stats[to_queue].offered += 1
        elif ev.type is EventType.CONVERSATION_ASSIGNED:
            key = f"{ev.conversation_id}:{qid}"
            if key in self._answered:
                return
            self._answered.add(key)
            st = self._stats[qid]
            st.answered += 1
            if float(ev.data.get("waited_s") or 0) <= self._sl.get(qid, 20.0):
                st.answered_in_sl += 1
        elif ev.type is EventType.CONVERSATION_ABANDONED:
            self._stats[qid].abandoned += 1

    async def on_event(self, ev: Event) -> None:
        if ev.type is EventType.ADMIN_CHANGED and ev.data.get("entity") == "queue":
            self._sl = {q["id"]: float(q["service_level_s"])
                        for q in await self.directory.list_queues()}
        self._count(ev)

    async def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        engine = self.routing.engine
        queues = []
        for q in await self.directory.list_queues():
            try:
                snap = engine.queue_snapshot(q["id"], now)
            except Exception:  # noqa: BLE001 - queue created a moment ago, not in the engine yet
                snap = None
            st = self._stats.get(q["id"], DayStats())
            handled = st.answered + st.abandoned
            queues.append({
                "id": q["id"], "name": q["name"],
                "waiting": snap.waiting if snap else 0,
                "longest_wait_s": round(snap.longest_wait_s, 1) if snap else 0.0,
                "is_open": snap.is_open if snap else True,
                "agents_ready": sum(1 for m in q["members"]
                                    if self.routing.agent_state(m)["state"] == "ready"),
                "offered_today": st.offered, "answered_today": st.answered,
                "abandoned_today": st.abandoned,
                "service_level_today": round(100.0 * st.answered_in_sl / handled, 1) if handled else None,
                "service_level_s": q["service_level_s"],
            })
        agents = []
        for u in await self.auth.list_users():
            if not (u.is_agent and u.active):
                continue
            state = self.routing.agent_state(u.id)
            agents.append({"id": u.id, "display_name": u.display_name, **state})
        return {"at": now, "queues": queues, "agents": agents}
