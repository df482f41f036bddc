"""Repair departments and their member users (role ``department``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from workflows import tables as w

if TYPE_CHECKING:
    from hub.app import Services
    from hub.services.auth import User


class Departments:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def list(self) -> list[dict[str, Any]]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.departments).order_by(w.departments.c.name))).all()
            members = (await conn.execute(select(w.department_members))).all()
        by: dict[str, list[str]] = {}
        for m in members:
            by.setdefault(m.department_id, []).append(m.user_id)
        return [{"id": r.id, "name": r.name, "description": r.description,
                 "members": sorted(by.get(r.id, []))} for r in rows]

    async def get(self, did: str) -> dict[str, Any]:
        for d in await self.list():
            if d["id"] == did:
                return d
        raise NotFound(f"department {did} does not exist")

    async def of_user(self, user_id: str) -> set[str]:
        async with self.s.db.read() as conn:
            return set((await conn.execute(select(w.department_members.c.department_id).where(
                w.department_members.c.user_id == user_id))).scalars())

    async def _check_members(self, members: builtins.list[str]) -> None:
        known = {u.id for u in await self.s.auth.list_users()}
        unknown = sorted(set(members) - known)
        if unknown:
            raise ValidationFailed(f"unknown users {unknown}")

    async def create(self, data: dict[str, Any], actor: User | None = None) -> dict[str, Any]:
        await self._check_members(data.get("members") or [])
        did = new_id()
        now = self.s.clock.now()
        try:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(w.departments.insert().values(
                    id=did, name=data["name"], description=data.get("description"), created_at=now))
                for uid in sorted(set(data.get("members") or [])):
                    await tx.conn.execute(w.department_members.insert().values(
                        department_id=did, user_id=uid))
                tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id if actor else None,
                              data={"entity": "department", "id": did, "action": "create"}))
        except IntegrityError as err:
            raise Conflict(f"a department named {data['name']!r} exists") from err
        return await self.get(did)

    async def update(self, did: str, data: dict[str, Any], actor: User) -> dict[str, Any]:
        await self.get(did)
        if data.get("members") is not None:
            await self._check_members(data["members"])
        values = {k: data[k] for k in ("name", "description") if data.get(k) is not None}
        try:
            async with self.s.db.tx() as tx:
                if values:
                    await tx.conn.execute(update(w.departments).where(w.departments.c.id == did)
                                          .values(**values))
                if data.get("members") is not None:
                    await tx.conn.execute(delete(w.department_members).where(
                        w.department_members.c.department_id == did))
                    for uid in sorted(set(data["members"])):
                        await tx.conn.execute(w.department_members.insert().values(
                            department_id=did, user_id=uid))
                tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                              data={"entity": "department", "id": did, "action": "update"}))
        except IntegrityError as err:
            raise Conflict(f"a department named {data.get('name')!r} exists") from err
        return await self.get(did)

    async def delete(self, did: str, actor: User) -> None:
        await self.get(did)
        async with self.s.db.read() as conn:
            busy = (await conn.execute(select(w.work_orders.c.id).where(
                w.work_orders.c.department_id == did,
                w.work_orders.c.state.notin_(("completed", "closed", "cancelled"))).limit(1))).first()
        if busy:
            raise Conflict("the department has open work orders")
        async with self.s.db.tx() as tx:
            await tx.conn.execute(delete(w.departments).where(w.departments.c.id == did))
            tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                          data={"entity": "department", "id": did, "action": "delete"}))
