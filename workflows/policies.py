"""SLA policies (admin): which tickets they apply to and their business-hours budgets."""

from __future__ import annotations

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

FIELDS = ("name", "ticket_type", "priority", "vip", "first_response_s", "resolution_s",
          "reminder_lead_s", "calendar_id", "escalate_to", "active")


def policy_public(row: Any) -> dict[str, Any]:
    return {k: getattr(row, k) for k in ("id", *FIELDS, "created_at")}


class SlaPolicies:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def list(self) -> list[dict[str, Any]]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.sla_policies).order_by(w.sla_policies.c.name))).all()
        return [policy_public(r) for r in rows]

    async def get(self, pid: str) -> dict[str, Any]:
        for p in await self.list():
            if p["id"] == pid:
                return p
        raise NotFound(f"SLA policy {pid} does not exist")

    async def _check(self, data: dict[str, Any]) -> None:
        if data.get("calendar_id"):
            await self.s.directory.get_calendar(data["calendar_id"])
        if data["reminder_lead_s"] >= min(data["first_response_s"], data["resolution_s"]) and data["reminder_lead_s"]:
            raise ValidationFailed("reminder_lead_s must be shorter than both deadlines")

    async def create(self, data: dict[str, Any], actor: User | None) -> dict[str, Any]:
        await self._check(data)
        pid = new_id()
        now = self.s.clock.now()
        try:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(w.sla_policies.insert().values(
                    id=pid, created_at=now, **{k: data.get(k) for k in FIELDS if k != "active"},
                    active=data.get("active", True)))
                tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id if actor else None,
                              data={"entity": "sla_policy", "id": pid, "action": "create"}))
        except IntegrityError as err:
            raise Conflict(f"an SLA policy named {data['name']!r} exists") from err
        return await self.get(pid)

    async def update(self, pid: str, patch: dict[str, Any], actor: User) -> dict[str, Any]:
        cur = await self.get(pid)
        for k in ("name", "first_response_s", "resolution_s", "reminder_lead_s", "escalate_to", "active"):
            if k in patch and patch[k] is None:
                raise ValidationFailed(f"{k} cannot be null")
        merged = {**cur, **patch}
        await self._check(merged)
        try:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(update(w.sla_policies).where(w.sla_policies.c.id == pid)
                                      .values(**{k: merged[k] for k in FIELDS}))
                tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                              data={"entity": "sla_policy", "id": pid, "action": "update"}))
        except IntegrityError as err:
            raise Conflict(f"an SLA policy named {merged['name']!r} exists") from err
        return await self.get(pid)

    async def delete(self, pid: str, actor: User) -> None:
        await self.get(pid)
        async with self.s.db.tx() as tx:
            await tx.conn.execute(delete(w.sla_policies).where(w.sla_policies.c.id == pid))
            tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                          data={"entity": "sla_policy", "id": pid, "action": "delete"}))
