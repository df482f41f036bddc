"""Automation rules (FLOW-1): stored as data, run on committed hub events, dry-run on demand.

Each committed event of a type some enabled rule listens to gets a context (contact,
conversation, message, ticket, work order, time), every matching rule's actions run in order,
and the firing is stored in the event log (``rule.fired`` with the chain id, depth and each
action's result). Loop protection: events caused by a rule's action belong to the same chain
(``workflows.chain``); a rule fires at most once per chain and a chain stops at ``max_depth``
(``rule.loop_blocked`` is stored when either stops a firing)."""

from __future__ import annotations

import builtins
import logging
import time
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.db.consumers import claim_effect, effect_done
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.auth import User
from hub.services.contacts import normalize_phone
from hub.services.directory import calendar_from_mapping
from hub.services.scheduler import Timer
from workflows import rules as R
from workflows import tables as w
from workflows.chain import Chain, acting_in, current
from workflows.events import WorkflowEventType
from workflows.staff_texts import StaffText, staff_text

if TYPE_CHECKING:
    from hub.app import Services
    from workflows.notifications import Notifier
    from workflows.tickets import Tickets
    from workflows.workorders import WorkOrders

log = logging.getLogger(__name__)

# The rule engine acts as this user (audit trail: "rules"); supervisor rights for transfers.
RULES_USER = User(id="rules", username="rules", display_name="Automation rule", roles=("supervisor",))
CACHE_S = 5.0
#: the parts of a rule's context that come with the event (see ``RuleEngine.event_context``)
EVENT_SECTIONS = frozenset({"event", "message"})
CHAIN_MEMORY = 10_000  # chains whose fired rules are remembered (a replay falls back on the events)
#: the rule engine's durable event consumer (its checkpoint and idempotency keys)
CONSUMER = "workflows.rules"
CONV_PRIORITY = {"low": 0, "normal": 0, "high": 5, "urgent": 10}


def rule_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "event": row.event, "conditions": row.conditions,
            "actions": row.actions, "enabled": row.enabled, "position": row.position,
            "created_at": row.created_at, "updated_at": row.updated_at}


def claimed_identity(cv: Any) -> dict[str, Any]:
    """A rule's ``contact`` for a chat whose customer has not proven the contact they claimed
    (hub/services/identity.py): the name, email and phone they typed, nothing stored."""
    typed = (cv.meta or {}).get("prechat") or {}
    return {"id": None, "name": typed.get("name") or "", "email": typed.get("email"),
            "phone": normalize_phone(typed.get("phone")), "company": None, "tags": [], "vip": False,
            "owner_agent_id": None, "custom": {}, "verified": False}


