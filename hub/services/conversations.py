"""Conversations for every channel (INBOX-1), the unified inbox (INBOX-2) and screen pop (CRM-2).

Channels open conversations and add customer messages through this service; agents reply, note,
close and rate through it. Routing (who gets the conversation) is ``RoutingService``'s job."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Executable,
    and_,
    bindparam,
    desc,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id, token_hash
from hub.services.attachments import attachment_public
from hub.services.auth import User
from hub.services.contacts import ContactService, contact_public
from hub.services.language import LANGUAGES, detect_language, normalise_language

CHANNELS = ("voice", "chat", "email", "sms", "fax")
OPEN_STATUSES = ("queued", "offered", "assigned", "pending")
VIEWS = ("mine", "queued", "offered", "pending", "closed", "all")
MAX_BODY = 10_000
#: the channels whose customer messages are the customer's own words, so they tell the
#: conversation's language (a voice or fax conversation's are the hub's lines about a call or a
#: fax: a call's language comes from the IVR entry, ``set_language``)
WORDS_CHANNELS = ("chat", "email", "sms")

#: ``open``/``add_message``'s hook for a channel: given the new message's id, the channel's own rows
#: to insert in the same transaction as the message (plain SQLAlchemy Core statements: they run on
#: the asynchronous transaction and on ``Database.write``'s synchronous one alike)
ExtraRows = Callable[[str], Sequence[Executable]]


def message_public(row: Any, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"id": row.id, "conversation_id": row.conversation_id, "kind": row.kind,
            "sender": row.sender, "sender_name": row.sender_name, "body": row.body,
            "client_id": row.client_id, "attachments": attachments or [],
            "created_at": row.created_at}


#: the statements of the message path, built once: executing a prebuilt statement with fresh
#: parameters skips building it and computing its cache key each time (SQLAlchemy's compiled
#: cache is keyed by the statement's structure, which these never change)
_INSERT_MESSAGE = t.messages.insert()
#: the language guessed from a customer's words, for a conversation that has none yet
_SET_LANGUAGE = (update(t.conversations).where(t.conversations.c.id == bindparam("lang_id"),
                                               t.conversations.c.language.is_(None))
                 .values(language=bindparam("lang")))
_TOUCH = (update(t.conversations).where(t.conversations.c.id == bindparam("touch_id"))
          .values(updated_at=bindparam("touch_at")))
_CONVERSATION = select(t.conversations).where(t.conversations.c.id == bindparam("cid"))
_customer_words = (select(t.messages.c.id, t.messages.c.body)
                   .where(t.messages.c.conversation_id == bindparam("cid"), t.messages.c.sender == "customer",
                          t.messages.c.kind == "message", t.messages.c.body != "").limit(1))
_FIRST_CUSTOMER = _customer_words.order_by(t.messages.c.created_at, t.messages.c.id)
_LAST_CUSTOMER = _customer_words.order_by(desc(t.messages.c.created_at), desc(t.messages.c.id))
_BY_TOKEN = select(t.conversations).where(t.conversations.c.widget_token_hash == bindparam("h"))
_CONTACTS_IN = select(t.contacts).where(t.contacts.c.id.in_(bindparam("ids", expanding=True)))
_latest = (select(t.messages.c.conversation_id, func.max(t.messages.c.created_at).label("at"))
           .where(t.messages.c.conversation_id.in_(bindparam("cids", expanding=True)),
                  t.messages.c.kind != "note")
           .group_by(t.messages.c.conversation_id).subquery())
#: the latest message (not a note) of each of the conversations ``cids`` (inbox summaries)
_LAST_MESSAGES = select(t.messages).join(_latest, and_(
    t.messages.c.conversation_id == _latest.c.conversation_id, t.messages.c.created_at == _latest.c.at))
#: what a message needs to know about its conversation (read in the message's own transaction)
_MESSAGE_TARGET = (select(t.conversations.c.status, t.conversations.c.queue_id,
                          t.conversations.c.assignee_id, t.conversations.c.language, t.conversations.c.channel,
                          t.conversations.c.claimed_contact_id, t.conversations.c.meta,
                          t.contacts.c.name.label("contact_name"))
                   .select_from(t.conversations.outerjoin(
                       t.contacts, t.contacts.c.id == t.conversations.c.contact_id))
                   .where(t.conversations.c.id == bindparam("cid")))


def _contact_of(row: Any) -> str | None:
    """The contact a conversation shows: its own, else the one a chat customer claimed."""
    found: str | None = row.contact_id or row.claimed_contact_id
    return found


def referenced_contact(row: Any, actor: User | None) -> str | None:
    """The contact a record made from the conversation (a ticket, a work order) is about: the
    conversation's own; a user making it from a chat whose customer only claimed a contact gets
    that candidate (shown to them unverified: their own act), the system (automation) never."""
    found: str | None = row.contact_id or (row.claimed_contact_id if actor is not None else None)
    return found


def _message_row(mid: str, cid: str, kind: str, sender: str, user_id: str | None,
                 sender_name: str | None, body: str, client_id: str | None, now: float) -> dict[str, Any]:
    return {"id": mid, "conversation_id": cid, "kind": kind, "sender": sender,
            "sender_user_id": user_id, "sender_name": sender_name, "body": body,
            "client_id": client_id, "created_at": now}


def _touch(cid: str, now: float) -> dict[str, Any]:
    return {"touch_id": cid, "touch_at": now}


def _message_created(msg: dict[str, Any], user_id: str | None, queue_id: str | None,
                     assignee_id: str | None) -> Event:
    return Event(EventType.MESSAGE_CREATED, msg["created_at"], conversation_id=msg["conversation_id"],
                 user_id=user_id, queue_id=queue_id, data={"message": msg, "assignee_id": assignee_id})


class ConversationService:
    def __init__(self, db: Database, clock: Clock, contacts: ContactService,
                 customer_token_ttl_s: float = 7 * 24 * 3600) -> None:
        self.db = db
        self.customer_token_ttl_s = customer_token_ttl_s
        self.clock = clock
        self.contacts = contacts
        self._queue_members: dict[str, set[str]] = {}
        self._queue_names: dict[str, str] = {}
        self._user_names: dict[str, str] = {}
        # conversation id -> {agent id: offer expiry}, kept by RoutingService from ACD decisions
        self.offered_to: dict[str, dict[str, float]] = {}
        # Channels add searches of their own content (e.g. fax OCR text) to the inbox's ``q``:
        # each hook takes the query text and returns a SELECT of conversation ids.
        self.search_hooks: list[Any] = []

    @property
    def queue_names(self) -> Mapping[str, str]:
        """Queue id → name for every queue (read-only; kept current by the directory)."""
        return MappingProxyType(self._queue_names)

    @property
    def user_names(self) -> Mapping[str, str]:
        """User id → display name for every user (read-only; kept current by the directory)."""
        return MappingProxyType(self._user_names)

    def set_directory(self, queues: list[dict[str, Any]], users: list[User]) -> None:
        self._queue_members = {q["id"]: set(q["members"]) for q in queues}
        self._queue_names = {q["id"]: q["name"] for q in queues}
        self._user_names = {u.id: u.display_name for u in users}

    def user_queue_ids(self, user: User) -> set[str]:
        return {qid for qid, members in self._queue_members.items() if user.id in members}

    # --- reading ----------------------------------------------------------------------------
    def summary(self, row: Any, contact: dict[str, Any] | None = None,
                last: Any | None = None) -> dict[str, Any]:
        return {
            "id": row.id, "channel": row.channel, "direction": row.direction, "status": row.status,
            "queue_id": row.queue_id, "queue_name": self._queue_names.get(row.queue_id or ""),
            "assignee_id": row.assignee_id, "assignee_name": self._user_names.get(row.assignee_id or ""),
            "contact": {"id": contact["id"], "name": contact["name"], "vip": contact["vip"],
                        "verified": row.contact_id is not None} if contact else None,
            "subject": row.subject, "priority": row.priority, "created_at": row.created_at,
            "updated_at": row.updated_at, "waiting_since": row.enqueued_at
            if row.status in ("queued", "offered") else None,
            "last_message": {"body": last.body[:200], "sender": last.sender, "at": last.created_at}
            if last is not None else None,
            "disposition": row.disposition, "language": row.language,
            # the customer's rating (pushed with conversation.csat: the open conversation shows it)
            "csat": {"rating": row.csat_rating, "comment": row.csat_comment} if row.csat_rating else None,
        }

    async def _row(self, conn: Any, cid: str) -> Any:
        row = (await conn.execute(select(t.conversations).where(t.conversations.c.id == cid))).first()
        if row is None:
            raise NotFound(f"conversation {cid} does not exist")
        return row

    async def row(self, cid: str, tx: Tx | None = None) -> Any:
        """The conversation's row (NotFound if there is none); inside ``tx`` when given, else in
        one hop (``Database.read_sync``)."""
        if tx is not None:
            return await self._row(tx.conn, cid)
        row = await self.db.read_sync(lambda conn: conn.execute(_CONVERSATION, {"cid": cid}).first())
        if row is None:
            raise NotFound(f"conversation {cid} does not exist")
        return row

    async def rows(self, ids: Sequence[str], tx: Tx | None = None) -> dict[str, Any]:
        """Conversation rows by id (ids that do not exist are left out)."""
        if not ids:
            return {}
        async with self.db.read(tx) as conn:
            found = (await conn.execute(select(t.conversations).where(
                t.conversations.c.id.in_(set(ids))))).all()
        return {r.id: r for r in found}

    async def newest_of_contact(self, contact_id: str, channel: str | None = None,
                                tx: Tx | None = None, *,
                                statuses: Sequence[str] | None = None) -> str | None:
        """The id of the contact's newest conversation (on ``channel``, in one of ``statuses``, if
        given), or None."""
        c = t.conversations.c
        q = select(c.id).where(c.contact_id == contact_id)
        if channel is not None:
            q = q.where(c.channel == channel)
        if statuses is not None:
            q = q.where(c.status.in_(list(statuses)))
        async with self.db.read(tx) as conn:
            found: str | None = (await conn.execute(q.order_by(desc(c.created_at)).limit(1))).scalar()
        return found

    async def set_routing(self, cid: str, *, queue_id: str | None = None,
                          priority: int | None = None) -> None:
        """Where a conversation not yet handed to the ACD will be enqueued, and with what priority
        (for a queued one the ACD's own state is changed through routing instead)."""
        values: dict[str, Any] = {k: v for k, v in (("queue_id", queue_id), ("priority", priority))
                                  if v is not None}
        if not values:
            return
        async with self.db.tx() as tx:
            res = await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid)
                                        .values(**values))
            if res.rowcount != 1:
                raise NotFound(f"conversation {cid} does not exist")

    async def ids_with_status(self, status: str) -> set[str]:
        """The ids of the conversations in ``status`` now (e.g. a bot's after a restart)."""
        c = t.conversations.c
        async with self.db.read() as conn:
            return set((await conn.execute(select(c.id).where(c.status == status))).scalars())

    async def customer_message(self, cid: str, *, first: bool) -> tuple[str, str] | None:
        """The id and text of the customer's first (or latest) message with text, or None."""
        row = await self.db.read_sync(
            lambda conn: conn.execute(_FIRST_CUSTOMER if first else _LAST_CUSTOMER, {"cid": cid}).first())
        return (row.id, row.body) if row is not None else None

    async def message_by_client_id(self, cid: str, client_id: str) -> dict[str, Any] | None:
        """The message stored with ``client_id`` in the conversation (a sender's retry key), if any."""
        m = t.messages.c
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.messages).where(
                m.conversation_id == cid, m.client_id == client_id))).first()
        return message_public(row) if row is not None else None

    async def labelled_examples(self, limit: int) -> list[tuple[str, str, str]]:
        """Up to ``limit`` closed conversations with a disposition, newest first: (id, the
        customer's words, disposition) — examples for category suggestions."""
        c = t.conversations.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(c.id, c.disposition).where(
                c.status == "closed", c.disposition.is_not(None))
                .order_by(desc(c.closed_at)).limit(limit))).all()
        texts = await self.customer_texts([r.id for r in rows])
        return [(r.id, texts.get(r.id, ""), r.disposition) for r in rows]

    async def customer_texts(self, ids: Sequence[str]) -> dict[str, str]:
        """What the customer wrote in each conversation (messages joined, at most 2000
        characters), read in chunks of 500 conversations."""
        m = t.messages.c
        texts: dict[str, list[str]] = {}
        async with self.db.read() as conn:
            for chunk in range(0, len(ids), 500):
                part = list(ids[chunk:chunk + 500])
                for r in (await conn.execute(select(m.conversation_id, m.body).where(
                        m.conversation_id.in_(part), m.sender == "customer", m.kind == "message")
                        .order_by(m.created_at))).all():
                    texts.setdefault(r.conversation_id, []).append(r.body)
        return {cid: " ".join(bodies)[:2000] for cid, bodies in texts.items()}

    async def move_status(self, cid: str, expected: str, status: str,
                          event: Callable[[Any, float], Event]) -> Any | None:
        """Move the conversation from ``expected`` to ``status`` if it is still in ``expected``,
        with the event ``event(row, now)`` that says why, in one transaction (``queued`` also
        stamps ``enqueued_at``). Returns the row as stored, or None when it had moved on."""
        now = self.clock.now()
        c = t.conversations.c
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "queued":
            values["enqueued_at"] = now

        def work(conn: Connection, emit: Callable[[Event], None]) -> Any:
            if not conn.execute(update(t.conversations).where(c.id == cid, c.status == expected)
                                .values(**values)).rowcount:
                return None
            row = conn.execute(_CONVERSATION, {"cid": cid}).first()
            emit(event(row, now))
            return row

        return await self.db.write(work)

    async def set_meta(self, cid: str, key: str, value: Any) -> None:
        """Set one key of a conversation's ``meta`` (a component's own state on it, such as a
        callback's progress), keeping the others, whatever the conversation's status."""
        c = t.conversations.c
        async with self.db.tx() as tx:
            row = (await tx.conn.execute(select(c.meta).where(c.id == cid).with_for_update())).first()
            if row is None:
                raise NotFound(f"conversation {cid} does not exist")
            await tx.conn.execute(update(t.conversations).where(c.id == cid)
                                  .values(meta={**(row.meta or {}), key: value}))

    # --- who sees which conversation ----------------------------------------------------------
    # One rule, in two forms: ``can_view`` for a row in hand, ``visible`` as SQL for lists (contact
    # history, screen pop, searches). Users with ``supervise`` (supervisors, admins) see every
    # conversation; users with ``desk`` (agents) those of the queues they belong to, those they
    # handle or handled (assignee, last agent) and those offered to them; anyone else none.
    def can_view(self, user: User, row: Any) -> bool:
        if "supervise" in user.permissions:
            return True
        if "desk" not in user.permissions:
            return False
        return (row.assignee_id == user.id or row.last_agent_id == user.id
                or user.id in self._queue_members.get(row.queue_id or "", set())
                or user.id in self.offered_to.get(row.id, set()))

    def visible(self, user: User) -> ColumnElement[bool] | None:
        """``can_view`` as a condition on ``conversations`` (None: every conversation)."""
        if "supervise" in user.permissions:
            return None
        if "desk" not in user.permissions:
            return false()
        c = t.conversations.c
        offered = [cid for cid, agents in self.offered_to.items() if user.id in agents]
        return or_(c.assignee_id == user.id, c.last_agent_id == user.id,
                   c.queue_id.in_(sorted(self.user_queue_ids(user))), c.id.in_(offered))

    def visible_ids(self, user: User) -> Any | None:
        """The ids of the conversations ``user`` may see, as a subquery for another table's
        ``conversation_id`` (None: every conversation)."""
        cond = self.visible(user)
        return None if cond is None else select(t.conversations.c.id).where(cond)

    async def require_reference(self, user: User | None, cid: str, tx: Tx | None = None) -> Any:
        """A record a user makes about a conversation (a ticket or work order created from it, a
        ticket link): the conversation must exist and, for a user of the desk, be one they may
        see (NotFound otherwise, as for reading it; ``user`` None: the system). Returns its row."""
        row = await self.row(cid, tx)
        if user is not None and "desk" in user.permissions:
            self.require_view(user, row)
        return row

    def require_view(self, user: User, row: Any) -> None:
        if not self.can_view(user, row):
            # Do not reveal whether the conversation exists.
            raise NotFound(f"conversation {row.id} does not exist")

    def require_handler(self, user: User, row: Any) -> None:
        self.require_view(user, row)
        if row.assignee_id != user.id and "supervise" not in user.permissions:
            raise Forbidden("only the assigned agent (or a supervisor) can do this")
        if row.status != "assigned":
            raise InvalidState(f"the conversation is {row.status}")

    async def _summaries(self, conn: Any, rows: Sequence[Any]) -> list[dict[str, Any]]:
        return await conn.run_sync(self._summaries_sync, rows) if rows else []

    def _summaries_sync(self, conn: Connection, rows: Sequence[Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        contact_ids = sorted({cid for r in rows if (cid := _contact_of(r))})
        contacts = {}
        if contact_ids:
            crow = conn.execute(_CONTACTS_IN, {"ids": contact_ids}).all()
            contacts = {c.id: contact_public(c) for c in crow}
        lrows = conn.execute(_LAST_MESSAGES, {"cids": [r.id for r in rows]}).all()
        last = {r.conversation_id: r for r in lrows}
        return [self.summary(r, contacts.get(_contact_of(r)), last.get(r.id)) for r in rows]

    async def row_and_summary(self, cid: str) -> tuple[Any, dict[str, Any]]:
        """A conversation's row and its inbox summary, read in one go (pushes to the desks)."""
        def work(conn: Connection) -> tuple[Any, dict[str, Any] | None]:
            row = conn.execute(_CONVERSATION, {"cid": cid}).first()
            return (row, self._summaries_sync(conn, [row])[0]) if row is not None else (None, None)
        row, summary = await self.db.read_sync(work)
        if row is None or summary is None:
            raise NotFound(f"conversation {cid} does not exist")
        return row, summary

    async def inbox_rows(self, rows: list[Any]) -> list[dict[str, Any]]:
        return await self.db.read_sync(lambda conn: self._summaries_sync(conn, rows))

    async def customer_conversation(self, token: str | None) -> Any | None:
        """The conversation a customer access token (the widget's) belongs to, if any."""
        if not token:
            return None
        hashed = token_hash(token)
        row = await self.db.read_sync(lambda conn: conn.execute(_BY_TOKEN, {"h": hashed}).first())
        if row is None or row.created_at + self.customer_token_ttl_s < self.clock.now():
            return None
        return row

    async def inbox(self, user: User, view: str = "mine", channel: str | None = None,
                    queue_id: str | None = None, q: str | None = None, limit: int = 50,
                    before: float | None = None) -> dict[str, Any]:
        if view not in VIEWS:
            raise ValidationFailed(f"view must be one of {', '.join(VIEWS)}")
        if channel and channel not in CHANNELS:
            raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}")
        if not 1 <= limit <= 200:
            raise ValidationFailed("limit must be 1..200")
        c = t.conversations.c
        supervise = "supervise" in user.permissions
        my_queues = self.user_queue_ids(user)
        cond: list[Any] = []
        if view == "mine":
            cond += [c.assignee_id == user.id, c.status == "assigned"]
        elif view == "queued":
            cond.append(c.status.in_(("queued", "offered")))
            if not supervise:
                cond.append(c.queue_id.in_(my_queues))
        elif view == "offered":
            ids = [cid for cid, agents in self.offered_to.items() if user.id in agents]
            cond.append(c.id.in_(ids))
        elif view == "pending":
            cond.append(c.status == "pending")
            if not supervise:
                cond.append(or_(c.queue_id.in_(my_queues), c.assignee_id == user.id))
        elif view == "closed":
            cond.append(c.status.in_(("closed", "abandoned")))
            if not supervise:
                cond.append(or_(c.assignee_id == user.id, c.last_agent_id == user.id))
        elif not supervise:
            raise Forbidden("the 'all' view needs the 'supervise' permission")
        if channel:
            cond.append(c.channel == channel)
        if queue_id:
            cond.append(c.queue_id == queue_id)
        if before is not None:
            cond.append(c.updated_at < before)
        if q:
            like = f"%{q.lower()}%"
            msg_match = select(t.messages.c.conversation_id).where(
                func.lower(t.messages.c.body).like(like))
            contact_match = select(t.contacts.c.id).where(or_(
                func.lower(t.contacts.c.name).like(like), func.lower(t.contacts.c.email).like(like),
                t.contacts.c.phone.like(like)))
            cond.append(or_(c.id.in_(msg_match), c.contact_id.in_(contact_match),
                            c.claimed_contact_id.in_(contact_match),
                            func.lower(c.subject).like(like),
                            *[c.id.in_(hook(q)) for hook in self.search_hooks]))
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.conversations).where(*cond)
                                       .order_by(desc(c.updated_at)).limit(limit))).all()
            items = await self._summaries(conn, rows)
        if view == "offered":
            for item in items:
                item["offer_expires_at"] = self.offered_to.get(item["id"], {}).get(user.id)
        return {"items": items, "next_before": rows[-1].updated_at if len(rows) == limit else None}

    async def messages(self, cid: str, include_notes: bool) -> list[dict[str, Any]]:
        return await self.db.read_sync(lambda conn: self._messages_sync(conn, cid, include_notes))

    @staticmethod
    def _messages_sync(conn: Connection, cid: str, include_notes: bool) -> list[dict[str, Any]]:
        cond = [t.messages.c.conversation_id == cid]
        if not include_notes:
            cond.append(t.messages.c.kind != "note")
        rows = conn.execute(select(t.messages).where(*cond)
                            .order_by(t.messages.c.created_at, t.messages.c.id)).all()
        arows = conn.execute(select(t.attachments).where(
            t.attachments.c.conversation_id == cid, t.attachments.c.message_id.is_not(None))).all()
        by_msg: dict[str, list[dict[str, Any]]] = {}
        for a in arows:
            by_msg.setdefault(a.message_id, []).append(attachment_public(a))
        return [message_public(r, by_msg.get(r.id)) for r in rows]

    async def contact_history(self, user: User, contact_id: str, exclude: str | None = None,
                              limit: int = 20) -> list[dict[str, Any]]:
        """The contact's conversations ``user`` may see, newest first."""
        return await self.db.read_sync(
            lambda conn: self._history_sync(conn, user, contact_id, exclude, limit))

    def _history_sync(self, conn: Connection, user: User, contact_id: str, exclude: str | None = None,
                      limit: int = 20) -> list[dict[str, Any]]:
        c = t.conversations.c
        # with the chats that only claimed to be this contact (each marked unverified)
        cond = [or_(c.contact_id == contact_id, c.claimed_contact_id == contact_id), c.id != (exclude or "")]
        visible = self.visible(user)
        if visible is not None:
            cond.append(visible)
        rows = conn.execute(select(t.conversations).where(*cond)
                            .order_by(desc(c.created_at)).limit(limit)).all()
        return self._summaries_sync(conn, rows)

    async def detail(self, user: User, cid: str) -> dict[str, Any]:
        def work(conn: Connection) -> dict[str, Any]:  # one read, one hop
            row = conn.execute(_CONVERSATION, {"cid": cid}).first()
            if row is None:
                raise NotFound(f"conversation {cid} does not exist")
            self.require_view(user, row)
            summary = self._summaries_sync(conn, [row])[0]
            contact_id = _contact_of(row)
            return {
                **summary,
                "contact": self._linked_contact(conn, row),
                "messages": self._messages_sync(conn, cid, include_notes=True),
                "history": self._history_sync(conn, user, contact_id, exclude=cid) if contact_id else [],
                "csat": {"rating": row.csat_rating, "comment": row.csat_comment}
                if row.csat_rating else None,
                "meta": row.meta,
            }
        return await self.db.read_sync(work)

    async def screen_pop(self, user: User, cid: str) -> dict[str, Any]:
        """What the agent ``user`` sees when a conversation reaches them: the contact, the pre-chat
        answers and the contact's other conversations they may see."""
        def work(conn: Connection) -> dict[str, Any]:  # one read, one hop
            row = conn.execute(_CONVERSATION, {"cid": cid}).first()
            if row is None:
                raise NotFound(f"conversation {cid} does not exist")
            contact_id = _contact_of(row)
            return {"conversation_id": cid,
                    # a chat's claimed contact is shown as a candidate: verified false
                    "contact": self._linked_contact(conn, row),
                    "new_customer": bool(row.meta.get("contact_created")),
                    "prechat": row.meta.get("prechat", {}),
                    "history": self._history_sync(conn, user, contact_id, exclude=cid)
                    if contact_id else []}
        return await self.db.read_sync(work)

    def _linked_contact(self, conn: Connection, row: Any) -> dict[str, Any] | None:
        """The conversation's contact record with ``verified`` (False: the candidate a chat
        customer claimed to be, not yet proven; hub/services/identity.py)."""
        contact_id = _contact_of(row)
        if not contact_id:
            return None
        try:
            return {**self.contacts.read(conn, contact_id), "verified": row.contact_id is not None}
        except NotFound:  # merged away or erased since
            return None

    # --- writing ----------------------------------------------------------------------------
    async def open(self, *, channel: str, queue_id: str, identity: dict[str, Any],
                   subject: str | None = None, first_message: str | None = None,
                   meta: dict[str, Any] | None = None, widget_token_hash: str | None = None,
                   status: str = "queued", priority: int = 0,
                   attachment_ids: list[str] | None = None,
                   conversation_id: str | None = None, extra_rows: ExtraRows | None = None,
                   attachment_rows: Sequence[Executable] = (), language: str | None = None,
                   identity_claimed: bool = False) -> Any:
        """Create a conversation for an inbound contact, finding or creating its contact.

        ``language``: the conversation's language (``zh-CN``/``en``) when the channel knows it (the
        widget's own language, the IVR entry chosen); else the known contact's ``language`` (set by
        staff on the contact; not a claimed one's); else it is guessed from the first message
        (``hub.services.language.detect_language``) or, failing that, from a later one (not for
        voice: see ``WORDS_CHANNELS``).

        ``attachment_rows``: the inserts of attachments whose files a channel has just written
        (``AttachmentStore.write_file``), stored in this transaction before the first message
        links them (their ids are in ``attachment_ids``).

        ``extra_rows``: a channel's own rows, inserted in the same transaction as the first message
        (see ``ExtraRows``; not called without a first message); a unique-key conflict among them
        raises the ``IntegrityError`` itself, for the channel to interpret (e.g. a re-delivery).
        ``conversation_id``: the id to give it (chosen ahead by a caller that retries after a crash;
        an id that exists already fails the insert).

        ``identity_claimed``: ``identity`` is only what the customer typed (the chat's pre-chat
        form): an existing contact it matches becomes the conversation's ``claimed_contact_id``,
        not its contact, until proven (hub/services/identity.py): no VIP priority, no history,
        the customer's messages under the name they typed."""
        if channel not in CHANNELS:
            raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}")
        if queue_id not in self._queue_names:
            raise ValidationFailed(f"queue {queue_id} does not exist")
        if first_message is not None and len(first_message) > MAX_BODY:
            raise ValidationFailed(f"message is longer than {MAX_BODY} characters")
        if language is not None and language not in LANGUAGES:
            raise ValidationFailed(f"language must be one of {', '.join(LANGUAGES)}")
        meta = dict(meta or {})
        contact = await self.contacts.find_by_identity(identity.get("email"), identity.get("phone"))
        claimed = contact if identity_claimed else None
        if language is None and contact is not None and claimed is None:
            language = normalise_language(contact.get("language"))  # as staff set it on the contact
        if language is None and channel in WORDS_CHANNELS:
            language = detect_language(first_message)
        new_contact = None
        if contact is None:  # created in the conversation's transaction
            new_contact = await self.contacts.validate({k: v for k, v in identity.items()
                                                        if k in ("name", "email", "phone") and v}, partial=False)
            meta["contact_created"] = True
        cid = conversation_id or new_id()
        now = self.clock.now()

        # one unit of work, one hop to the writer: contact, conversation, first message, the
        # channel's rows, and the stored conversation read back
        def work(conn: Connection, emit: Callable[[Event], None]) -> Any:
            nonlocal contact
            if new_contact is not None:
                row, ev = self.contacts.new_row(new_contact)
                conn.execute(t.contacts.insert(), row)
                emit(ev)
                contact = contact_public(SimpleNamespace(**row))
            assert contact is not None
            linked = None if claimed is not None else contact
            conn.execute(t.conversations.insert().values(
                id=cid, channel=channel, direction="in", status=status,
                contact_id=linked["id"] if linked else None,
                claimed_contact_id=claimed["id"] if claimed else None, queue_id=queue_id,
                priority=priority + (10 if linked and linked["vip"] else 0),
                subject=subject, widget_token_hash=widget_token_hash, created_at=now,
                updated_at=now, enqueued_at=now if status == "queued" else None, meta=meta,
                language=language))
            emit(Event(EventType.CONVERSATION_CREATED, now, conversation_id=cid,
                       queue_id=queue_id, data={"channel": channel, "status": status,
                                                "contact_id": linked["id"] if linked else None,
                                                "claimed_contact_id": claimed["id"] if claimed else None}))
            for insert_attachment in attachment_rows:
                conn.execute(insert_attachment)
            if first_message or attachment_ids:
                msg = self._insert_message(
                    conn, emit, cid, kind="message", sender="customer",
                    sender_name=identity.get("name") or None if claimed else contact["name"],
                    body=first_message or "", queue_id=queue_id, assignee_id=None,
                    attachment_ids=attachment_ids)
                for stmt in extra_rows(msg["id"]) if extra_rows is not None else ():
                    conn.execute(stmt)
            return conn.execute(_CONVERSATION, {"cid": cid}).one()

        return await self.db.write(work)

    async def insert_message(self, tx: Tx, cid: str, *, kind: str, sender: str, body: str,
                              sender_name: str | None, queue_id: str | None,
                              assignee_id: str | None, user_id: str | None = None,
                              client_id: str | None = None,
                              attachment_ids: list[str] | None = None) -> dict[str, Any]:
        """A message in the caller's transaction (with its ``message.created`` event)."""
        def work(conn: Connection) -> dict[str, Any]:
            return self._insert_message(conn, tx.emit, cid, kind=kind, sender=sender, body=body,
                                        sender_name=sender_name, queue_id=queue_id,
                                        assignee_id=assignee_id, user_id=user_id,
                                        client_id=client_id, attachment_ids=attachment_ids)
        return await tx.conn.run_sync(work)

    def _insert_message(self, conn: Connection, emit: Callable[[Event], None], cid: str, *,
                        kind: str, sender: str, body: str, sender_name: str | None,
                        queue_id: str | None, assignee_id: str | None, user_id: str | None = None,
                        client_id: str | None = None,
                        attachment_ids: list[str] | None = None) -> dict[str, Any]:
        """``insert_message``'s statements on a synchronous connection (``Database.write``)."""
        mid = new_id()
        now = self.clock.now()
        conn.execute(_INSERT_MESSAGE, _message_row(mid, cid, kind, sender, user_id, sender_name, body, client_id, now))
        atts: list[dict[str, Any]] = []
        if attachment_ids:
            a = t.attachments.c
            rows = conn.execute(select(t.attachments).where(
                a.id.in_(attachment_ids), a.message_id.is_(None),
                or_(a.conversation_id == cid, a.conversation_id.is_(None)))).all()
            if len(rows) != len(set(attachment_ids)):
                raise ValidationFailed("unknown or already used attachment id")
            conn.execute(update(t.attachments).where(a.id.in_(attachment_ids))
                         .values(message_id=mid, conversation_id=cid))
            atts = [attachment_public(r) for r in rows]
        conn.execute(_TOUCH, _touch(cid, now))
        msg = {"id": mid, "conversation_id": cid, "kind": kind, "sender": sender,
               "sender_name": sender_name, "body": body, "client_id": client_id,
               "attachments": atts, "created_at": now}
        emit(_message_created(msg, user_id, queue_id, assignee_id))
        return msg

    async def add_message(self, cid: str, *, sender: str, body: str, kind: str = "message",
                          user: User | None = None, client_id: str | None = None,
                          attachment_ids: list[str] | None = None,
                          sender_name: str | None = None,
                          extra_rows: ExtraRows | None = None,
                          attachment_rows: Sequence[Executable] = (),
                          events: Sequence[Event] = ()) -> dict[str, Any]:
        """Add a message to an open conversation (a note also to a closed one).

        ``events``: a component's own events about the message (e.g. ``bot.answered``), stored in
        its transaction: a retry with the same ``client_id`` stores neither again.

        ``extra_rows``: a channel's own rows, inserted in the message's transaction (see
        ``ExtraRows``). ``attachment_rows``: as for ``open``, attachments inserted in the
        message's transaction before it links them. A repeated ``client_id`` is answered with the
        stored message; any other unique-key conflict (one of the channel's rows) raises the
        ``IntegrityError`` for the channel to interpret."""
        body = (body or "").strip()
        if not body and not attachment_ids:
            raise ValidationFailed("message is empty")
        if len(body) > MAX_BODY:
            raise ValidationFailed(f"message is longer than {MAX_BODY} characters")
        if client_id is not None and (not isinstance(client_id, str) or len(client_id) > 64):
            raise ValidationFailed("client_id must be a string of at most 64 characters")
        # One hop to the writer (SQLite: its thread runs the read, the inserts and the commit in
        # one go; see ``Database.write``): the conversation's state is read in the message's own
        # transaction. A repeated client_id (a retry) is caught by the unique (conversation,
        # client_id) constraint and answered with the stored message.
        m = t.messages.c
        user_id = user.id if user else None
        try:
            if not attachment_ids:  # chat, SMS, email replies: one hop to the writer
                mid = new_id()
                extras = tuple(extra_rows(mid)) if extra_rows is not None else ()

                def work(conn: Connection, emit: Callable[[Event], None]) -> dict[str, Any]:
                    row, name = self._message_check(cid, conn.execute(_MESSAGE_TARGET, {"cid": cid}).first(),
                                                    kind, sender, sender_name, user)
                    now = self.clock.now()
                    conn.execute(_INSERT_MESSAGE, _message_row(mid, cid, kind, sender, user_id, name,
                                                               body, client_id, now))
                    conn.execute(_TOUCH, _touch(cid, now))
                    self._learn_language(conn, cid, row, sender, body)
                    for stmt in extras:
                        conn.execute(stmt)
                    msg: dict[str, Any] = {"id": mid, "conversation_id": cid, "kind": kind,
                                           "sender": sender, "sender_name": name, "body": body,
                                           "client_id": client_id, "attachments": [], "created_at": now}
                    emit(_message_created(msg, user_id, row.queue_id, row.assignee_id))
                    for ev in events:
                        emit(ev)
                    return msg

                return await self.db.write(work)

            def work_with_files(conn: Connection, emit: Callable[[Event], None]) -> dict[str, Any]:
                row, name = self._message_check(cid, conn.execute(_MESSAGE_TARGET, {"cid": cid}).first(),
                                                kind, sender, sender_name, user)
                for insert_attachment in attachment_rows:
                    conn.execute(insert_attachment)
                new = self._insert_message(
                    conn, emit, cid, kind=kind, sender=sender, body=body, sender_name=name,
                    queue_id=row.queue_id, assignee_id=row.assignee_id, user_id=user_id,
                    client_id=client_id, attachment_ids=attachment_ids)
                self._learn_language(conn, cid, row, sender, body)
                for stmt in extra_rows(new["id"]) if extra_rows is not None else ():
                    conn.execute(stmt)
                for ev in events:
                    emit(ev)
                return new

            return await self.db.write(work_with_files)
        except IntegrityError:
            if not client_id:
                raise
            async with self.db.read() as conn:
                dup = (await conn.execute(select(t.messages).where(
                    m.conversation_id == cid, m.client_id == client_id))).first()
            if dup is None:
                raise
            return message_public(dup)

    @staticmethod
    def _learn_language(conn: Connection, cid: str, row: Any, sender: str, body: str) -> None:
        """A conversation without a language takes the one its customer's words are in."""
        if sender == "customer" and row.language is None and row.channel in WORDS_CHANNELS:
            lang = detect_language(body)
            if lang is not None:
                conn.execute(_SET_LANGUAGE, {"lang_id": cid, "lang": lang})

    async def set_language(self, cid: str, language: str) -> Any:
        """Set the conversation's language (the IVR entry the caller chose, a customer's choice in
        the widget); every later automatic text uses it. Returns the row."""
        if language not in LANGUAGES:
            raise ValidationFailed(f"language must be one of {', '.join(LANGUAGES)}",
                                   code="unknown_language", details={"allowed": list(LANGUAGES)})
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, cid)
            if row.language != language:
                await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid)
                                      .values(language=language))
        return await self.row(cid)

    @staticmethod
    def _message_check(cid: str, row: Any, kind: str, sender: str, sender_name: str | None,
                       user: User | None) -> tuple[Any, str | None]:
        """The conversation a message goes to must exist and be open (a note may go to a closed
        one); returns its row and the sender's name to store."""
        if row is None:
            raise NotFound(f"conversation {cid} does not exist")
        if row.status in ("closed", "abandoned") and kind != "note":
            raise InvalidState("the conversation is closed")
        if sender == "customer" and sender_name is None:
            # an unverified chat customer is who they said, not the contact they claimed
            sender_name = row.contact_name if row.claimed_contact_id is None else \
                (row.meta or {}).get("prechat", {}).get("name")
        return row, sender_name or (user.display_name if user else None)

    async def set_status(self, cid: str, status: str, **values: Any) -> Any:
        """Move an open conversation to ``status``; a closed or abandoned one is never reopened
        this way (its customer left while a channel was still moving it): ``InvalidState``."""
        now = self.clock.now()
        c = t.conversations.c
        async with self.db.tx() as tx:
            res = await tx.conn.execute(update(t.conversations).where(
                c.id == cid, c.status.not_in(("closed", "abandoned"))).values(status=status, updated_at=now, **values))
        row = await self.row(cid)
        if not res.rowcount:
            raise InvalidState(f"the conversation is already {row.status}", code="conversation_ended")
        return row

    async def close(self, cid: str, *, by: User | None, disposition: str | None = None,
                    note: str | None = None, reason: str = "agent") -> Any:
        now = self.clock.now()
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, cid)
            if row.status in ("closed", "abandoned"):
                raise InvalidState(f"the conversation is already {row.status}")
            if note:
                await self.insert_message(tx, cid, kind="note", sender="agent", body=note,
                                           sender_name=by.display_name if by else None,
                                           queue_id=row.queue_id, assignee_id=row.assignee_id,
                                           user_id=by.id if by else None)
            status = "abandoned" if row.status in ("queued", "offered") else "closed"
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid).values(
                status=status, closed_at=now, updated_at=now, disposition=disposition))
            etype = EventType.CONVERSATION_CLOSED
            tx.emit(Event(etype, now, conversation_id=cid, user_id=by.id if by else None,
                          queue_id=row.queue_id,
                          data={"disposition": disposition, "reason": reason, "status": status,
                                "assignee_id": row.assignee_id, "channel": row.channel,
                                "handle_s": now - row.assigned_at if row.assigned_at else None}))
        return await self.row(cid)

    async def link_contact(self, cid: str, contact_id: str, user: User) -> Any:
        row = await self.row(cid)
        self.require_view(user, row)
        await self.contacts.get(contact_id)
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid)
                                  .values(contact_id=contact_id, claimed_contact_id=None, updated_at=now))
            tx.emit(Event(EventType.CONVERSATION_CONTACT_LINKED, now, conversation_id=cid,
                          user_id=user.id, queue_id=row.queue_id,
                          data={"contact_id": contact_id, "assignee_id": row.assignee_id}))
        return await self.row(cid)

    async def rate(self, cid: str, rating: int, comment: str | None) -> None:
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise ValidationFailed("rating must be an integer from 1 to 5")
        if comment is not None and len(comment) > 2000:
            raise ValidationFailed("comment is longer than 2000 characters")
        now = self.clock.now()
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, cid)
            if row.csat_rating is not None:
                raise InvalidState("this conversation was already rated")
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.id == cid)
                                  .values(csat_rating=rating, csat_comment=comment, updated_at=now))
            tx.emit(Event(EventType.CONVERSATION_CSAT, now, conversation_id=cid,
                          queue_id=row.queue_id,
                          data={"rating": rating, "assignee_id": row.last_agent_id}))

    async def discard_unlinked_attachments(self, attachment_ids: list[str]) -> list[str]:
        """Delete attachment rows that never became part of a message (a channel's ingestion
        failed half-way); returns the ids whose files the caller can remove: those deleted and
        those with no row at all (written by ``AttachmentStore.write_file``, never committed)."""
        if not attachment_ids:
            return []
        a = t.attachments.c

        def work(conn: Connection, _emit: Callable[[Event], None]) -> list[str]:
            rows = conn.execute(select(a.id, a.message_id).where(a.id.in_(attachment_ids))).all()
            unlinked = [r.id for r in rows if r.message_id is None]
            if unlinked:
                conn.execute(t.attachments.delete().where(a.id.in_(unlinked)))
            linked = {r.id for r in rows if r.message_id is not None}
            return [aid for aid in attachment_ids if aid not in linked]

        return await self.db.write(work)
