"""The database side of durable event consumers (``hub/events.py``): checkpoints, reading the
event log after a checkpoint, and idempotency keys for consumers' effects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.events import Event, event_type


def _upsert(dialect: str) -> Any:
    return sqlite_insert if dialect == "sqlite" else pg_insert


class EventLogStore:
    """``ConsumerStore`` over the ``events`` and ``event_consumers`` tables."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def head(self) -> int:
        async with self.db.read() as conn:
            return int((await conn.execute(select(func.max(t.events.c.id)))).scalar() or 0)

    async def checkpoints(self) -> dict[str, int]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.event_consumers.c.name, t.event_consumers.c.last_id))).all()
        return {r.name: int(r.last_id) for r in rows}

    async def save(self, checkpoints: dict[str, int]) -> None:
        ins = _upsert(self.db.dialect)(t.event_consumers)
        now = self.clock.now()
        stmt = ins.on_conflict_do_update(index_elements=["name"],
                                         set_={"last_id": ins.excluded.last_id, "updated_at": now})
        async with self.db.tx() as tx:
            await tx.conn.execute(stmt, [{"name": n, "last_id": i, "updated_at": now}
                                         for n, i in checkpoints.items()])

    async def read_after(self, after_id: int, types: frozenset[str] | None, limit: int) -> list[Event]:
        e = t.events.c
        q = select(t.events).where(e.id > after_id).order_by(e.id).limit(limit)
        if types is not None:
            q = q.where(e.type.in_(sorted(types)))
        async with self.db.read() as conn:
            rows = (await conn.execute(q)).all()
        # back to its declared member (hub.events.register_event_types); a type no module declares
        # is passed on as its string
        return [Event(event_type(r.type), r.at, r.conversation_id, r.user_id,
                      r.queue_id, r.data or {}, id=int(r.id), cause=r.cause) for r in rows]


async def claim_effect(tx: Tx, consumer: str, key: str, at: float) -> bool:
    """Record in the effect's own transaction that ``consumer`` made the effect ``key``; False
    (and nothing written) when it already had: the caller then skips the effect."""
    stmt = _upsert(tx.conn.dialect.name)(t.event_effects).values(
        consumer=consumer, key=key[:160], at=at).on_conflict_do_nothing()
    result = await tx.conn.execute(stmt)
    return bool(result.rowcount)


async def effect_done(db: Database, consumer: str, key: str) -> bool:
    async with db.read() as conn:
        return (await conn.execute(select(t.event_effects.c.key).where(
            t.event_effects.c.consumer == consumer, t.event_effects.c.key == key[:160]))).first() is not None