class RuleEngine:
    def __init__(self, services: Services, notifier: Notifier, tickets: Tickets,
                 workorders: WorkOrders, max_depth: int = R.MAX_DEPTH) -> None:
        self.s = services
        self.notifier = notifier
        self.tickets = tickets
        self.workorders = workorders
        self.max_depth = max_depth
        self._cache: list[dict[str, Any]] | None = None
        self._chains: OrderedDict[str, set[str]] = OrderedDict()  # chain id -> rules fired in it
        self._cache_at = 0.0

    # --- storage ------------------------------------------------------------------------------------
    async def list(self) -> list[dict[str, Any]]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.rules).order_by(w.rules.c.position, w.rules.c.name))).all()
        return [rule_public(r) for r in rows]

    async def get(self, rid: str) -> dict[str, Any]:
        for r in await self.list():
            if r["id"] == rid:
                return r
        raise NotFound(f"rule {rid} does not exist")

    async def validate(self, data: dict[str, Any]) -> None:
        if data["event"] not in R.RULE_EVENTS:
            raise ValidationFailed(f"event must be one of {', '.join(R.RULE_EVENTS)}",
                                   details={"errors": [{"loc": ["body", "event"],
                                                        "msg": "unknown event type"}]})
        R.check_condition(data["conditions"])
        queues = {q["id"] for q in await self.s.directory.list_queues()}
        users = {u.id for u in await self.s.auth.list_users()}
        for i, a in enumerate(data["actions"]):
            where = f"actions[{i}]"
            if a["type"] == "assign":
                if not a.get("queue_id") and not a.get("user_id"):
                    raise ValidationFailed(f"{where}: assign needs queue_id or user_id")
                if a.get("queue_id") and a["queue_id"] not in queues:
                    raise ValidationFailed(f"{where}: queue {a['queue_id']} does not exist")
                if a.get("user_id") and a["user_id"] not in users:
                    raise ValidationFailed(f"{where}: user {a['user_id']} does not exist")
            if a["type"] == "send_template":
                await self._check_send_template(a, where)
            if a["type"] == "notify":
                for tg in a["targets"]:
                    need = {"role": "role", "user": "user_id", "department": "department_id",
                            "queue": "queue_id"}.get(tg["kind"])
                    if need and not tg.get(need):
                        raise ValidationFailed(f"{where}: a '{tg['kind']}' target needs {need}")

    async def _check_send_template(self, a: dict[str, Any], where: str) -> None:
        if bool(a.get("template")) == bool(a.get("email_template_id")):
            raise ValidationFailed(f"{where}: send_template needs either template (the text) or "
                                   "email_template_id (a stored email template), not both")
        if a.get("email_template_id"):
            email = self.s.ports.email
            if email is None:
                raise ValidationFailed(f"{where}: stored email templates need the email channel")
            try:
                await email.templates_svc.get(a["email_template_id"])
            except NotFound as err:
                raise ValidationFailed(f"{where}: email template {a['email_template_id']} "
                                       "does not exist") from err

    async def create(self, data: dict[str, Any], actor: User) -> dict[str, Any]:
        await self.validate(data)
        rid = new_id()
        now = self.s.clock.now()
        try:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(w.rules.insert().values(
                    id=rid, name=data["name"], event=data["event"], conditions=data["conditions"],
                    actions=data["actions"], enabled=data.get("enabled", True),
                    position=data.get("position", 0), created_at=now, updated_at=now))
                tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id,
                              data={"entity": "rule", "id": rid, "action": "create"}))
        except IntegrityError as err:
            raise Conflict(f"a rule named {data['name']!r} exists") from err
        self._cache = None
        return await self.get(rid)

    async def update(self, rid: str, patch: dict[str, Any], actor: User) -> dict[str, Any]:
        cur = await self.get(rid)
        merged = {**cur, **{k: v for k, v in patch.items() if v is not None}}
        await self.validate(merged)
        values = {k: merged[k] for k in ("name", "event", "conditions", "actions", "enabled", "position")}
        try:
            async with self.s.db.tx() as tx:
                await tx.conn.execute(update(w.rules).where(w.rules.c.id == rid)
                                      .values(**values, updated_at=self.s.clock.now()))
                tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                              data={"entity": "rule", "id": rid, "action": "update"}))
        except IntegrityError as err:
            raise Conflict(f"a rule named {merged['name']!r} exists") from err
        self._cache = None
        return await self.get(rid)

    async def delete(self, rid: str, actor: User) -> None:
        await self.get(rid)
        async with self.s.db.tx() as tx:
            await tx.conn.execute(delete(w.rules).where(w.rules.c.id == rid))
            tx.emit(Event(EventType.ADMIN_CHANGED, self.s.clock.now(), user_id=actor.id,
                          data={"entity": "rule", "id": rid, "action": "delete"}))
        self._cache = None

    async def _enabled(self, event_type: str) -> builtins.list[dict[str, Any]]:
        # re-read now and then: another server process may have changed the rules
        if self._cache is None or time.monotonic() - self._cache_at > CACHE_S:
            self._cache = [r for r in await self.list() if r["enabled"]]
            self._cache_at = time.monotonic()
        return [r for r in self._cache if r["event"] == event_type]

    # --- context -----------------------------------------------------------------------------------
    def event_context(self, etype: str, data: dict[str, Any], at: float) -> dict[str, Any]:
        """The part of the context an event carries itself (no reads): ``event`` and ``message``."""
        ctx: dict[str, Any] = {"event": {"type": etype, **{k: v for k, v in data.items()
                                                           if isinstance(v, str | int | float | bool)}},
                               "time": {"now": at}}
        if isinstance(data.get("message"), dict):
            m = data["message"]
            ctx["message"] = {k: m.get(k) for k in ("id", "kind", "sender", "body", "sender_name")}
        return ctx

    async def context(self, etype: str, *, conversation_id: str | None = None, ticket_id: str | None = None,
                      work_order_id: str | None = None, contact_id: str | None = None,
                      data: dict[str, Any] | None = None, at: float | None = None) -> dict[str, Any]:
        data = dict(data or {})
        ctx: dict[str, Any] = {"event": {"type": etype, **{k: v for k, v in data.items()
                                                           if isinstance(v, str | int | float | bool)}}}
        ticket_id = ticket_id or data.get("ticket_id")
        work_order_id = work_order_id or data.get("work_order_id")
        async with self.s.db.read() as conn:
            if ticket_id:
                tk = (await conn.execute(select(w.tickets).where(w.tickets.c.id == ticket_id))).first()
                if tk is not None:
                    ctx["ticket"] = {k: tk._mapping[k] for k in (
                        "id", "number", "type", "category", "priority", "status", "subject",
                        "queue_id", "assignee_id", "first_response_breached", "resolution_breached")}
                    contact_id = contact_id or tk.contact_id
                    if not conversation_id:
                        conversation_id = (await conn.execute(select(w.ticket_conversations.c.conversation_id)
                                                              .where(w.ticket_conversations.c.ticket_id == tk.id)
                                                              .limit(1))).scalar()
            if work_order_id:
                wo = (await conn.execute(select(w.work_orders).where(w.work_orders.c.id == work_order_id))).first()
                if wo is not None:
                    ctx["workorder"] = {k: wo._mapping[k] for k in (
                        "id", "number", "state", "title", "category", "priority", "department_id", "late")}
                    contact_id = contact_id or wo.contact_id
                    conversation_id = conversation_id or wo.conversation_id
            if conversation_id:
                cv = (await self.s.conversations.rows([conversation_id])).get(conversation_id)
                if cv is not None:
                    ctx["conversation"] = {k: cv._mapping[k] for k in (
                        "id", "channel", "status", "queue_id", "assignee_id", "priority", "subject",
                        "direction", "csat_rating")}
                    contact_id = contact_id or cv.contact_id
                    if not contact_id and cv.claimed_contact_id:
                        # an unverified chat: only what the customer typed, never the contact
                        # they claimed (its VIP flag, custom fields, stored phone)
                        ctx["contact"] = claimed_identity(cv)
        if isinstance(data.get("message"), dict):
            m = data["message"]
            ctx["message"] = {k: m.get(k) for k in ("id", "kind", "sender", "body", "sender_name")}
        if contact_id:
            try:
                ctx["contact"] = await self.s.contacts.get(contact_id)
            except NotFound:
                pass
        now = at if at is not None else self.s.clock.now()
        ctx["time"] = {"now": now}
        cal = await self._queue_calendar((ctx.get("conversation") or ctx.get("ticket") or {}).get("queue_id"))
        zone = ZoneInfo(cal.tz) if cal is not None else ZoneInfo("UTC")
        local = datetime.fromtimestamp(now, zone)
        ctx["time"].update(hour=local.hour, weekday=local.weekday(), date=local.date().isoformat(),
                           open=cal.is_open(now) if cal is not None else True)
        return ctx

    async def _queue_calendar(self, queue_id: str | None) -> Any:
        if not queue_id:
            return None
        try:
            cal_id = (await self.s.directory.get_queue(queue_id)).get("calendar_id")
            return calendar_from_mapping(await self.s.directory.get_calendar(cal_id)) if cal_id else None
        except NotFound:
            return None

    async def _open_checker(self, ctx: dict[str, Any]) -> Any:
        cals: dict[str, Any] = {}
        for c in await self.s.directory.list_calendars():
            cals[c["id"]] = calendar_from_mapping(c)
        now = ctx["time"]["now"]

        def is_open(calendar_id: str | None) -> bool | None:
            if calendar_id is None:
                return ctx["time"]["open"]
            cal = cals.get(calendar_id)
            return None if cal is None else cal.is_open(now)
        return is_open

    # --- running --------------------------------------------------------------------------------------
    def _fired_in(self, chain_id: str, known: set[str]) -> set[str]:
        fired = self._chains.pop(chain_id, None) or set()
        fired |= known
        self._chains[chain_id] = fired
        while len(self._chains) > CHAIN_MEMORY:
            self._chains.popitem(last=False)
        return fired

    async def on_event(self, ev: Event) -> None:
        etype = str(ev.type)
        if etype not in R.RULE_EVENTS:
            return
        if ev.type is EventType.MESSAGE_CREATED and (ev.data.get("message") or {}).get("kind") == "note":
            return
        rules = await self._enabled(etype)
        if not rules:
            return
        parent = current()
        chain = parent.child() if parent is not None else Chain(root_event=etype)
        # one set of fired rules per chain, shared by every event of the chain this process handles
        # (events are handled one after another here, after the actions that caused them ended)
        chain.fired = self._fired_in(chain.id, chain.fired)
        # Conditions that read only what the event carries (a message's text) are evaluated
        # without reading the conversation, contact or calendars: most events match no rule.
        light = set().union(*(R.sections(r["conditions"]) for r in rules)) <= EVENT_SECTIONS
        full = None if light else await self.context(etype, conversation_id=ev.conversation_id,
                                                    data=ev.data, at=ev.at)
        ctx = full if full is not None else self.event_context(etype, ev.data, ev.at)
        is_open = await self._open_checker(ctx) if not light else (lambda _c: None)
        for rule in rules:
            matched, trace = R.evaluate(rule["conditions"], ctx, is_open)
            if not matched:
                continue
            if full is None:  # the actions and their templates see the whole context
                full = ctx = await self.context(etype, conversation_id=ev.conversation_id, data=ev.data, at=ev.at)
            # a replayed event (after a crash) whose firing is already stored does not fire again
            effect = f"{ev.id}:{rule['id']}" if ev.id is not None else None
            if effect is not None and await effect_done(self.s.db, CONSUMER, effect):
                continue
            if rule["id"] in chain.fired or chain.depth >= self.max_depth:
                why = "already fired in this chain" if rule["id"] in chain.fired else \
                    f"chain depth {chain.depth} reached the limit {self.max_depth}"
                async with self.s.db.tx() as tx:
                    if effect is not None and not await claim_effect(tx, CONSUMER, effect, self.s.clock.now()):
                        continue
                    tx.emit(Event(WorkflowEventType.RULE_LOOP_BLOCKED, self.s.clock.now(),
                                  conversation_id=ev.conversation_id,
                                  data={"rule_id": rule["id"], "rule": rule["name"], "event": etype,
                                        "chain_id": chain.id, "depth": chain.depth, "reason": why}))
                continue
            chain.fired.add(rule["id"])
            results = []
            with acting_in(chain):
                for action in rule["actions"]:
                    try:
                        res = await self.run_action(action, ctx, rule)
                    except Exception as err:  # noqa: BLE001 - record the failure, keep going
                        log.warning("rule %s action %s failed: %s", rule["name"], action["type"], err)
                        res = {"status": "failed", "detail": f"{getattr(err, 'detail', err)}"[:300]}
                    results.append({"type": action["type"], **res})
            async with self.s.db.tx() as tx:
                if effect is not None:
                    await claim_effect(tx, CONSUMER, effect, self.s.clock.now())
                tx.emit(Event(WorkflowEventType.RULE_FIRED, self.s.clock.now(), conversation_id=ev.conversation_id,
                              data={"rule_id": rule["id"], "rule": rule["name"], "event": etype,
                                    "chain_id": chain.id, "depth": chain.depth, "trace": trace,
                                    "results": results}))

    async def run_action(self, a: dict[str, Any], ctx: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
        kind = a["type"]
        conv = ctx.get("conversation")
        ticket = ctx.get("ticket")
        contact = ctx.get("contact")
        if kind == "assign":
            if ticket:
                await self.tickets.update(ticket["id"], {"queue_id": a.get("queue_id"),
                                                         "assignee_id": a.get("user_id")}, RULES_USER)
                return {"status": "done", "ticket_id": ticket["id"]}
            if conv:
                return await self._route_conversation(conv, a, ctx["event"]["type"])
            return {"status": "skipped", "detail": "nothing to assign"}
        if kind == "set_priority":
            if ticket:
                await self.tickets.update(ticket["id"], {"priority": a["priority"]}, RULES_USER)
                return {"status": "done", "ticket_id": ticket["id"]}
            if conv:
                return await self._conversation_priority(conv, a["priority"], contact)
            return {"status": "skipped", "detail": "no ticket or conversation"}
        if kind == "create_ticket":
            subject = R.render(a.get("subject") or "", ctx) or (conv or {}).get("subject") \
                or ((ctx.get("message") or {}).get("body") or "")[:120] or rule["name"]
            tk = await self.tickets.create({
                "type": a["ticket_type"], "priority": a.get("priority", "normal"),
                "category": a.get("category"), "subject": subject[:300],
                "description": (ctx.get("message") or {}).get("body") or "",
                "conversation_id": conv["id"] if conv else None,
                "contact_id": contact["id"] if contact else None}, None)
            return {"status": "done", "ticket_id": tk["id"]}
        if kind == "create_work_order":
            title = R.render(a.get("title") or "", ctx) or (ticket or {}).get("subject") \
                or (conv or {}).get("subject") or rule["name"]
            wo = await self.workorders.create({
                "title": title[:300], "category": a.get("category"), "priority": a.get("priority", "normal"),
                "description": (ctx.get("message") or {}).get("body") or "",
                "conversation_id": conv["id"] if conv else None,
                "ticket_id": ticket["id"] if ticket else None,
                "contact_id": contact["id"] if contact else None}, None)
            return {"status": "done", "work_order_id": wo["id"]}
        if kind == "notify":
            users = await self.notifier.resolve(
                a["targets"], assignee_id=(ticket or conv or {}).get("assignee_id"),
                department_id=(ctx.get("workorder") or {}).get("department_id"))
            link = f"/tickets/{ticket['id']}" if ticket else (
                f"/workorders/{ctx['workorder']['id']}" if ctx.get("workorder") else None)
            async with self.s.db.tx() as tx:
                await self.notifier.notify(tx, users, kind="rule", link=link,
                                           text=staff_text("notify.rule", message=R.render(a["message"], ctx),
                                                           rule=rule["name"]))
            return {"status": "done", "users": sorted(users)}
        if kind == "send_template":
            if not conv:
                return {"status": "skipped", "detail": "no conversation"}
            if a.get("email_template_id"):
                # a stored email template (channels/email), filled in like an agent's insert
                email = self.s.ports.email
                if email is None:
                    return {"status": "skipped", "detail": "the email channel is not running"}
                try:
                    tpl = await email.templates_svc.get(a["email_template_id"])
                except NotFound:
                    return {"status": "skipped",
                            "detail": f"email template {a['email_template_id']} no longer exists"}
                filled = email.templates_svc.fill(tpl, {**ctx, "agent": {"name": "Automatic reply"}})
                text = filled["body"].strip()
            else:
                text = R.render(a["template"], ctx).strip()
            msg = await self.s.conversations.add_message(conv["id"], sender="agent", body=text,
                                                         sender_name="Automatic reply")
            return {"status": "done", "message_id": msg["id"]}
        if kind == "callback":
            return await self._callback(a, ctx, rule)
        return {"status": "skipped", "detail": f"unknown action {kind}"}

    async def _route_conversation(self, conv: dict[str, Any], a: dict[str, Any],
                                  etype: str) -> dict[str, Any]:
        row = await self.s.conversations.row(conv["id"])
        if row.status == "assigned":
            await self.s.routing.transfer(row.id, RULES_USER, a.get("queue_id"), a.get("user_id"))
            return {"status": "done", "transferred": True}
        if etype == "conversation.created" and row.status in ("queued", "pending") and a.get("queue_id"):
            # conversation.created is dispatched before the channel hands the conversation to the
            # ACD: setting the queue now is where it will be enqueued
            await self.s.conversations.set_routing(row.id, queue_id=a["queue_id"])
            return {"status": "done", "queue_id": a["queue_id"]}
        return {"status": "skipped", "detail": f"a {row.status} conversation cannot be routed now"}

    async def _conversation_priority(self, conv: dict[str, Any], priority: str,
                                     contact: dict[str, Any] | None) -> dict[str, Any]:
        value = CONV_PRIORITY[priority] + (10 if contact and contact.get("vip") else 0)
        await self.s.conversations.set_routing(conv["id"], priority=value)
        return {"status": "done", "priority": value}

    async def _callback(self, a: dict[str, Any], ctx: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
        contact = ctx.get("contact") or {}
        conv = ctx.get("conversation") or {}
        now = self.s.clock.now()
        due = now + float(a.get("delay_s") or 0)
        cb = new_id()
        async with self.s.db.tx() as tx:
            await tx.conn.execute(w.callbacks.insert().values(
                id=cb, contact_id=contact.get("id"), conversation_id=conv.get("id"),
                phone=contact.get("phone"), queue_id=conv.get("queue_id"), due_at=due,
                status="pending", note=R.render(a.get("note") or "", ctx) or None, rule_id=rule["id"],
                created_at=now))
            await self.s.scheduler.schedule(tx, kind="callback.due", due_at=due, key=f"callback:{cb}",
                                            payload={"callback_id": cb})
            tx.emit(Event(WorkflowEventType.CALLBACK_REQUESTED, now, conversation_id=conv.get("id"),
                          queue_id=conv.get("queue_id"),
                          data={"callback_id": cb, "due_at": due, "phone": contact.get("phone")}))
        return {"status": "done", "callback_id": cb,
                "detail": "callback recorded; when due it opens a voice callback task (voice on) and notifies"}

    async def on_callback_due(self, timer: Timer) -> None:
        """A rule's callback falls due: with the voice component running, open its callback task
        (``services.ports.voice.callbacks.open_task``: a ``voice`` conversation with
        ``meta.callback`` routed by the ACD, the agent clicks "Call back") and link it on the row
        (status ``opened``); the queue's agents (or the supervisors) are notified either way.
        Without voice or a phone number the row becomes ``due`` and its note says why.

        Crash-safe: the task's conversation id is chosen and stored first (status ``opening``)
        and the timer is completed only with the outcome, so a crash in between fires the timer
        again after its lease and the retry opens the task under the same id, once."""
        cb_id = timer.payload["callback_id"]
        async with self.s.db.tx() as tx:
            cb = (await tx.conn.execute(select(w.callbacks).where(w.callbacks.c.id == cb_id))).first()
            if cb is None or cb.status not in ("pending", "opening"):
                await self.s.scheduler.complete(tx, timer)  # cancelled, or done by an earlier firing
                return
            if cb.status == "pending":  # only one firing chooses the id; a concurrent one reads it
                await tx.conn.execute(update(w.callbacks).where(
                    w.callbacks.c.id == cb_id, w.callbacks.c.status == "pending").values(
                    status="opening", task_conversation_id=new_id()))
                cb = (await tx.conn.execute(select(w.callbacks).where(w.callbacks.c.id == cb_id))).first()
                assert cb is not None  # the row just updated in this transaction
        task_id, why = await self._open_voice_task(cb)
        values: dict[str, Any] = {"status": "opened", "task_conversation_id": task_id} if why is None else \
            {"status": "due", "task_conversation_id": None,
             "note": "\n".join(x for x in (cb.note, why.english()) if x)}
        async with self.s.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return  # another process took the timer over: it finishes (same task id) and notifies
            await tx.conn.execute(update(w.callbacks).where(w.callbacks.c.id == cb_id).values(**values))
            targets = [{"kind": "queue", "queue_id": cb.queue_id}] if cb.queue_id else [{"kind": "supervisors"}]
            users = await self.notifier.resolve(targets)
            await self.notifier.notify(
                tx, users, kind="callback_due", link=None,
                text=staff_text("notify.callback_queued" if why is None else "notify.callback_manual",
                                phone=cb.phone or "", note=cb.note or "",
                                **(dict(why.params) if why is not None else {})))

    async def _open_voice_task(self, cb: Any) -> tuple[str | None, StaffText | None]:
        """Open the voice callback task for a due row; returns (conversation id, _) or (None, why:
        a ``callback.not_opened`` text with its ``reason``)."""
        def why(reason: str, detail: str = "") -> StaffText:
            return staff_text("callback.not_opened", reason=reason, detail=detail)

        voice = self.s.ports.voice
        callbacks = voice.callbacks if voice is not None else None
        if callbacks is None:
            return None, why("voice_off")
        if not cb.phone:
            return None, why("no_phone")
        contact = (await self.s.contacts.names([cb.contact_id])).get(cb.contact_id) if cb.contact_id else None
        async with self.s.db.read() as conn:
            rule = (await conn.execute(select(w.rules.c.name).where(w.rules.c.id == cb.rule_id))).first() \
                if cb.rule_id else None
        identity = {"phone": cb.phone, "name": contact if contact is not None else cb.phone}
        who = f"automation rule \u201c{rule.name}\u201d" if rule is not None else "an automation rule"
        # events of the new conversation belong to the rule's chain: it does not fire on them again
        try:
            with acting_in(Chain(fired={cb.rule_id} if cb.rule_id else set(), root_event="callback.due")):
                task_id = await callbacks.open_task(
                    cb.phone, queue_id=cb.queue_id, identity=identity,
                    requested_by_text=who,
                    origin={"rule_id": cb.rule_id, "workflow_callback_id": cb.id,
                            "origin_conversation_id": cb.conversation_id},
                    note=cb.note, conversation_id=cb.task_conversation_id)
        except Exception as err:  # noqa: BLE001 - the agents are still notified, the row says why
            log.warning("callback %s: voice callback task not opened: %s", cb.id, err)
            return None, why("open_failed", str(getattr(err, "detail", err))[:300])
        return str(task_id), None

    async def callbacks(self) -> builtins.list[dict[str, Any]]:
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.callbacks).order_by(w.callbacks.c.due_at))).all()
        return [dict(r._mapping) for r in rows]

    # --- dry run ------------------------------------------------------------------------------------
    async def dry_run(self, event: dict[str, Any], extra_rule: dict[str, Any] | None = None,
                      at: float | None = None) -> dict[str, Any]:
        etype = event["type"]
        if etype not in R.RULE_EVENTS:
            raise ValidationFailed(f"event type must be one of {', '.join(R.RULE_EVENTS)}")
        if extra_rule is not None:
            await self.validate(extra_rule)
        ctx = await self.context(etype, conversation_id=event.get("conversation_id"),
                                 ticket_id=event.get("ticket_id"), work_order_id=event.get("work_order_id"),
                                 contact_id=event.get("contact_id"), data=event.get("data"), at=at)
        is_open = await self._open_checker(ctx)
        rules = [r for r in await self.list() if r["event"] == etype]
        if extra_rule is not None:
            rules.append({**extra_rule, "id": None})
        out = []
        for rule in rules:
            matched, trace = R.evaluate(rule["conditions"], ctx, is_open)
            would = matched and rule.get("enabled", True)
            out.append({"rule_id": rule["id"], "name": rule["name"], "enabled": rule.get("enabled", True),
                        "matched": matched, "would_fire": would, "trace": trace,
                        "actions": [{"type": a["type"], "description": (d := R.describe(a, ctx)).english(),
                                     "text": d.public()} for a in rule["actions"]] if would else []})
        return {"event": etype, "context": ctx, "rules": out,
                "firing": [r["name"] for r in out if r["would_fire"]]}
