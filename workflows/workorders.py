"""Repair work orders (WO-1): the closed loop from the agent to the dispatch centre, the repair
department and back to the customer. Every transition is checked by the state machine
(``workflows.statemachine``), stored with its time and actor in ``work_order_history``, and moves
the work order's timers (reminders inside the planned window, the late alert, the customer
notice) in the same transaction."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.db.uow import Tx
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.events import Event
from hub.security import new_id
from hub.services.conversations import referenced_contact
from hub.services.scheduler import Timer
from workflows import tables as w
from workflows.chain import chain_data
from workflows.customer import CustomerNotifier
from workflows.errors import InvalidTransition
from workflows.events import WorkflowEventType
from workflows.staff_texts import StaffText, history_text, staff_text
from workflows.statemachine import PRIORITIES, WO_DONE, WO_STATES, wo_allowed, wo_transition

if TYPE_CHECKING:
    from hub.app import Services
    from hub.services.auth import User
    from workflows.departments import Departments
    from workflows.notifications import Notifier

WO_TIMERS = ("start", "due_soon", "late")


def wo_key(wid: str, what: str) -> str:
    return f"wo:{wid}:{what}"


def wo_public(row: Any, now: float) -> dict[str, Any]:
    overdue = (row.state not in WO_DONE and row.planned_end is not None and row.planned_end < now)
    return {
        "id": row.id, "number": row.number, "state": row.state, "title": row.title,
        "description": row.description, "category": row.category, "priority": row.priority,
        "address": row.address, "contact_id": row.contact_id, "conversation_id": row.conversation_id,
        "ticket_id": row.ticket_id, "department_id": row.department_id,
        "planned_start": row.planned_start, "planned_end": row.planned_end,
        "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at,
        "completed_at": row.completed_at, "closed_at": row.closed_at, "late": bool(row.late),
        "overdue": overdue, "result": row.result, "now": now,
    }


def wo_history_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "kind": row.kind, "action": row.action,
            "from_state": row.from_state, "to_state": row.to_state, "actor_id": row.actor_id,
            "actor_name": row.actor_name, "body": row.body, "text": (row.data or {}).get("text"),
            "attachment_ids": list(row.attachment_ids or []), "data": row.data or {}}


class WorkOrders:
    def __init__(self, services: Services, notifier: Notifier, departments: Departments,
                 customer: CustomerNotifier, reminder_lead_s: float = 1800.0) -> None:
        self.s = services
        self.notifier = notifier
        self.departments = departments
        self.customer = customer
        self.reminder_lead_s = reminder_lead_s

    # --- who sees what ------------------------------------------------------------------------
    async def scope(self, user: User) -> set[str] | None:
        """None: every work order (dispatch, agents); else the department ids the user may see."""
        perms = user.permissions
        if "dispatch" in perms or "tickets" in perms:
            return None
        if "department" in perms:
            return await self.departments.of_user(user.id)
        raise Forbidden("work orders need the 'tickets', 'dispatch' or 'department' permission")

    async def _visible_row(self, user: User, wid: str) -> Any:
        scope = await self.scope(user)
        async with self.s.db.read() as conn:
            row = (await conn.execute(select(w.work_orders).where(w.work_orders.c.id == wid))).first()
        if row is None or (scope is not None and row.department_id not in scope):
            # a department user does not learn that other departments' orders exist
            raise NotFound(f"work order {wid} does not exist")
        return row

    # --- reading ----------------------------------------------------------------------------------
    async def list(self, user: User, *, state: str | None = None, department_id: str | None = None,
                   overdue: bool | None = None, q: str | None = None, limit: int = 200) -> dict[str, Any]:
        scope = await self.scope(user)
        c = w.work_orders.c
        now = self.s.clock.now()
        base: list[Any] = []
        if scope is not None:
            base.append(c.department_id.in_(scope))
        if department_id:
            base.append(c.department_id == department_id)
        if q:
            like = f"%{q.lower()}%"
            base.append(or_(func.lower(c.title).like(like), func.lower(c.address).like(like),
                            func.lower(c.description).like(like)))
        cond = list(base)
        if state:
            states = state.split(",")
            unknown = set(states) - set(WO_STATES)
            if unknown:
                raise ValidationFailed(f"unknown states {sorted(unknown)}")
            cond.append(c.state.in_(states))
        overdue_expr = (c.state.notin_(WO_DONE)) & (c.planned_end.is_not(None)) & (c.planned_end < now)
        if overdue is True:
            cond.append(overdue_expr)
        elif overdue is False:
            cond.append(~overdue_expr)
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.work_orders).where(*cond)
                                       .order_by(desc(c.created_at)).limit(limit))).all()
            counts: dict[str, int] = dict((await conn.execute(select(c.state, func.count()).where(*base)
                                              .group_by(c.state))).all())
            n_overdue = (await conn.execute(select(func.count()).select_from(w.work_orders)
                                            .where(*base, overdue_expr))).scalar()
        contacts = await self.s.contacts.names(r.contact_id for r in rows)
        deps = {d["id"]: d["name"] for d in await self.departments.list()}
        items = []
        for r in rows:
            item = wo_public(r, now)
            item["department_name"] = deps.get(r.department_id or "")
            item["contact_name"] = contacts.get(r.contact_id)
            items.append(item)
        # overdue first, then open before done, newest first
        items.sort(key=lambda i: (not i["overdue"], i["state"] in WO_DONE, -i["created_at"]))
        return {"items": items, "counts": {s: int(counts.get(s, 0)) for s in WO_STATES},
                "overdue": int(n_overdue or 0)}

    async def get(self, user: User, wid: str) -> dict[str, Any]:
        row = await self._visible_row(user, wid)
        now = self.s.clock.now()
        async with self.s.db.read() as conn:
            hist = (await conn.execute(select(w.work_order_history).where(
                w.work_order_history.c.work_order_id == wid)
                .order_by(w.work_order_history.c.at, w.work_order_history.c.id))).all()
        atts = await self.s.attachments.describe(a for h in hist for a in (h.attachment_ids or []))
        out = wo_public(row, now)
        out["history"] = []
        for h in hist:
            item = wo_history_public(h)
            item["attachments"] = [atts[a] for a in item["attachment_ids"] if a in atts]
            out["history"].append(item)
        out["contact"] = await self.s.contacts.get(row.contact_id) if row.contact_id else None
        out["department"] = await self.departments.get(row.department_id) if row.department_id else None
        out["allowed_actions"] = await self.allowed_for(user, row)
        return out

    async def allowed_for(self, user: User, row: Any) -> builtins.list[str]:
        perms = set(user.permissions)
        if "department" in perms and row.department_id not in await self.departments.of_user(user.id):
            perms.discard("department")
        return wo_allowed(row.state, frozenset(perms))

    async def attachment_ids(self, wid: str) -> set[str]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.work_order_history.c.attachment_ids).where(
                w.work_order_history.c.work_order_id == wid))).scalars()
            return {a for ids in rows for a in (ids or [])}

    # --- writing -----------------------------------------------------------------------------------
    async def _history(self, tx: Tx, wid: str, kind: str, actor: User | None, *, action: str | None = None,
                       from_state: str | None = None, to_state: str | None = None, body: str | None = None,
                       attachment_ids: builtins.list[str] | None = None, data: dict[str, Any] | None = None,
                       text: StaffText | None = None) -> None:
        """One history line; ``body``: a person's words (a note, a reason), ``text``: the hub's own
        (stored as ``data.text`` for the UI, its English as the body)."""
        await tx.conn.execute(w.work_order_history.insert().values(
            id=new_id(), work_order_id=wid, at=self.s.clock.now(), kind=kind, action=action,
            from_state=from_state, to_state=to_state, actor_id=actor.id if actor else None,
            actor_name=actor.display_name if actor else "system", **history_text(body, data, text),
            attachment_ids=list(attachment_ids or [])))

    async def create(self, data: dict[str, Any], actor: User | None) -> dict[str, Any]:
        data = dict(data)
        if data.get("priority", "normal") not in PRIORITIES:
            raise ValidationFailed(f"priority must be one of {', '.join(PRIORITIES)}")
        if data.get("ticket_id"):
            async with self.s.db.read() as conn:
                tk = (await conn.execute(select(w.tickets).where(w.tickets.c.id == data["ticket_id"]))).first()
            if tk is None:
                raise ValidationFailed(f"ticket {data['ticket_id']} does not exist")
            data["contact_id"] = data.get("contact_id") or tk.contact_id
        if data.get("conversation_id"):
            conv = await self.s.conversations.require_reference(actor, data["conversation_id"])
            data["contact_id"] = data.get("contact_id") or referenced_contact(conv, actor)
        if data.get("contact_id"):
            contact = await self.s.contacts.get(data["contact_id"])
            if not data.get("address"):
                custom = contact.get("custom") or {}
                data["address"] = custom.get("address") or None
        if data.get("conversation_id") is None and data.get("contact_id"):
            # the customer's newest conversation, so the completion notice can reach them
            data["conversation_id"] = await self.s.conversations.newest_of_contact(data["contact_id"])
        for attempt in range(5):
            try:
                wid = await self._insert(data, actor)
                break
            except IntegrityError:
                if attempt == 4:
                    raise
        async with self.s.db.read() as conn:
            row = (await conn.execute(select(w.work_orders).where(w.work_orders.c.id == wid))).first()
        return wo_public(row, self.s.clock.now())

    async def _insert(self, data: dict[str, Any], actor: User | None) -> str:
        now = self.s.clock.now()
        wid = new_id()
        async with self.s.db.tx() as tx:
            number = int((await tx.conn.execute(select(func.coalesce(func.max(w.work_orders.c.number), 0))))
                         .scalar() or 0) + 1
            await tx.conn.execute(w.work_orders.insert().values(
                id=wid, number=number, state="new", title=data["title"],
                description=data.get("description") or "", category=data.get("category"),
                priority=data.get("priority") or "normal", address=data.get("address"),
                contact_id=data.get("contact_id"), conversation_id=data.get("conversation_id"),
                ticket_id=data.get("ticket_id"), created_by=actor.id if actor else None,
                created_at=now, updated_at=now, late=False, meta={}))
            await self._history(tx, wid, "transition", actor, action="create", to_state="new",
                                data={"conversation_id": data.get("conversation_id"),
                                      "ticket_id": data.get("ticket_id")})
            dispatchers = await self.notifier.resolve([{"kind": "role", "role": "dispatcher"}])
            await self.notifier.notify(tx, dispatchers, kind="workorder_new", link=f"/workorders/{wid}",
                                       text=staff_text("notify.workorder_new", number=number, title=data["title"],
                                                       address=data.get("address") or ""))
            tx.emit(Event(WorkflowEventType.WORKORDER_CREATED, now, conversation_id=data.get("conversation_id"),
                          user_id=actor.id if actor else None,
                          data={"work_order_id": wid, "number": number, "category": data.get("category"),
                                **chain_data()}))
        return wid

    async def transition(self, user: User, wid: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        row = await self._visible_row(user, wid)
        act = wo_transition(row.state, action)
        perms = set(user.permissions)
        if "department" in perms and row.department_id not in await self.departments.of_user(user.id):
            perms.discard("department")
        if not any(p in perms for p in act.permissions):
            raise Forbidden(f"'{action}' needs one of the permissions {list(act.permissions)}")
        now = self.s.clock.now()
        values: dict[str, Any] = {"state": act.target, "updated_at": now}
        reason = (body.get("reason") or "").strip()
        if act.needs_reason and not reason:
            raise ValidationFailed(f"'{action}' needs a reason")
        data: dict[str, Any] = {}
        if action == "dispatch":
            dep = body.get("department_id") or row.department_id
            start, end = body.get("planned_start"), body.get("planned_end")
            if not dep or start is None or end is None:
                raise ValidationFailed("dispatch needs department_id, planned_start and planned_end")
            await self.departments.get(dep)
            if end <= start:
                raise ValidationFailed("planned_end must be after planned_start")
            values.update(department_id=dep, planned_start=float(start), planned_end=float(end), late=False)
            data = {"department_id": dep, "planned_start": start, "planned_end": end}
        elif action == "complete":
            values.update(completed_at=now, result=body.get("result") or body.get("note") or None)
        elif action == "close":
            values["closed_at"] = now
        elif action == "reopen":
            values.update(completed_at=None, closed_at=None, late=False)
        async with self.s.db.tx() as tx:
            res = await tx.conn.execute(update(w.work_orders).where(
                w.work_orders.c.id == wid, w.work_orders.c.state == row.state).values(**values))
            if res.rowcount != 1:
                raise InvalidTransition("the work order changed meanwhile; reload and try again",
                                        code="concurrent_change", details={"state": row.state})
            await self._history(tx, wid, "transition", user, action=action, from_state=row.state,
                                to_state=act.target, body=reason or body.get("note") or body.get("result"),
                                data=data)
            await self._after(tx, row, action, values, user, reason)
            tx.emit(Event(WorkflowEventType.WORKORDER_CHANGED, now, conversation_id=row.conversation_id,
                          user_id=user.id,
                          data={"work_order_id": wid, "action": action, "from": row.state,
                                "to": act.target, "department_id": values.get("department_id", row.department_id),
                                **chain_data()}))
        return await self.get(user, wid)

    async def _after(self, tx: Tx, row: Any, action: str, values: dict[str, Any], user: User,
                     reason: str) -> None:
        """Timers and notifications that follow a transition (same transaction)."""
        sched = self.s.scheduler
        wid, num = row.id, row.number
        link = f"/workorders/{wid}"
        dep = values.get("department_id", row.department_id)
        if action == "dispatch":
            start, end = values["planned_start"], values["planned_end"]
            payload = {"work_order_id": wid}
            await sched.schedule(tx, kind="wo.reminder", due_at=start, key=wo_key(wid, "start"),
                                 payload={**payload, "which": "start"})
            lead = min(self.reminder_lead_s, (end - start) / 2)
            await sched.schedule(tx, kind="wo.reminder", due_at=end - lead, key=wo_key(wid, "due_soon"),
                                 payload={**payload, "which": "due_soon"})
            await sched.schedule(tx, kind="wo.late", due_at=end, key=wo_key(wid, "late"), payload=payload)
            members = await self.notifier.resolve([{"kind": "department", "department_id": dep}])
            await self.notifier.notify(tx, members, kind="workorder_assigned", link=link,
                                       text=staff_text("notify.workorder_assigned", number=num, title=row.title))
        elif action in ("complete", "cancel", "reopen"):
            for what in WO_TIMERS:
                await sched.cancel(tx, wo_key(wid, what))
        if action == "reject":
            dispatchers = await self.notifier.resolve([{"kind": "role", "role": "dispatcher"}])
            await self.notifier.notify(tx, dispatchers, kind="workorder_rejected", link=link,
                                       text=staff_text("notify.workorder_rejected", number=num, reason=reason))
        if action == "complete":
            # the customer notice is a durable timer: it survives a crash right after this commit
            await sched.schedule(tx, kind="wo.notify_customer", due_at=self.s.clock.now(),
                                 key=wo_key(wid, "notify"), payload={"work_order_id": wid})
            targets = await self.notifier.resolve([{"kind": "role", "role": "dispatcher"}])
            if row.created_by:
                targets.add(row.created_by)
            await self.notifier.notify(tx, targets - {user.id}, kind="workorder_completed", link=link,
                                       text=staff_text("notify.workorder_completed", number=num, title=row.title))

    async def add_note(self, user: User, wid: str, body: str,
                       attachment_ids: builtins.list[str] | None = None) -> dict[str, Any]:
        row = await self._visible_row(user, wid)
        if row.state in ("closed", "cancelled"):
            raise InvalidTransition(f"the work order is {row.state}", details={"state": row.state})
        async with self.s.db.tx() as tx:
            await self._history(tx, wid, "note", user, body=body, attachment_ids=attachment_ids)
            await tx.conn.execute(update(w.work_orders).where(w.work_orders.c.id == wid)
                                  .values(updated_at=self.s.clock.now()))
        return await self.get(user, wid)

    # --- timers -------------------------------------------------------------------------------------
    async def on_reminder(self, timer: Timer) -> None:
        wid, which = timer.payload["work_order_id"], timer.payload["which"]
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            row = (await tx.conn.execute(select(w.work_orders).where(w.work_orders.c.id == wid))).first()
            if row is None:
                return
            if which == "start" and row.state not in ("dispatched", "accepted"):
                return  # already on the way
            if which == "due_soon" and row.state in WO_DONE:
                return
            await self._history(tx, wid, "reminder", None, data={"which": which},
                                text=staff_text(f"history.wo_reminder_{which}"))
            members = await self.notifier.resolve([{"kind": "department", "department_id": row.department_id}])
            await self.notifier.notify(tx, members, kind="workorder_reminder", link=f"/workorders/{wid}",
                                       text=staff_text(f"notify.workorder_reminder_{which}", number=row.number,
                                                       title=row.title))
            tx.emit(Event(WorkflowEventType.WORKORDER_REMINDER, self.s.clock.now(),
                          data={"work_order_id": wid, "which": which}))

    async def on_late(self, timer: Timer) -> None:
        wid = timer.payload["work_order_id"]
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            row = (await tx.conn.execute(select(w.work_orders).where(w.work_orders.c.id == wid))).first()
            if row is None or row.state in WO_DONE:
                return
            await tx.conn.execute(update(w.work_orders).where(w.work_orders.c.id == wid).values(late=True))
            await self._history(tx, wid, "late", None, text=staff_text("history.wo_late"),
                                data={"planned_end": row.planned_end, "state": row.state})
            users = await self.notifier.resolve([{"kind": "department", "department_id": row.department_id},
                                                 {"kind": "role", "role": "dispatcher"}])
            await self.notifier.notify(tx, users, kind="workorder_late", link=f"/workorders/{wid}",
                                       text=staff_text("notify.workorder_late", number=row.number,
                                                       state=row.state, title=row.title))
            tx.emit(Event(WorkflowEventType.WORKORDER_LATE, self.s.clock.now(),
                          data={"work_order_id": wid, "state": row.state,
                                "department_id": row.department_id}))

    async def on_notify_customer(self, timer: Timer) -> None:
        wid = timer.payload["work_order_id"]
        async with self.s.db.read() as conn:
            row = (await conn.execute(select(w.work_orders).where(w.work_orders.c.id == wid))).first()
        if row is None:
            return
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            results = await self.customer.notify(tx, row)
            sent = [r for r in results if r["status"] == "sent"]
            outcome = [{"channel": r["channel"], "status": r["status"], "detail": r.get("detail") or ""}
                       for r in results]
            await self._history(tx, wid, "customer_notified", None, data={"results": results},
                                text=staff_text("history.customer_notified", results=outcome) if results
                                else staff_text("history.customer_not_reachable"))
            tx.emit(Event(WorkflowEventType.CUSTOMER_NOTIFIED, self.s.clock.now(),
                          conversation_id=row.conversation_id,
                          data={"work_order_id": wid, "channels": [r["channel"] for r in sent],
                                "results": results}))
