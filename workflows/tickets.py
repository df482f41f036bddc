"""Tickets (TICKET-1) and their SLA: deadlines in business hours of the queue's calendar, a reminder
``reminder_lead_s`` business seconds before each deadline and an escalation when it passes — all
durable timers of the hub scheduler, rescheduled or cancelled in the same transaction as the status
or priority change that moves them."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.acd import Calendar
from hub.db.uow import Tx
from hub.errors import NotFound, ValidationFailed
from hub.events import Event
from hub.security import new_id
from hub.services.conversations import referenced_contact
from hub.services.directory import calendar_from_mapping
from hub.services.scheduler import Timer
from workflows import sla
from workflows import tables as w
from workflows.chain import chain_data
from workflows.events import WorkflowEventType
from workflows.staff_texts import StaffText, history_text, staff_text
from workflows.statemachine import PRIORITIES, TICKET_TYPES, ticket_transition

if TYPE_CHECKING:
    from hub.app import Services
    from hub.ports import Assist
    from hub.services.auth import User
    from workflows.notifications import Notifier

RUNNING = ("new", "open")
TIMER_KEYS = {("first_response", "remind"), ("first_response", "breach"),
              ("resolution", "remind"), ("resolution", "breach")}


def timer_key(ticket_id: str, which: str, what: str) -> str:
    return f"sla:{ticket_id}:{which}:{what}"


def ticket_public(row: Any, now: float) -> dict[str, Any]:
    paused = row.status not in RUNNING and row.status not in ("resolved", "closed")
    return {
        "id": row.id, "number": row.number, "type": row.type, "category": row.category,
        "priority": row.priority, "status": row.status, "subject": row.subject,
        "description": row.description, "contact_id": row.contact_id, "queue_id": row.queue_id,
        "assignee_id": row.assignee_id, "created_by": row.created_by, "created_at": row.created_at,
        "updated_at": row.updated_at, "first_response_at": row.first_response_at,
        "resolved_at": row.resolved_at, "closed_at": row.closed_at,
        "sla": {
            "policy_id": row.sla_policy_id,
            "first_response_due": row.first_response_due,
            "resolution_due": row.resolution_due if row.sla_running_since is not None else None,
            "paused": paused and row.sla_policy_id is not None,
            "first_response_breached": row.first_response_breached,
            "resolution_breached": row.resolution_breached,
            "now": now,
        },
        "meta": row.meta or {},
    }


def history_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "at": row.at, "kind": row.kind, "actor_id": row.actor_id,
            "actor_name": row.actor_name, "from_status": row.from_status,
            "to_status": row.to_status, "body": row.body, "text": (row.data or {}).get("text"),
            "data": row.data or {}}


class Tickets:
    def __init__(self, services: Services, notifier: Notifier) -> None:
        self.s = services
        self.notifier = notifier

    # --- reading ---------------------------------------------------------------------------------
    async def _row(self, conn: Any, tid: str) -> Any:
        row = (await conn.execute(select(w.tickets).where(w.tickets.c.id == tid))).first()
        if row is None:
            raise NotFound(f"ticket {tid} does not exist")
        return row

    async def row(self, tid: str) -> Any:
        async with self.s.db.read() as conn:
            return await self._row(conn, tid)

    async def get(self, tid: str, user: User | None = None) -> dict[str, Any]:
        """The ticket with its history, work orders and linked conversations; for an agent
        (``user`` with ``desk``) only the linked conversations they may see (the visibility rule of
        ``ConversationService.can_view``, as everywhere)."""
        now = self.s.clock.now()
        async with self.s.db.read() as conn:
            row = await self._row(conn, tid)
            hist = (await conn.execute(select(w.ticket_history).where(w.ticket_history.c.ticket_id == tid)
                                       .order_by(w.ticket_history.c.at, w.ticket_history.c.id))).all()
            links = (await conn.execute(
                select(w.ticket_conversations.c.conversation_id, w.ticket_conversations.c.linked_at)
                .where(w.ticket_conversations.c.ticket_id == tid))).all()
            wos = (await conn.execute(select(w.work_orders.c.id, w.work_orders.c.number,
                                             w.work_orders.c.state, w.work_orders.c.title)
                                      .where(w.work_orders.c.ticket_id == tid))).all()
        out = ticket_public(row, now)
        out["history"] = [history_public(h) for h in hist]
        convs = await self.s.conversations.rows([r.conversation_id for r in links])
        out["conversations"] = [{"id": cv.id, "channel": cv.channel, "status": cv.status,
                                 "subject": cv.subject, "linked_at": r.linked_at}
                                for r in links if (cv := convs.get(r.conversation_id)) is not None
                                and (user is None or "desk" not in user.permissions
                                     or self.s.conversations.can_view(user, cv))]
        out["work_orders"] = [dict(r._mapping) for r in wos]
        out["contact"] = await self.s.contacts.get(row.contact_id) if row.contact_id else None
        pol = await self.policy(row.sla_policy_id) if row.sla_policy_id else None
        out["sla"]["policy_name"] = pol.name if pol else None
        return out

    async def list(self, *, status: str | None = None, type_: str | None = None,
                   assignee_id: str | None = None, q: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        c = w.tickets.c
        cond: list[Any] = []
        if status:
            cond.append(c.status.in_(status.split(",")))
        if type_:
            cond.append(c.type == type_)
        if assignee_id:
            cond.append(c.assignee_id == assignee_id)
        if q:
            like = f"%{q.lower()}%"
            cond.append(or_(func.lower(c.subject).like(like), func.lower(c.description).like(like)))
        now = self.s.clock.now()
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.tickets).where(*cond)
                                       .order_by(desc(c.created_at)).limit(limit))).all()
        names = await self.s.contacts.names(r.contact_id for r in rows)
        items = []
        for r in rows:
            item = ticket_public(r, now)
            item["contact_name"] = names.get(r.contact_id)
            items.append(item)
        return items

    async def open_for_conversation(self, cid: str) -> builtins.list[Any]:
        async with self.s.db.read() as conn:
            return list((await conn.execute(select(w.tickets).join(
                w.ticket_conversations, w.ticket_conversations.c.ticket_id == w.tickets.c.id).where(
                w.ticket_conversations.c.conversation_id == cid,
                w.tickets.c.status.notin_(("resolved", "closed"))))).all())

    async def prefill(self, user: User, cid: str) -> dict[str, Any]:
        """What a new ticket from this conversation starts with: contact, subject, the last
        messages, and the assist summary/entities when the assist component offers them."""
        detail = await self.s.conversations.detail(user, cid)
        msgs = [m for m in detail["messages"] if m["kind"] != "note"][-6:]
        first = next((m["body"] for m in detail["messages"] if m["sender"] == "customer"), "")
        out: dict[str, Any] = {
            "conversation_id": cid, "contact": detail["contact"], "queue_id": detail["queue_id"],
            "subject": (detail.get("subject") or first or "Conversation")[:120],
            "description": "\n".join(f"{m['sender_name'] or m['sender']}: {m['body']}" for m in msgs),
            "summary": None, "entities": [], "suggested_type": None, "suggested_category": None,
        }
        assist = self.s.ports.assist
        if assist is not None:
            await self._assist_prefill(assist, cid, out)
        return out

    @staticmethod
    async def _assist_prefill(assist: Assist, cid: str, out: dict[str, Any]) -> None:
        """Summary, entities and a suggested category from the assist component (ASSIST-1), each
        optional: a failing part leaves the form as it is."""
        async def ask(answer: Awaitable[Any]) -> Any:
            try:
                return await answer
            except Exception:  # noqa: BLE001 - assist is optional; the form still works
                return None

        summary = await ask(assist.summarise(cid))
        if isinstance(summary, dict) and summary.get("text"):
            out["summary"] = summary["text"]
        entities = await ask(assist.entities(cid))
        if isinstance(entities, list):
            out["entities"] = [{"kind": e.get("kind"), "value": e.get("value")} for e in entities
                               if isinstance(e, dict)]
        text = await ask(assist.conversation_text(cid))
        if isinstance(text, str) and text:
            # learnt from the categories of earlier tickets and work orders (never a disposition)
            cats = await ask(assist.suggest_ticket_category(text))
            if isinstance(cats, list) and cats and isinstance(cats[0], dict):
                out["suggested_category"] = cats[0].get("category")

    # --- SLA ------------------------------------------------------------------------------------------
    async def policies(self) -> builtins.list[sla.Policy]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.sla_policies).where(w.sla_policies.c.active.is_(True)))).all()
        return [sla.Policy.from_row(r) for r in rows]

    async def policy(self, pid: str) -> sla.Policy | None:
        async with self.s.db.read() as conn:
            row = (await conn.execute(select(w.sla_policies).where(w.sla_policies.c.id == pid))).first()
        return sla.Policy.from_row(row) if row else None

    async def calendar(self, policy: sla.Policy | None, queue_id: str | None) -> Calendar | None:
        cal_id = policy.calendar_id if policy else None
        if cal_id is None and queue_id:
            try:
                cal_id = (await self.s.directory.get_queue(queue_id)).get("calendar_id")
            except NotFound:
                cal_id = None
        if not cal_id:
            return None
        try:
            return calendar_from_mapping(await self.s.directory.get_calendar(cal_id))
        except NotFound:
            return None

    async def _vip(self, contact_id: str | None) -> bool:
        if not contact_id:
            return False
        try:
            return bool((await self.s.contacts.get(contact_id))["vip"])
        except NotFound:
            return False

    async def _plan(self, tx: Tx, tk: dict[str, Any], now: float) -> dict[str, Any]:
        """Match the policy, compute the deadlines, (re)schedule or cancel the timers; return the
        SLA column values for the ticket."""
        sched = self.s.scheduler
        policy = sla.match_policy(await self.policies(), tk["type"], tk["priority"],
                                  await self._vip(tk.get("contact_id")))
        tid = tk["id"]
        values: dict[str, Any] = {"sla_policy_id": policy.id if policy else None}
        if policy is None:
            for which, what in TIMER_KEYS:
                await sched.cancel(tx, timer_key(tid, which, what))
            values.update(first_response_due=None, resolution_due=None)
            return values
        cal = await self.calendar(policy, tk.get("queue_id"))
        # first response
        d = sla.first_response(cal, policy, tk["created_at"])
        values["first_response_due"] = d.due
        if tk.get("first_response_at") is None and tk["status"] not in ("resolved", "closed"):
            await self._arm(tx, tid, d, now, tk.get("first_response_breached", False))
        else:
            for what in ("remind", "breach"):
                await sched.cancel(tx, timer_key(tid, "first_response", what))
        # resolution
        running_since = tk.get("sla_running_since")
        if tk["status"] in RUNNING and running_since is not None:
            d = sla.resolution(cal, policy, running_since, tk.get("sla_consumed_s") or 0.0)
            values["resolution_due"] = d.due
            await self._arm(tx, tid, d, now, tk.get("resolution_breached", False))
        else:
            for what in ("remind", "breach"):
                await sched.cancel(tx, timer_key(tid, "resolution", what))
        return values

    async def _arm(self, tx: Tx, tid: str, d: sla.Deadline, now: float, breached: bool) -> None:
        sched = self.s.scheduler
        payload = {"ticket_id": tid, "which": d.which, "due": d.due}
        if d.remind_at is not None and d.remind_at > now and not breached:
            await sched.schedule(tx, kind="sla.reminder", due_at=d.remind_at, payload=payload,
                                 key=timer_key(tid, d.which, "remind"))
        else:
            await sched.cancel(tx, timer_key(tid, d.which, "remind"))
        if not breached:
            await sched.schedule(tx, kind="sla.breach", due_at=d.due, payload=payload,
                                 key=timer_key(tid, d.which, "breach"))
        else:
            await sched.cancel(tx, timer_key(tid, d.which, "breach"))

    async def _pause_values(self, row: Any, now: float) -> dict[str, Any]:
        if row.sla_running_since is None:
            return {}
        policy = await self.policy(row.sla_policy_id) if row.sla_policy_id else None
        cal = await self.calendar(policy, row.queue_id)
        used = sla.business_between(cal, row.sla_running_since, now)
        return {"sla_consumed_s": (row.sla_consumed_s or 0.0) + max(0.0, used),
                "sla_running_since": None}

    # --- writing ----------------------------------------------------------------------------------
    async def _history(self, tx: Tx, tid: str, kind: str, actor: User | None, *, body: str | None = None,
                       from_status: str | None = None, to_status: str | None = None,
                       data: dict[str, Any] | None = None, at: float | None = None,
                       text: StaffText | None = None) -> None:
        """One history line; ``body``: a person's words, ``text``: the hub's own (see
        ``workflows.staff_texts.history_text``)."""
        await tx.conn.execute(w.ticket_history.insert().values(
            id=new_id(), ticket_id=tid, at=at if at is not None else self.s.clock.now(), kind=kind,
            actor_id=actor.id if actor else None,
            actor_name=actor.display_name if actor else "system", from_status=from_status,
            to_status=to_status, **history_text(body, data, text)))

    async def _check_refs(self, data: dict[str, Any], actor: User | None) -> dict[str, Any]:
        out = dict(data)
        if out.get("type") is not None and out["type"] not in TICKET_TYPES:
            raise ValidationFailed(f"type must be one of {', '.join(TICKET_TYPES)}")
        if out.get("priority") is not None and out["priority"] not in PRIORITIES:
            raise ValidationFailed(f"priority must be one of {', '.join(PRIORITIES)}")
        if out.get("conversation_id"):
            conv = await self.s.conversations.require_reference(actor, out["conversation_id"])
            out.setdefault("contact_id", None)
            if not out.get("contact_id"):
                out["contact_id"] = referenced_contact(conv, actor)
            if not out.get("queue_id"):
                out["queue_id"] = conv.queue_id
        if out.get("contact_id"):
            await self.s.contacts.get(out["contact_id"])
        if out.get("queue_id"):
            await self.s.directory.get_queue(out["queue_id"])
        if out.get("assignee_id"):
            await self.s.auth.get_user(out["assignee_id"])
        return out

    async def create(self, data: dict[str, Any], actor: User | None) -> dict[str, Any]:
        data = await self._check_refs(data, actor)
        for attempt in range(5):
            try:
                tid = await self._insert(data, actor)
                break
            except IntegrityError:
                if attempt == 4:
                    raise
        return await self.get(tid)

    async def _insert(self, data: dict[str, Any], actor: User | None) -> str:
        now = self.s.clock.now()
        tid = new_id()
        answered = await self._answered_at(data.get("conversation_id"))
        async with self.s.db.tx() as tx:
            number = int((await tx.conn.execute(select(func.coalesce(func.max(w.tickets.c.number), 0))))
                         .scalar() or 0) + 1
            tk = {"id": tid, "number": number, "type": data["type"], "category": data.get("category"),
                  "priority": data.get("priority") or "normal", "status": "new",
                  "subject": data["subject"], "description": data.get("description") or "",
                  "contact_id": data.get("contact_id"), "queue_id": data.get("queue_id"),
                  "assignee_id": data.get("assignee_id"), "created_by": actor.id if actor else None,
                  "created_at": now, "updated_at": now, "sla_consumed_s": 0.0,
                  "sla_running_since": now, "first_response_breached": False,
                  "resolution_breached": False, "meta": dict(data.get("meta") or {})}
            if answered is not None:
                # an agent already wrote to the customer in the conversation the ticket comes
                # from: its first response is given (no first-response timer, no breach)
                tk["first_response_at"] = now
            tk.update(await self._plan(tx, tk, now))
            await tx.conn.execute(w.tickets.insert().values(**tk))
            if data.get("conversation_id"):
                await tx.conn.execute(w.ticket_conversations.insert().values(
                    ticket_id=tid, conversation_id=data["conversation_id"], linked_at=now))
            await self._history(tx, tid, "created", actor, to_status="new",
                                data={"type": tk["type"], "priority": tk["priority"],
                                      "conversation_id": data.get("conversation_id")})
            if answered is not None:
                await self._history(tx, tid, "first_response", None,
                                    data={"conversation_id": data["conversation_id"], "answered_at": answered})
            tx.emit(Event(WorkflowEventType.TICKET_CREATED, now, conversation_id=data.get("conversation_id"),
                          user_id=actor.id if actor else None, queue_id=tk["queue_id"],
                          data={"ticket_id": tid, "number": number, "type": tk["type"],
                                "priority": tk["priority"], "category": tk["category"], **chain_data()}))
        return tid

    async def _answered_at(self, cid: str | None) -> float | None:
        """When an agent first wrote to the customer in conversation ``cid`` (notes do not count)."""
        if not cid:
            return None
        msgs = await self.s.conversations.messages(cid, include_notes=False)
        return next((m["created_at"] for m in msgs if m["sender"] == "agent" and m["kind"] == "message"), None)

    async def update(self, tid: str, data: dict[str, Any], actor: User | None) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if v is not None}
        data = await self._check_refs(data, actor)
        row = await self.row(tid)
        fields: dict[str, Any] = {k: data[k] for k in ("type", "category", "priority", "subject", "description",
                                       "queue_id", "assignee_id") if k in data and data[k] != getattr(row, k)}
        if not fields:
            return await self.get(tid)
        now = self.s.clock.now()
        async with self.s.db.tx() as tx:
            values = dict(fields, updated_at=now)
            if {"type", "priority", "queue_id"} & set(fields):
                tk = {**row._mapping, **fields}
                values.update(await self._plan(tx, tk, now))
            await tx.conn.execute(update(w.tickets).where(w.tickets.c.id == tid).values(**values))
            await self._history(tx, tid, "updated", actor,
                                data={k: {"from": getattr(row, k), "to": v} for k, v in fields.items()})
            tx.emit(Event(WorkflowEventType.TICKET_UPDATED, now, user_id=actor.id if actor else None,
                          queue_id=values.get("queue_id", row.queue_id),
                          data={"ticket_id": tid, "fields": sorted(fields), **chain_data()}))
        return await self.get(tid)

    async def set_status(self, tid: str, to: str, actor: User | None, note: str | None = None) -> dict[str, Any]:
        row = await self.row(tid)
        ticket_transition(row.status, to)
        now = self.s.clock.now()
        values: dict[str, Any] = {"status": to, "updated_at": now}
        if row.status == "new" and row.first_response_at is None and actor is not None:
            values["first_response_at"] = now
        if to in RUNNING and row.status not in RUNNING:
            values["sla_running_since"] = now
        elif to not in RUNNING and row.status in RUNNING:
            values.update(await self._pause_values(row, now))
        if to == "resolved":
            values["resolved_at"] = now
        elif to == "closed":
            values["closed_at"] = now
        elif to == "open" and row.status in ("resolved", "closed"):
            values.update(resolved_at=None, closed_at=None)
        async with self.s.db.tx() as tx:
            tk = {**row._mapping, **values}
            values.update(await self._plan(tx, tk, now))
            res = await tx.conn.execute(update(w.tickets).where(
                w.tickets.c.id == tid, w.tickets.c.status == row.status).values(**values))
            if res.rowcount != 1:
                # someone else changed it meanwhile: refuse rather than overwrite
                ticket_transition(to, to)
            await self._history(tx, tid, "status", actor, from_status=row.status, to_status=to, body=note)
            tx.emit(Event(WorkflowEventType.TICKET_STATUS_CHANGED, now, user_id=actor.id if actor else None,
                          queue_id=row.queue_id,
                          data={"ticket_id": tid, "from": row.status, "to": to, **chain_data()}))
        return await self.get(tid)

    async def add_note(self, tid: str, body: str, actor: User,
                       attachment_ids: builtins.list[str] | None = None) -> dict[str, Any]:
        await self.row(tid)
        async with self.s.db.tx() as tx:
            await self._history(tx, tid, "note", actor, body=body,
                                data={"attachment_ids": attachment_ids or []})
            await tx.conn.execute(update(w.tickets).where(w.tickets.c.id == tid)
                                  .values(updated_at=self.s.clock.now()))
        return await self.get(tid)

    async def link(self, tid: str, cid: str, actor: User) -> dict[str, Any]:
        await self.row(tid)
        await self.s.conversations.require_reference(actor, cid)  # as for creating a ticket from it
        async with self.s.db.read() as conn:
            exists = (await conn.execute(select(w.ticket_conversations).where(
                w.ticket_conversations.c.ticket_id == tid,
                w.ticket_conversations.c.conversation_id == cid))).first()
        if exists is None:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(w.ticket_conversations.insert().values(
                    ticket_id=tid, conversation_id=cid, linked_at=self.s.clock.now()))
                await self._history(tx, tid, "linked", actor, data={"conversation_id": cid})
        return await self.get(tid)

    async def attachment_ids(self, tid: str) -> set[str]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.ticket_history.c.data).where(
                w.ticket_history.c.ticket_id == tid))).scalars()
            return {a for d in rows for a in (d or {}).get("attachment_ids", [])}

    async def first_response_by_message(self, cid: str, at: float) -> None:
        """An agent wrote to the customer in a linked conversation: the first response."""
        for row in await self.open_for_conversation(cid):
            if row.first_response_at is not None:
                continue
            async with self.s.db.tx() as tx:
                res = await tx.conn.execute(update(w.tickets).where(
                    w.tickets.c.id == row.id, w.tickets.c.first_response_at.is_(None))
                    .values(first_response_at=at, updated_at=at))
                if res.rowcount:
                    for what in ("remind", "breach"):
                        await self.s.scheduler.cancel(tx, timer_key(row.id, "first_response", what))
                    await self._history(tx, row.id, "first_response", None,
                                        data={"conversation_id": cid})

    # --- timers -------------------------------------------------------------------------------------
    def _still_due(self, row: Any, which: str) -> bool:
        if which == "first_response":
            return row.first_response_at is None and row.status not in ("resolved", "closed")
        return row.status in RUNNING and row.sla_running_since is not None

    async def on_reminder(self, timer: Timer) -> None:
        tid, which = timer.payload["ticket_id"], timer.payload["which"]
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            row = (await tx.conn.execute(select(w.tickets).where(w.tickets.c.id == tid))).first()
            if row is None or not self._still_due(row, which):
                return
            due = timer.payload["due"]
            await self._history(tx, tid, "sla_reminder", None, data={"which": which, "due": due},
                                text=staff_text("history.sla_reminder", which=which, due=due))
            users = {row.assignee_id} if row.assignee_id else (
                await self.notifier.resolve([{"kind": "queue", "queue_id": row.queue_id}])
                if row.queue_id else set())
            if row.created_by and not row.assignee_id:
                users.add(row.created_by)
            await self.notifier.notify(
                tx, users, kind="sla_reminder", link=f"/tickets/{tid}",
                text=staff_text("notify.sla_reminder", number=row.number, which=which, subject=row.subject))
            tx.emit(Event(WorkflowEventType.SLA_REMINDER, self.s.clock.now(), queue_id=row.queue_id,
                          data={"ticket_id": tid, "which": which, "due": due}))

    async def on_breach(self, timer: Timer) -> None:
        tid, which = timer.payload["ticket_id"], timer.payload["which"]
        policy = None
        async with self.s.db.read() as conn:
            pre = (await conn.execute(select(w.tickets).where(w.tickets.c.id == tid))).first()
        if pre is not None and pre.sla_policy_id:
            policy = await self.policy(pre.sla_policy_id)
        targets = await self.notifier.resolve(policy.escalate_to if policy else [{"kind": "supervisors"}],
                                              assignee_id=pre.assignee_id if pre else None)
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            row = (await tx.conn.execute(select(w.tickets).where(w.tickets.c.id == tid))).first()
            if row is None or not self._still_due(row, which):
                return
            flag = f"{which}_breached"
            await tx.conn.execute(update(w.tickets).where(w.tickets.c.id == tid).values({flag: True}))
            await self._history(tx, tid, "sla_escalated", None,
                                text=staff_text("history.sla_escalated", which=which),
                                data={"which": which, "due": timer.payload["due"],
                                      "notified": sorted(targets)})
            await self.notifier.notify(
                tx, targets, kind="sla_escalation", link=f"/tickets/{tid}",
                text=staff_text("notify.sla_escalation", number=row.number, which=which, subject=row.subject))
            tx.emit(Event(WorkflowEventType.SLA_ESCALATED, self.s.clock.now(), queue_id=row.queue_id,
                          data={"ticket_id": tid, "which": which, "due": timer.payload["due"],
                                "notified": sorted(targets)}))
