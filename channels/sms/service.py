"""The SMS channel's rules: store inbound messages first, answer keywords, thread the rest into
conversations by phone number, keep the durable outbound queue and its delivery states.

Talks to the hub through its services (``conversations``, ``contacts``, ``routing``) only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, desc, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

import channels.sms.keywords as kw
import channels.sms.phone as phones
import channels.sms.segments as segments
from channels.sms.events import SmsEventType
from channels.sms.gateway import STATUS_RANK, InboundSms
from channels.sms.settings import SmsSettings
from channels.sms.tables import sms_keywords, sms_messages, sms_optouts
from hub.errors import HubError, InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.conversations import MAX_BODY, OPEN_STATUSES
from hub.services.language import detect_language
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

BalanceHook = Callable[[str, dict[str, Any] | None], Awaitable[str | None]]
Notify = Callable[[list[Any]], Awaitable[None]]
PUBLIC_STATUSES = ("received", "routed", "answered", "pending", "queued", "sent", "delivered",
                   "failed", "skipped", "cancelled")


def sms_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "direction": row.direction, "phone": row.phone,
            "our_number": row.our_number, "body": row.body, "encoding": row.encoding,
            "segments": row.segments, "status": row.status, "kind": row.kind,
            "conversation_id": row.conversation_id, "message_id": row.message_id,
            "bulk_job_id": row.bulk_job_id, "keyword": row.keyword, "attempts": row.attempts,
            "error": row.error, "created_at": row.created_at, "updated_at": row.updated_at}


@dataclass(frozen=True)
class StatusUpdate:
    sms_id: str
    status: str
    error: str | None = None
    attempts: int | None = None
    next_attempt_at: float | None = None
    gateway_ref: str | None = None


class StatusWriter:
    """Delivery-state changes from many concurrent senders and report callbacks, written in
    batches (one transaction each); each caller returns once its change is committed."""

    def __init__(self, svc: SmsService) -> None:
        self.svc = svc
        self._pending: list[tuple[StatusUpdate, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms-status-writer")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for _, fut in self._pending:
            if not fut.done():
                fut.set_exception(RuntimeError("the SMS channel stopped"))
        self._pending.clear()

    async def submit(self, upd: StatusUpdate) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((upd, fut))
        self._wake.set()
        await fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending[:500], self._pending[500:]
            if self._pending:
                self._wake.set()
            if not batch:
                continue
            try:
                rows = await self.svc.write_statuses([u for u, _ in batch])
            except Exception as err:  # noqa: BLE001 - hand the failure to every waiting caller
                log.exception("sms: could not store %d status changes", len(batch))
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
            try:
                await self.svc.notify(rows)
            except Exception:  # noqa: BLE001 - live updates are best effort
                log.exception("sms: status notification failed")


class SmsService:
    def __init__(self, services: Services, notify: Notify | None = None) -> None:
        self.s = services
        self.st = services.settings.section(SmsSettings)
        self.db = services.db
        self.clock = services.clock
        self.rules: dict[str, kw.KeywordRule] = {}
        self.optouts: set[str] = set()
        self.balance_hook: BalanceHook = self._contact_balance
        self._notify = notify
        self.writer = StatusWriter(self)
        self.inbound_queue: asyncio.Queue[str] = asyncio.Queue()
        self._inbound_task: asyncio.Task[None] | None = None
        self.wake_outbound: Callable[[], None] = lambda: None
        self.on_outbound_final: Callable[[list[Any]], Awaitable[None]] | None = None

    # --- life ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.seed_default_keywords()
        await self.load_keywords()
        async with self.db.read() as conn:
            self.optouts = set((await conn.execute(select(sms_optouts.c.phone))).scalars())
            waiting = list((await conn.execute(
                select(sms_messages.c.id).where(sms_messages.c.direction == "in",
                                                sms_messages.c.status == "received")
                .order_by(sms_messages.c.created_at))).scalars())
        # A restart is a fresh start for messages waiting on a retry (the gateway's settings may
        # just have been fixed): they are due at once.
        async with self.db.tx() as tx:
            await tx.conn.execute(update(sms_messages).where(
                sms_messages.c.status == "queued", sms_messages.c.next_attempt_at.is_not(None))
                .values(next_attempt_at=None))
        self.writer.start()
        for sid in waiting:  # stored before a crash but not yet routed
            self.inbound_queue.put_nowait(sid)
        self._inbound_task = asyncio.create_task(self._inbound_loop(), name="sms-inbound")

    async def stop(self) -> None:
        await cancel_and_wait(self._inbound_task)
        self._inbound_task = None
        await self.writer.stop()

    async def notify(self, rows: list[Any]) -> None:
        if self._notify is not None and rows:
            await self._notify(rows)

    def normalise(self, raw: str | None) -> str:
        return phones.normalise(raw, self.st.default_country)

    # --- keywords and opt-outs ----------------------------------------------------------------
    async def seed_default_keywords(self) -> None:
        async with self.db.read() as conn:
            if (await conn.execute(select(func.count()).select_from(sms_keywords))).scalar():
                return
        now = self.clock.now()
        body = self.s.texts.body
        rows = [{"keyword": kw.normalise_keyword(k), "action": a, "reply": await body(r, lang),
                 "fallback": await body(f, lang) if f else None, "enabled": 1, "updated_at": now}
                for k, a, r, f, lang in kw.DEFAULT_KEYWORDS]
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(sms_keywords.insert(), rows)
        except IntegrityError:
            pass  # another process seeded them first

    async def load_keywords(self) -> None:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_keywords))).all()
        self.rules = {r.keyword: kw.KeywordRule(r.keyword, r.action, r.reply, r.fallback, bool(r.enabled))
                      for r in rows}

    def keywords_public(self) -> list[dict[str, Any]]:
        return [{"keyword": r.keyword, "action": r.action, "reply": r.reply, "fallback": r.fallback,
                 "enabled": r.enabled} for r in sorted(self.rules.values(), key=lambda r: r.keyword)]

    async def put_keyword(self, keyword: str, action: str, reply: str, fallback: str | None,
                          enabled: bool, actor_id: str) -> dict[str, Any]:
        word = kw.normalise_keyword(keyword)

        def invalid(where: str, field: str, msg: str) -> ValidationFailed:
            # the field named in ``errors`` lets a form show the message next to its input
            return ValidationFailed(msg, details={"errors": [{"loc": [where, field], "msg": msg}]})

        if not kw.valid_keyword(word):
            raise invalid("path", "keyword", "a keyword is one word of letters, digits or Chinese "
                                             "characters (at most 32)")
        if action not in kw.ACTIONS:
            raise invalid("body", "action", f"action must be one of {', '.join(kw.ACTIONS)}")
        if not reply.strip() or len(reply) > 1000:
            raise invalid("body", "reply", "the reply must be 1..1000 characters")
        if fallback and len(fallback) > 1000:
            raise invalid("body", "fallback", "the fallback must be at most 1000 characters")
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(sms_keywords).where(sms_keywords.c.keyword == word))
            await tx.conn.execute(sms_keywords.insert().values(
                keyword=word, action=action, reply=reply.strip(), fallback=(fallback or None),
                enabled=1 if enabled else 0, updated_at=now))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor_id,
                          data={"entity": "sms_keyword", "id": word, "action": "put"}))
        await self.load_keywords()
        return next(k for k in self.keywords_public() if k["keyword"] == word)

    async def delete_keyword(self, keyword: str, actor_id: str) -> None:
        word = kw.normalise_keyword(keyword)
        if word not in self.rules:
            raise NotFound(f"there is no keyword {word}")
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(sms_keywords).where(sms_keywords.c.keyword == word))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor_id,
                          data={"entity": "sms_keyword", "id": word, "action": "delete"}))
        await self.load_keywords()

    async def _contact_balance(self, phone: str, contact: dict[str, Any] | None) -> str | None:
        """The default balance lookup: the contact's custom field ``sms_balance_field``.
        A billing integration replaces it with ``SmsChannel.set_balance_hook``."""
        if contact is None:
            return None
        value = (contact.get("custom") or {}).get(self.st.balance_field)
        return None if value in (None, "") else str(value)

    async def contact_for(self, phone: str) -> dict[str, Any] | None:
        for form in (phone, *phones.national_forms(phone)):
            found = await self.s.contacts.find_by_identity(phone=form)
            if found is not None:
                return found
        return None

    async def list_optouts(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_optouts).order_by(desc(sms_optouts.c.created_at))
                                       .limit(1000))).all()
        return [{"phone": r.phone, "keyword": r.keyword, "source": r.source,
                 "created_at": r.created_at} for r in rows]

    # --- inbound --------------------------------------------------------------------------------
    async def accept_inbound(self, sms: InboundSms, gateway: str) -> tuple[Any, bool]:
        """Store an inbound message (first thing, before any routing). Returns the row and
        whether it is new (a gateway re-delivery of the same message id is not stored twice)."""
        sender = self.normalise(sms.sender)
        text = sms.text.replace("\x00", "")
        if len(text) > MAX_BODY:
            raise ValidationFailed(f"the message is longer than {MAX_BODY} characters")
        info = segments.count(text)
        now = self.clock.now()
        sid = new_id()
        dedupe = f"in:{gateway}:{sms.gateway_id}" if sms.gateway_id else f"in:{gateway}:{sid}"
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(sms_messages.insert().values(
                    id=sid, direction="in", phone=sender, our_number=(sms.receiver or self.st.number)[:32],
                    body=text, encoding=info.encoding, segments=max(info.segments, 1),
                    status="received", kind="conversation", priority=0, dedupe_key=dedupe[:128],
                    gateway=gateway, gateway_ref=(sms.gateway_id or None), attempts=0,
                    meta={"smsc": sms.smsc, **sms.meta}, created_at=now, updated_at=now))
        except IntegrityError:
            async with self.db.read() as conn:
                row = (await conn.execute(select(sms_messages).where(
                    sms_messages.c.dedupe_key == dedupe[:128]))).first()
            if row is None:
                raise
            return row, False
        self.inbound_queue.put_nowait(sid)
        return await self.get(sid), True

    async def get(self, sid: str) -> Any:
        async with self.db.read() as conn:
            row = (await conn.execute(select(sms_messages).where(sms_messages.c.id == sid))).first()
        if row is None:
            raise NotFound(f"SMS {sid} does not exist")
        return row

    async def _inbound_loop(self) -> None:
        # Several numbers are routed at once; one number's messages go one at a time in arrival
        # order (a per-number lock, taken in the order the tasks start), so they keep their
        # order and two quick messages from a new number open one conversation, not two.
        slots = asyncio.Semaphore(8)
        locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # phone → (lock, [users])
        tasks: set[asyncio.Task[None]] = set()

        async def one(sid: str, phone: str, lock: asyncio.Lock, users: list[int]) -> None:
            try:
                async with lock, slots:
                    await self.process_inbound(await self.get(sid))
            except Exception:  # noqa: BLE001 - stays 'received'; retried on the next start
                log.exception("sms: could not route inbound message %s", sid)
            finally:
                users[0] -= 1
                if not users[0]:
                    locks.pop(phone, None)

        try:
            while True:
                sid = await self.inbound_queue.get()
                try:
                    phone = (await self.get(sid)).phone
                except Exception:  # noqa: BLE001 - the database hiccuped: next start
                    log.exception("sms: could not read inbound message %s", sid)
                    continue
                lock, users = locks.setdefault(phone, (asyncio.Lock(), [0]))
                users[0] += 1
                task = asyncio.create_task(one(sid, phone, lock, users), name=f"sms-inbound-{sid}")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def process_inbound(self, row: Any) -> None:
        if row.status != "received":
            return
        rule = kw.match(row.body, self.rules)
        if rule is not None:
            await self._answer_keyword(row, rule)
            return
        cid, message_id = await self._thread(row)
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(sms_messages).where(sms_messages.c.id == row.id).values(
                status="routed", conversation_id=cid, message_id=message_id, updated_at=now))

    async def _queue_id(self) -> str:
        queues = await self.s.directory.list_queues()
        ids = [q["id"] for q in queues]
        for wanted in (self.st.queue, self.s.settings.widget_default_queue):
            if wanted and wanted in ids:
                return wanted
        if not ids:
            raise InvalidState("no queue is configured")
        return ids[0]

    async def open_conversation_for(self, phone: str) -> str | None:
        """The open SMS conversation with this number: the one its last SMS belongs to, else
        one of the contact who has this number."""
        s = sms_messages.c
        async with self.db.read() as conn:  # this number's latest threads, newest first
            recent = (await conn.execute(
                select(s.conversation_id, func.max(s.created_at).label("at"))
                .where(s.phone == phone, s.conversation_id.is_not(None))
                .group_by(s.conversation_id).order_by(desc("at")).limit(20))).all()
        rows = await self.s.conversations.rows([r.conversation_id for r in recent])
        for r in recent:
            cv = rows.get(r.conversation_id)
            if cv is not None and cv.channel == "sms" and cv.status in OPEN_STATUSES:
                return str(cv.id)
        contact = await self.contact_for(phone)
        if contact is None:
            return None
        return await self.s.conversations.newest_of_contact(contact["id"], "sms",
                                                            statuses=OPEN_STATUSES)

    async def _thread(self, row: Any) -> tuple[str, str | None]:
        conv = self.s.conversations
        cid = await self.open_conversation_for(row.phone)
        if cid is not None:
            try:
                msg = await conv.add_message(cid, sender="customer", body=row.body,
                                             client_id=f"sms:{row.id}")
                return cid, msg["id"]
            except InvalidState:
                pass  # closed in the meantime: a new conversation
        contact = await self.contact_for(row.phone)
        identity = {"name": contact["name"] if contact else row.phone,
                    "phone": contact["phone"] if contact else row.phone}
        created = await conv.open(
            channel="sms", queue_id=await self._queue_id(), identity=identity,
            first_message=row.body,
            meta={"sms": {"phone": row.phone, "our_number": row.our_number}})
        mid = next((m["id"] for m in await conv.messages(created.id, include_notes=False)
                    if m["sender"] == "customer"), None)
        try:
            await self.s.routing.enqueue(created)
        except Exception:  # noqa: BLE001 - stored and queued: the ACD picks it up on restart
            log.exception("sms conversation %s stored but not routed", created.id)
        return created.id, mid

    async def _answer_keyword(self, row: Any, rule: kw.KeywordRule) -> None:
        contact = await self.contact_for(row.phone)
        balance = None
        if rule.action == "balance":
            try:
                balance = await self.balance_hook(row.phone, contact)
            except Exception:  # noqa: BLE001 - answer "no account" rather than nothing
                log.exception("sms: the balance hook failed for %s", row.phone)
        lang = self.s.texts.language(contact.get("language") if contact else None,
                                     detect_language(row.body))
        text = kw.answer(rule, phone=row.phone, name=contact["name"] if contact else None,
                         balance=balance, no_account=await self.s.texts.body("sms.keyword.balance_unknown", lang))
        now = self.clock.now()
        reply = self._outbound_values(row.phone, text, kind="keyword", keyword=rule.keyword,
                                      dedupe_key=f"kw:{row.id}", priority=0, status="queued",
                                      meta={"in_reply_to": row.id})
        async with self.db.tx() as tx:
            await tx.conn.execute(update(sms_messages).where(sms_messages.c.id == row.id).values(
                status="answered", kind="keyword", keyword=rule.keyword, updated_at=now))
            if rule.action == "stop":
                await tx.conn.execute(delete(sms_optouts).where(sms_optouts.c.phone == row.phone))
                await tx.conn.execute(sms_optouts.insert().values(
                    phone=row.phone, keyword=rule.keyword, source="keyword", created_at=now))
                tx.emit(Event(SmsEventType.OPTED_OUT, now, data={"phone": row.phone,
                                                                  "keyword": rule.keyword}))
            elif rule.action == "start":
                await tx.conn.execute(delete(sms_optouts).where(sms_optouts.c.phone == row.phone))
                tx.emit(Event(SmsEventType.OPTED_IN, now, data={"phone": row.phone,
                                                                 "keyword": rule.keyword}))
            await tx.conn.execute(sms_messages.insert().values(**reply))
            tx.emit(Event(SmsEventType.KEYWORD_ANSWERED, now, data={
                "phone": row.phone, "keyword": rule.keyword, "action": rule.action,
                "sms_id": row.id, "reply_id": reply["id"], "found": balance is not None
                if rule.action == "balance" else None}))
        if rule.action == "stop":
            self.optouts.add(row.phone)
        elif rule.action == "start":
            self.optouts.discard(row.phone)
        self.wake_outbound()

    # --- outbound -------------------------------------------------------------------------------
    def _outbound_values(self, phone: str, text: str, *, kind: str, dedupe_key: str,
                         priority: int = 0, status: str = "queued",
                         conversation_id: str | None = None, message_id: str | None = None,
                         bulk_job_id: str | None = None, keyword: str | None = None,
                         meta: dict[str, Any] | None = None) -> dict[str, Any]:
        info = segments.count(text)
        now = self.clock.now()
        return {"id": new_id(), "direction": "out", "phone": phone, "our_number": self.st.number,
                "body": text, "encoding": info.encoding, "segments": max(info.segments, 1),
                "status": status, "kind": kind, "priority": priority,
                "conversation_id": conversation_id, "message_id": message_id,
                "bulk_job_id": bulk_job_id, "keyword": keyword, "dedupe_key": dedupe_key[:128],
                "gateway": None, "gateway_ref": None, "attempts": 0, "next_attempt_at": None,
                "error": None, "meta": meta or {}, "created_at": now, "updated_at": now}

    def check_text(self, text: str) -> segments.SegmentInfo:
        if not text.strip():
            raise ValidationFailed("the message is empty")
        info = segments.count(text)
        if info.segments > self.st.max_segments:
            raise ValidationFailed(
                f"the message needs {info.segments} SMS parts; at most {self.st.max_segments} "
                f"are allowed ({info.encoding}: {info.per_segment} per part)",
                details={"segments": info.as_dict()})
        return info

    async def queue_text(self, phone: str, text: str, *, kind: str = "notification",
                         dedupe_key: str | None = None, meta: dict[str, Any] | None = None) -> Any:
        """Send one SMS to a number (other components: work-order notifications and the like).
        The number is normalised (``InvalidPhoneNumber`` otherwise); the message is queued
        durably, retried, and its status kept. A repeated ``dedupe_key`` queues nothing new."""
        number = self.normalise(phone)
        self.check_text(text)
        values = self._outbound_values(number, text, kind=kind, priority=0,
                                       dedupe_key=dedupe_key or f"{kind}:{new_id()}", meta=meta)
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(sms_messages.insert().values(**values))
        except IntegrityError:
            async with self.db.read() as conn:
                row = (await conn.execute(select(sms_messages).where(
                    sms_messages.c.dedupe_key == values["dedupe_key"]))).first()
            if row is None:
                raise
            return row
        self.wake_outbound()
        return await self.get(values["id"])

    async def queue_text_in(self, tx: Any, phone: str, text: str, *, kind: str, dedupe_key: str,
                            meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """``queue_text`` inside the caller's transaction (another component's unit of work):
        the SMS exists exactly when the caller's change commits. Returns ``{"status": "sent" (recorded for delivery),
        …}`` or ``{"status": "skipped", "detail": …}`` (bad number, opted out, already queued);
        never raises for those, so the caller's transaction is not spoiled."""
        try:
            number = self.normalise(phone)
            self.check_text(text)
        except ValidationFailed as err:
            return {"status": "skipped", "detail": err.detail}
        if number in self.optouts:
            return {"status": "skipped", "detail": f"{number} opted out of SMS"}
        values = self._outbound_values(number, text, kind=kind, dedupe_key=dedupe_key, meta=meta)
        dup = (await tx.conn.execute(select(sms_messages.c.id).where(
            sms_messages.c.dedupe_key == values["dedupe_key"]))).scalar()
        if dup is not None:
            return {"status": "skipped", "detail": "already queued", "sms_id": dup}
        await tx.conn.execute(sms_messages.insert().values(**values))
        self.wake_outbound()  # the worker also looks every few seconds (after the commit)
        return {"status": "sent", "sms_status": "queued", "sms_id": values["id"], "to": number,
                "text": text}

    @staticmethod
    def reply_recorded(message_id: Any) -> Any:
        """True where the agent's message already has its outbound SMS (``OutboundReplies``)."""
        return exists().where(sms_messages.c.message_id == message_id,
                              sms_messages.c.direction == "out")

    async def queue_reply(self, msg: dict[str, Any], conv_row: Any) -> None:
        """An agent's message in an SMS conversation → the outbound queue, once per message (the
        row's ``dedupe_key`` is ``reply:<message id>``; a repeat queues nothing). Called by
        ``OutboundReplies`` live and on start; a ``HubError`` is noted on the conversation."""
        phone = ((conv_row.meta or {}).get("sms") or {}).get("phone")
        if not phone and conv_row.contact_id:
            contact = await self.s.contacts.get(conv_row.contact_id)
            if contact.get("phone"):
                phone = self.normalise(contact["phone"])
        if not phone:
            raise ValidationFailed("the conversation has no phone number to reply to")
        text = msg["body"]
        notes: list[str] = []
        if msg.get("attachments"):
            notes.append("Attachments cannot be sent by SMS; only the text was sent.")
        values = self._outbound_values(phone, text, kind="conversation",
                                       dedupe_key=f"reply:{msg['id']}", priority=0,
                                       conversation_id=conv_row.id, message_id=msg["id"],
                                       meta={"agent": msg.get("sender_name")})
        info = segments.count(text)
        if info.segments > self.st.max_segments:
            values.update(status="failed", error=f"too long for SMS: {info.segments} parts, at most "
                                                 f"{self.st.max_segments}")
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(sms_messages.insert().values(**values))
        except IntegrityError:
            return  # the same message seen twice
        if values["status"] == "failed":
            notes.append(f"This reply was not sent by SMS: {values['error']}.")
        for note in notes:
            await self.system_note(conv_row.id, note)
        self.wake_outbound()

    async def system_note(self, cid: str, text: str) -> None:
        conv = self.s.conversations
        try:
            await conv.add_message(cid, sender="system", kind="system", body=text, sender_name="SMS")
        except HubError:
            await conv.add_message(cid, sender="system", kind="note", body=text, sender_name="SMS")

    async def due(self, now: float, limit: int, exclude: Iterable[str]) -> list[Any]:
        s = sms_messages.c
        cond = [s.status == "queued", or_(s.next_attempt_at.is_(None), s.next_attempt_at <= now)]
        excluded = list(exclude)
        if excluded:
            cond.append(s.id.not_in(excluded))
        async with self.db.read() as conn:
            return list((await conn.execute(select(sms_messages).where(*cond)
                                            .order_by(s.priority, s.created_at).limit(limit))).all())

    async def next_due_at(self) -> float | None:
        s = sms_messages.c
        async with self.db.read() as conn:
            return (await conn.execute(select(func.min(s.next_attempt_at)).where(
                s.status == "queued"))).scalar()

    async def write_statuses(self, updates: list[StatusUpdate]) -> list[Any]:
        """Apply delivery-state changes; a change never moves a message backwards."""
        now = self.clock.now()
        s = sms_messages.c
        ids = list({u.sms_id for u in updates})
        async with self.db.tx() as tx:
            before = dict((await tx.conn.execute(select(s.id, s.status).where(s.id.in_(ids)))).all())
            for u in updates:
                values: dict[str, Any] = {"status": u.status, "updated_at": now}
                if u.error is not None:
                    values["error"] = u.error[:1000] or None
                if u.attempts is not None:
                    values["attempts"] = u.attempts
                if u.gateway_ref is not None:
                    values["gateway_ref"] = u.gateway_ref[:128]
                if u.status == "queued":  # a retry: stays queued until its next attempt
                    values["next_attempt_at"] = u.next_attempt_at
                    allowed = ["queued"]
                else:
                    allowed = [st for st, rank in STATUS_RANK.items() if rank < STATUS_RANK[u.status]]
                await tx.conn.execute(update(sms_messages).where(
                    s.id == u.sms_id, s.status.in_(allowed)).values(**values))
            rows = list((await tx.conn.execute(select(
                s.id, s.status, s.conversation_id, s.message_id, s.bulk_job_id, s.kind, s.phone,
                s.error, s.attempts).where(s.id.in_(ids)))).all())
        finals = [r for r in rows if r.status == "failed" and r.conversation_id
                  and before.get(r.id) != "failed"]
        if finals and self.on_outbound_final is not None:
            await self.on_outbound_final(finals)
        return rows

    async def find_by_ref(self, ref: str) -> str | None:
        """The outbound message an SMSC id belongs to (a long message keeps one id per part,
        comma-separated)."""
        g = sms_messages.c.gateway_ref
        async with self.db.read() as conn:
            return (await conn.execute(select(sms_messages.c.id).where(
                or_(g == ref, g.like(f"{ref},%"), g.like(f"%,{ref}"), g.like(f"%,{ref},%")),
                sms_messages.c.direction == "out").limit(1))).scalar()

    # --- reading -----------------------------------------------------------------------------
    async def counts(self) -> dict[str, dict[str, int]]:
        """Messages by direction and state (the health view and the benchmark)."""
        s = sms_messages.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(s.direction, s.status, func.count())
                                       .group_by(s.direction, s.status))).all()
        out: dict[str, dict[str, int]] = {"in": {}, "out": {}}
        for direction, status, n in rows:
            out.setdefault(direction, {})[status] = int(n)
        return out

    async def conversation_sms(self, cid: str) -> list[dict[str, Any]]:
        s = sms_messages.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_messages).where(s.conversation_id == cid)
                                       .order_by(s.created_at, s.id))).all()
        return [sms_public(r) for r in rows]

    async def log(self, *, phone: str | None = None, kind: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
        s = sms_messages.c
        cond = []
        if phone:
            cond.append(s.phone == self.normalise(phone))
        if kind:
            cond.append(s.kind == kind)
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_messages).where(*cond)
                                       .order_by(desc(s.created_at), desc(s.id)).limit(limit))).all()
        return [sms_public(r) for r in rows]
