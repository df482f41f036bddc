"""Reading the event log: agent state history (AGENT-1) and the audit trail (ADMIN-1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, cast, desc, func, select

from hub.db import tables as t
from hub.db.uow import Database
from hub.events import EventType, audit_types


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _read(self, types: Iterable[str], user_id: str | None, limit: int,
                    before: float | None) -> list[dict[str, Any]]:
        e = t.events.c
        cond: list[ColumnElement[bool]] = [e.type.in_(sorted(str(x) for x in types))]
        if user_id:
            cond.append(e.user_id == user_id)
        if before is not None:
            cond.append(e.at < before)
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.events).where(*cond)
                                       .order_by(desc(e.at), desc(e.id)).limit(limit))).all()
        return [{"id": r.id, "at": r.at, "type": r.type, "user_id": r.user_id,
                 "conversation_id": r.conversation_id, "queue_id": r.queue_id, "data": r.data}
                for r in rows]

    async def latest(self, types: Iterable[str], limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` events of ``types`` (newest first)."""
        return await self._read(types, None, limit, None)

    async def agent_states(self, user_id: str, limit: int = 100,
                           before: float | None = None) -> list[dict[str, Any]]:
        rows = await self._read((EventType.AGENT_STATE_CHANGED,), user_id, limit, before)
        return [{"at": r["at"], "state": r["data"].get("state"), "reason": r["data"].get("reason"),
                 "forced_by": r["data"].get("forced_by")} for r in rows]

    async def audit(self, limit: int = 100, before: float | None = None) -> list[dict[str, Any]]:
        """Logins, admin changes and the types components declared for the audit trail
        (``hub.events.register_event_types(…, audit=…)``)."""
        return await self._read(audit_types(), None, limit, before)

    async def ever_changed(self, entity: str) -> bool:
        """Whether an administrator ever changed an ``entity`` (``admin.changed`` events), e.g. to
        tell a fresh install from one where every IVR flow was deleted on purpose."""
        e = t.events.c
        async with self.db.read() as conn:
            row = (await conn.execute(select(e.id).where(
                e.type == str(EventType.ADMIN_CHANGED),
                # the JSON's text differs by engine (spacing): match the quoted name
                cast(e.data, String).like(f'%"{entity}"%')).limit(1))).first()
        return row is not None

    async def counts(self, conversation_id: str, types: Sequence[str]) -> dict[str, int]:
        """How many events of each of ``types`` the conversation has had."""
        e = t.events.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(e.type, func.count()).where(
                e.conversation_id == conversation_id, e.type.in_([str(x) for x in types]))
                .group_by(e.type))).all()
        return {str(r[0]): int(r[1]) for r in rows}
