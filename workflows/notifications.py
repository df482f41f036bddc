"""Notifications to staff: stored (they survive a reload), pushed live on ``/desk`` to the user's
room, counted for the bell. Targets (a role, the supervisors, a department, a queue's members,
one user) are resolved to user ids here."""

from __future__ import annotations

import builtins
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, desc, func, select, update

from hub.db.uow import Tx
from hub.events import Event
from hub.security import new_id
from workflows import tables as w
from workflows.events import WorkflowEventType
from workflows.staff_texts import StaffText

if TYPE_CHECKING:
    from hub.app import Services


def notification_public(row: Any) -> dict[str, Any]:
    """A stored notification; ``text``: its code and parameters (None for rows written before
    the codes: their title/body are all there is)."""
    return {"id": row.id, "kind": row.kind, "title": row.title, "body": row.body,
            "text": {"code": row.code, "params": row.params or {}} if row.code else None,
            "link": row.link, "created_at": row.created_at, "read_at": row.read_at}


class Notifier:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def resolve(self, targets: list[dict[str, Any]], *, assignee_id: str | None = None,
                      department_id: str | None = None) -> set[str]:
        """User ids for targets like ``{"kind": "role", "role": "dispatcher"}``."""
        out: set[str] = set()
        users = [u for u in await self.s.auth.list_users() if u.active]
        for tg in targets:
            kind = tg.get("kind")
            if kind == "supervisors":
                out |= {u.id for u in users if "supervisor" in u.roles}
            elif kind == "role":
                out |= {u.id for u in users if tg.get("role") in u.roles}
            elif kind == "user" and tg.get("user_id"):
                out |= {u.id for u in users if u.id == tg["user_id"]}
            elif kind == "assignee" and assignee_id:
                out.add(assignee_id)
            elif kind == "department":
                dep = tg.get("department_id") or department_id
                if dep:
                    async with self.s.db.read() as conn:
                        out |= set((await conn.execute(select(w.department_members.c.user_id).where(
                            w.department_members.c.department_id == dep))).scalars())
            elif kind == "queue" and tg.get("queue_id"):
                try:
                    q = await self.s.directory.get_queue(tg["queue_id"])
                except Exception:  # noqa: BLE001 - a deleted queue notifies nobody
                    continue
                out |= set(q["members"])
        active = {u.id for u in users}
        return out & active

    async def notify(self, tx: Tx, user_ids: set[str] | list[str], *, kind: str, text: StaffText,
                     link: str | None = None) -> list[dict[str, Any]]:
        """Store one notification per user in the caller's transaction; pushed after commit.
        ``text``: a ``notify.*`` code of ``workflows.staff_texts`` (shown in each reader's
        language by the UI; its English is stored as title and body)."""
        now = self.s.clock.now()
        made = []
        for uid in sorted(set(user_ids)):
            nid = new_id()
            row = {"id": nid, "user_id": uid, "kind": kind, "title": text.english("title")[:300],
                   "body": text.english("body"), "link": link, "created_at": now, "read_at": None,
                   "code": text.code, "params": dict(text.params)}
            await tx.conn.execute(w.notifications.insert().values(**row))
            pub = notification_public(SimpleNamespace(**row))
            tx.emit(Event(WorkflowEventType.NOTIFICATION_CREATED, now, user_id=uid,
                          data={"notification": pub}))
            made.append(pub)
        return made

    async def on_event(self, ev: Event) -> None:
        if ev.type is WorkflowEventType.NOTIFICATION_CREATED and ev.user_id:
            n = ev.data["notification"]
            await self.s.push.to_user(ev.user_id, "notification",
                                      {**n, "unread": await self.unread_count(ev.user_id)})

    async def unread_count(self, user_id: str) -> int:
        n = w.notifications.c
        async with self.s.db.read() as conn:
            return int((await conn.execute(select(func.count()).select_from(w.notifications).where(
                n.user_id == user_id, n.read_at.is_(None)))).scalar() or 0)

    async def list(self, user_id: str, unread: bool = False, limit: int = 50) -> dict[str, Any]:
        n = w.notifications.c
        cond = [n.user_id == user_id]
        if unread:
            cond.append(n.read_at.is_(None))
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.notifications).where(*cond)
                                       .order_by(desc(n.created_at), desc(n.id)).limit(limit))).all()
        return {"items": [notification_public(r) for r in rows],
                "unread": await self.unread_count(user_id)}

    async def mark_read(self, user_id: str, ids: builtins.list[str], every: bool) -> int:
        n = w.notifications.c
        cond = [n.user_id == user_id, n.read_at.is_(None)]
        if not every:
            if not ids:
                return await self.unread_count(user_id)
            cond.append(n.id.in_(ids))
        async with self.s.db.tx() as tx:
            await tx.conn.execute(update(w.notifications).where(and_(*cond))
                                  .values(read_at=self.s.clock.now()))
        return await self.unread_count(user_id)

