"""Admin configuration: skills, business-hours calendars and queues (ACD-1, ACD-2, ACD-6)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from sqlalchemy import delete, select, update

from hub.acd import Calendar, OverflowStep, OverflowTarget, QueueConfig, Strategy
from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id

QUEUE_DEFAULTS: dict[str, Any] = {
    "strategy": "longest_idle", "required_skills": {}, "members": [], "offer_timeout_s": 20,
    "max_wait_s": None, "max_length": None, "overflow": None, "closed_target": None,
    "wrapup_s": 0, "service_level_s": 20, "calendar_id": None, "overflow_steps": [],
    "priority": 0,
}


def _target(raw: Any) -> OverflowTarget | None:
    if not raw:
        return None
    return OverflowTarget(kind=raw["kind"], queue_id=raw.get("queue_id"))


def calendar_from_mapping(data: Mapping[str, Any]) -> Calendar:
    weekly = {int(k): [tuple(iv) for iv in v] for k, v in (data.get("weekly") or {}).items()}
    holidays = frozenset(date.fromisoformat(d) for d in (data.get("holidays") or []))
    return Calendar(tz=data["tz"], weekly=weekly, holidays=holidays)


def queue_config(qid: str, name: str, cfg: dict[str, Any], calendar: Calendar | None) -> QueueConfig:
    return QueueConfig(
        id=qid, name=name, strategy=Strategy(cfg["strategy"]),
        required_skills=dict(cfg["required_skills"]),
        overflow_steps=tuple(
            OverflowStep(after_s=float(s["after_s"]), relax_skills=frozenset(s.get("relax_skills", [])),
                         level_delta=int(s.get("level_delta", 0)))
            for s in cfg["overflow_steps"]),
        offer_timeout_s=float(cfg["offer_timeout_s"]),
        max_wait_s=cfg["max_wait_s"], max_length=cfg["max_length"],
        overflow=_target(cfg["overflow"]), closed_target=_target(cfg["closed_target"]),
        calendar=calendar, members=tuple(cfg["members"]), wrapup_s=float(cfg["wrapup_s"]),
        service_level_s=float(cfg["service_level_s"]),
    )


#: how long queues and calendars read from the database are reused (changes made through this
#: service, and those another process announces, clear them at once)
CACHE_S = 5.0


class DirectoryService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # Queues and calendars are read on every routed contact and every rule evaluation; they
        # change rarely, through this service (or another process's, whose ADMIN_CHANGED arrives
        # through the bus).
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        db.bus.subscribe(self._on_event, types=(EventType.ADMIN_CHANGED,), name="directory.cache")

    async def _on_event(self, ev: Event) -> None:
        if ev.data.get("entity") in ("queue", "calendar"):
            self._cache.clear()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Tx]:
        """A write transaction whose changes the cached reads see as soon as it has committed."""
        try:
            async with self.db.tx() as tx:
                yield tx
        finally:
            self._cache.clear()

    async def _cached(self, key: str, load: Callable[[], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is None or now - hit[0] > CACHE_S:
            hit = (now, await load())
            self._cache[key] = hit
        return [dict(x) for x in hit[1]]

    async def _audit(self, tx: Any, actor_id: str | None, entity: str, eid: str, action: str) -> None:
        tx.emit(Event(EventType.ADMIN_CHANGED, self.clock.now(), user_id=actor_id,
                      data={"entity": entity, "id": eid, "action": action}))

    # --- skills ---------------------------------------------------------------------------
    async def list_skills(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.skills).order_by(t.skills.c.name))).all()
        return [dict(r._mapping) for r in rows]

    async def create_skill(self, name: str, label: str, actor_id: str | None = None) -> dict[str, Any]:
        async with self.db.read() as conn:
            if (await conn.execute(select(t.skills.c.id).where(t.skills.c.name == name))).first():
                raise Conflict(f"skill {name!r} exists")
        sid = new_id()
        async with self._write() as tx:
            await tx.conn.execute(t.skills.insert().values(id=sid, name=name, label=label or name))
            await self._audit(tx, actor_id, "skill", sid, "create")
        return {"id": sid, "name": name, "label": label or name}

    async def update_skill(self, sid: str, label: str, actor_id: str) -> dict[str, Any]:
        async with self._write() as tx:
            res = await tx.conn.execute(update(t.skills).where(t.skills.c.id == sid).values(label=label))
            if res.rowcount == 0:
                raise NotFound(f"skill {sid} does not exist")
            await self._audit(tx, actor_id, "skill", sid, "update")
        return next(s for s in await self.list_skills() if s["id"] == sid)

    async def delete_skill(self, sid: str, actor_id: str) -> None:
        async with self._write() as tx:
            res = await tx.conn.execute(delete(t.skills).where(t.skills.c.id == sid))
            if res.rowcount == 0:
                raise NotFound(f"skill {sid} does not exist")
            await self._audit(tx, actor_id, "skill", sid, "delete")

    # --- calendars ------------------------------------------------------------------------
    @staticmethod
    def _check_calendar(data: dict[str, Any]) -> None:
        try:
            calendar_from_mapping(data)
        except (ValueError, KeyError, TypeError) as err:
            raise ValidationFailed(f"invalid calendar: {err}") from err

    async def list_calendars(self) -> list[dict[str, Any]]:
        return await self._cached("calendars", self._load_calendars)

    async def _load_calendars(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.calendars).order_by(t.calendars.c.name))).all()
        return [dict(r._mapping) for r in rows]

    async def get_calendar(self, cid: str) -> dict[str, Any]:
        for c in await self.list_calendars():
            if c["id"] == cid:
                return c
        raise NotFound(f"calendar {cid} does not exist")

    async def create_calendar(self, data: dict[str, Any], actor_id: str | None = None) -> dict[str, Any]:
        self._check_calendar(data)
        cid = new_id()
        async with self._write() as tx:
            await tx.conn.execute(t.calendars.insert().values(
                id=cid, name=data["name"], tz=data["tz"], weekly=data.get("weekly") or {},
                holidays=data.get("holidays") or []))
            await self._audit(tx, actor_id, "calendar", cid, "create")
        return await self.get_calendar(cid)

    async def update_calendar(self, cid: str, data: dict[str, Any], actor_id: str) -> dict[str, Any]:
        merged = {**await self.get_calendar(cid), **{k: v for k, v in data.items() if v is not None}}
        self._check_calendar(merged)
        async with self._write() as tx:
            await tx.conn.execute(update(t.calendars).where(t.calendars.c.id == cid).values(
                name=merged["name"], tz=merged["tz"], weekly=merged["weekly"],
                holidays=merged["holidays"]))
            await self._audit(tx, actor_id, "calendar", cid, "update")
        return await self.get_calendar(cid)

    async def delete_calendar(self, cid: str, actor_id: str) -> None:
        for q in await self.list_queues():
            if q["calendar_id"] == cid:
                raise Conflict(f"calendar is used by queue {q['name']!r}")
        async with self._write() as tx:
            res = await tx.conn.execute(delete(t.calendars).where(t.calendars.c.id == cid))
            if res.rowcount == 0:
                raise NotFound(f"calendar {cid} does not exist")
            await self._audit(tx, actor_id, "calendar", cid, "delete")

    # --- queues ---------------------------------------------------------------------------
    async def list_queues(self) -> list[dict[str, Any]]:
        return await self._cached("queues", self._load_queues)

    async def _load_queues(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.queues).order_by(t.queues.c.name))).all()
        return [{"id": r.id, "name": r.name, **QUEUE_DEFAULTS, **r.config} for r in rows]

    async def get_queue(self, qid: str) -> dict[str, Any]:
        for q in await self.list_queues():
            if q["id"] == qid:
                return q
        raise NotFound(f"queue {qid} does not exist")

    async def _validated(self, qid: str, name: str, cfg: dict[str, Any]) -> QueueConfig:
        cal = None
        if cfg.get("calendar_id"):
            cal = calendar_from_mapping(await self.get_calendar(cfg["calendar_id"]))
        queue_ids = {q["id"] for q in await self.list_queues()} | {qid}
        for key in ("overflow", "closed_target"):
            target = cfg.get(key)
            if target and target.get("kind") == "queue" and target.get("queue_id") not in queue_ids:
                raise ValidationFailed(f"{key} points at an unknown queue")
        async with self.db.read() as conn:
            user_ids = set((await conn.execute(select(t.users.c.id))).scalars())
        unknown = [m for m in cfg.get("members", []) if m not in user_ids]
        if unknown:
            raise ValidationFailed(f"members has unknown users {unknown}")
        try:
            return queue_config(qid, name, cfg, cal)
        except (ValueError, KeyError, TypeError) as err:
            raise ValidationFailed(f"invalid queue: {err}") from err

    async def create_queue(self, data: dict[str, Any], actor_id: str | None = None) -> dict[str, Any]:
        name = data["name"]
        cfg = {**QUEUE_DEFAULTS, **{k: v for k, v in data.items() if k in QUEUE_DEFAULTS}}
        qid = data.get("id") or new_id()
        await self._validated(qid, name, cfg)
        async with self.db.read() as conn:
            if (await conn.execute(select(t.queues.c.id).where(t.queues.c.name == name))).first():
                raise Conflict(f"queue {name!r} exists")
        async with self._write() as tx:
            await tx.conn.execute(t.queues.insert().values(id=qid, name=name, config=cfg,
                                                           created_at=self.clock.now()))
            await self._audit(tx, actor_id, "queue", qid, "create")
        return await self.get_queue(qid)

    async def update_queue(self, qid: str, data: dict[str, Any], actor_id: str) -> dict[str, Any]:
        current = await self.get_queue(qid)
        name = data.get("name") or current["name"]
        cfg = {k: current[k] for k in QUEUE_DEFAULTS}
        # null clears what may be absent (overflow, a calendar …), nothing else
        nulls = sorted(k for k, v in data.items() if v is None and QUEUE_DEFAULTS.get(k, None) is not None)
        if nulls:
            raise ValidationFailed(f"{', '.join(nulls)} cannot be null", details={
                "errors": [{"loc": ["body", k], "msg": "cannot be null"} for k in nulls]})
        cfg.update({k: v for k, v in data.items() if k in QUEUE_DEFAULTS and k in data})
        await self._validated(qid, name, cfg)
        async with self._write() as tx:
            await tx.conn.execute(update(t.queues).where(t.queues.c.id == qid)
                                  .values(name=name, config=cfg))
            await self._audit(tx, actor_id, "queue", qid, "update")
        return await self.get_queue(qid)

    async def delete_queue(self, qid: str, actor_id: str) -> None:
        await self.get_queue(qid)
        async with self._write() as tx:
            await tx.conn.execute(delete(t.queues).where(t.queues.c.id == qid))
            await self._audit(tx, actor_id, "queue", qid, "delete")

    async def acd_queue_configs(self) -> list[QueueConfig]:
        calendars = {c["id"]: calendar_from_mapping(c) for c in await self.list_calendars()}
        return [queue_config(q["id"], q["name"], q, calendars.get(q["calendar_id"] or ""))
                for q in await self.list_queues()]
