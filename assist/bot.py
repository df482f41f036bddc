"""The self-service widget bot (ASSIST-2).

``BotPolicy`` is the pure decision: given the customer's text and the FAQ hits, answer with the
best published article when its fused score clears the calibrated threshold (and leads the
runner-up by the calibrated margin), hand over when the customer asks for a person, and hand
over otherwise. The threshold comes from ``assist/bot_calibration.json``, written by
``bench/assist_bot.py --calibrate`` on the BANKING77 train split (see that module); the settings
``kb_bot_min_score`` / ``kb_bot_min_margin`` override it when set (:meth:`BotPolicy.from_settings`,
the one place both the bot and ``KnowledgeBase.confident`` take their thresholds from).

``WidgetBot`` does the side effects: bot messages are stored with sender ``"bot"`` (so the agent
sees the whole exchange after a hand-over), hand-over puts the conversation in the ACD queue,
unanswered questions are recorded as knowledge-base gaps, and ``bot.answered`` /
``bot.handed_over`` / ``bot.deflected`` go to the event log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, update

from assist.events import AssistEventType
from assist.faq import Faq, FaqHit
from hub.db import tables as t
from hub.events import Event, EventType

if TYPE_CHECKING:
    from hub.app import Services

_FIRST_CUSTOMER_TEXT = (select(t.messages.c.body)
                        .where(t.messages.c.conversation_id == bindparam("cid"), t.messages.c.sender == "customer",
                               t.messages.c.kind == "message")
                        .order_by(t.messages.c.created_at, t.messages.c.id).limit(1))

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("bot_calibration.json")
#: used only when the calibration file is missing or unreadable
DEFAULT_THRESHOLD, DEFAULT_MARGIN = 0.7, 0.02
#: for a query the model does not cover (ranked by BM25 alone, e.g. Chinese with the English
#: default model) the score is not on the calibrated scale: the bot then answers only when the
#: knowledge base reports that (nearly) every word of the question is in the article's question
#: or phrasings. Not calibrated (no labelled Chinese FAQ data on this machine).
LEXICAL_MIN_CONFIDENCE = 0.9
BOT_NAME = "Virtual assistant"

GREETING = ("Hi! I'm the virtual assistant. Ask me your question — I answer from our help "
            "articles. You can choose “Talk to a person” at any time.")
HANDOVER_LOW = "I'm not sure I can answer that correctly, so I'm connecting you with a person."
HANDOVER_ASKED = "Of course — I'm connecting you with a person now."
ANSWER_FOOTER = "\n\n(Not what you needed? Ask again, or choose “Talk to a person”.)"

_PERSON = re.compile(
    r"\b(talk|speak|chat|connect me)\b.{0,20}\b(person|human|agent|someone|representative|operator)"
    r"|\b(human|real person|live agent|operator|representative)\b\s*(please)?\s*[.!?]*\s*$"
    r"|^\s*(agent|human|person)\s*[.!?]*\s*$"
    r"|转人工|人工客服|人工服务|找人工|真人|接人工",
    re.IGNORECASE)


def wants_person(text: str) -> bool:
    return bool(_PERSON.search(text or ""))


@dataclass(frozen=True, slots=True)
class Answer:
    hit: FaqHit


@dataclass(frozen=True, slots=True)
class HandOver:
    reason: str  # customer_request | low_confidence | not_covered | no_kb


@dataclass(frozen=True)
class BotPolicy:
    threshold: float
    margin: float
    source: str = "built-in default"

    @classmethod
    def calibrated(cls, path: Path = CALIBRATION_FILE) -> BotPolicy:
        try:
            data = json.loads(path.read_text())
            return cls(float(data["threshold"]), float(data["margin"]), source=str(path.name))
        except (OSError, KeyError, ValueError, TypeError):
            log.warning("no bot calibration in %s: using threshold %.2f", path, DEFAULT_THRESHOLD)
            return cls(DEFAULT_THRESHOLD, DEFAULT_MARGIN)

    @classmethod
    def from_settings(cls, settings: Any, path: Path = CALIBRATION_FILE) -> BotPolicy:
        """The calibrated threshold and margin, each replaced by its setting
        (``kb_bot_min_score``, ``kb_bot_min_margin``) when that is set explicitly. Used by the
        widget bot, assist's ``confident`` flag and ``KnowledgeBase.confident`` alike."""
        policy = cls.calibrated(path)
        score = getattr(settings, "kb_bot_min_score", None)
        margin = getattr(settings, "kb_bot_min_margin", None)
        if score is None and margin is None:
            return policy
        named = [n for n, v in (("kb_bot_min_score", score), ("kb_bot_min_margin", margin))
                 if v is not None]
        return cls(policy.threshold if score is None else float(score),
                   policy.margin if margin is None else float(margin),
                   source=f"{policy.source}, overridden by {' and '.join(named)}")

    def decide(self, text: str, hits: list[FaqHit], *, covered: bool = True) -> Answer | HandOver:
        """``covered``: whether the embedding model understands the text's language; when it
        does not (Chinese with the English default model) the fused score is lexical only and
        not on the calibrated scale, so the bot does not answer on its own."""
        if wants_person(text):
            return HandOver("customer_request")
        if not hits:
            return HandOver("low_confidence")
        top = hits[0]
        if top.mode == "lexical" or not covered:
            if top.mode == "lexical" and top.confidence >= LEXICAL_MIN_CONFIDENCE and (
                    len(hits) == 1 or hits[1].confidence < top.confidence):
                return Answer(top)
            return HandOver("low_confidence" if top.mode == "lexical" else "not_covered")
        lead = top.margin if top.margin is not None else \
            top.score - (hits[1].score if len(hits) > 1 else 0.0)
        if top.score >= self.threshold and lead >= self.margin:
            return Answer(top)
        return HandOver("low_confidence")


class WidgetBot:
    """Provided as the ``bot`` port (``services.ports.bot``); the web chat channel asks ``wants(queue_id)``
    before enqueueing a new chat and, when it says yes, opens the chat with status ``bot`` and
    calls ``begin(row)`` instead of enqueueing."""

    def __init__(self, services: Services, policy: BotPolicy, *, enabled: bool,
                 queues: tuple[str, ...], faq_lookup: Any, covers: Any = None) -> None:
        self.s = services
        self.policy = policy
        self.enabled = enabled
        self.queues = queues
        self._faq_lookup = faq_lookup  # () -> Faq | None (the kb may come later)
        # the knowledge base says per hit whether embeddings ranked it (``mode``); ``covers`` can
        # add a language rule of its own
        self._covers = covers or (lambda text: True)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: the conversations with status ``bot`` (ours): from ``conversation.created`` and
        #: ``begin``, left on hand-over, routing or close; loaded from the database at start
        #: (:meth:`load`). Messages of any other conversation cost the bot nothing.
        self.active: set[str] = set()
        self.loaded = False

    # --- the web chat channel's questions -----------------------------------------------
    async def wants(self, queue_id: str) -> bool:
        """Whether the bot takes a new chat on this queue. Not while the FAQ index is still
        opening (model loading at start-up) or has failed: those chats go straight to people."""
        faq = self._faq_lookup()
        return (self.enabled and (not self.queues or queue_id in self.queues)
                and faq is not None and faq.ready())

    async def load(self) -> int:
        """The conversations that have status ``bot`` now (after a restart)."""
        c = t.conversations.c
        async with self.s.db.read() as conn:
            ids = set((await conn.execute(select(c.id).where(c.status == "bot"))).scalars())
        self.active |= ids
        self.loaded = True
        return len(ids)

    async def begin(self, row: Any) -> None:
        """A chat just opened with status ``bot``: greet, answer the first message if any."""
        self.active.add(row.id)
        first = await self._first_customer_text(row.id)
        await self._say(row.id, GREETING)
        if first:
            await self._handle(row.id, first)

    # --- events ------------------------------------------------------------------------
    #: events after which a conversation is no longer the bot's
    _LEAVES = frozenset({AssistEventType.BOT_HANDED_OVER, EventType.CONVERSATION_QUEUED,
                         EventType.CONVERSATION_OFFERED, EventType.CONVERSATION_ASSIGNED,
                         EventType.CONVERSATION_TRANSFERRED, EventType.CONVERSATION_ABANDONED,
                         EventType.CONVERSATION_OVERFLOWED})

    def _ours(self, cid: str | None) -> bool | None:
        """Whether the conversation has status ``bot`` (None: not known yet, before :meth:`load`)."""
        if not cid:
            return False
        if cid in self.active:
            return True
        return False if self.loaded else None

    async def on_event(self, ev: Event) -> None:
        cid = ev.conversation_id
        if ev.type is EventType.MESSAGE_CREATED:
            msg = ev.data.get("message") or {}
            if msg.get("sender") != "customer" or msg.get("kind") != "message" or ev.data.get("assignee_id"):
                return
            if not cid or not (msg.get("body") or "").strip() or self._ours(cid) is False:
                return  # not a bot conversation: no read, no search
            task = asyncio.create_task(self._handle_if_bot(cid, msg), name=f"bot-{cid}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif ev.type is EventType.CONVERSATION_CREATED and cid:
            if ev.data.get("status") == "bot":
                self.active.add(cid)
        elif ev.type is EventType.CONVERSATION_CLOSED and cid:
            ours = self._ours(cid)
            self._leave(cid)
            if ours is not False and ev.data.get("assignee_id") is None:
                await self._count_deflection(ev)
        elif ev.type in self._LEAVES and cid:
            self._leave(cid)

    def _leave(self, cid: str) -> None:
        self.active.discard(cid)
        lock = self._locks.get(cid)
        if lock is not None and not lock.locked():
            del self._locks[cid]

    async def _handle_if_bot(self, cid: str, msg: dict[str, Any]) -> None:
        try:
            row = await self.s.conversations.row(cid)
            if row.status != "bot":
                self.active.discard(cid)
                return
            first = await self._first_customer_message_id(cid)
            if first == msg.get("id"):
                return  # the opening message: begin() answers it
            await self._handle(cid, msg["body"])
        except Exception:  # noqa: BLE001 - a bot failure must not lose the customer
            log.exception("the bot failed on conversation %s; handing over", cid)
            with contextlib.suppress(Exception):
                await self.handover(cid, "bot_error")

    async def _first_customer_message_id(self, cid: str) -> str | None:
        m = t.messages.c
        async with self.s.db.read() as conn:
            return (await conn.execute(select(m.id).where(
                m.conversation_id == cid, m.sender == "customer", m.kind == "message")
                .order_by(m.created_at, m.id).limit(1))).scalar()

    async def _first_customer_text(self, cid: str) -> str:
        return await self.s.db.read_sync(lambda conn: conn.execute(_FIRST_CUSTOMER_TEXT, {"cid": cid}).scalar()) or ""

    # --- the conversation with the customer --------------------------------------------
    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    async def _say(self, cid: str, body: str) -> dict[str, Any]:
        return await self.s.conversations.add_message(cid, sender="bot", body=body,
                                                      sender_name=BOT_NAME)

    async def _handle(self, cid: str, text: str) -> None:
        async with self._lock(cid):
            row = await self.s.conversations.row(cid)
            if row.status != "bot":
                return
            faq: Faq | None = self._faq_lookup()
            hits: list[FaqHit] = []
            if faq is not None and not wants_person(text):
                try:
                    hits = await faq.search(text[:1000], limit=3)
                except Exception:  # noqa: BLE001 - no answer is better than no chat
                    log.exception("FAQ search failed for the bot")
            decision = self.policy.decide(text, hits, covered=self._covers(text)) \
                if faq is not None or wants_person(text) else HandOver("no_kb")
            if isinstance(decision, Answer):
                hit = decision.hit
                await self._say(cid, hit.answer + ANSWER_FOOTER)
                await self._emit(AssistEventType.BOT_ANSWERED, row, {
                    "article_id": hit.article_id, "score": round(hit.score, 4),
                    "question": text[:500]})
                if faq is not None:
                    with contextlib.suppress(Exception):
                        await faq.record_usage(hit.article_id, conversation_id=cid, user_id=None,
                                               kind="bot_answered")
                return
            if decision.reason != "customer_request" and faq is not None:
                try:
                    await faq.record_gap(text[:1000], conversation_id=cid, channel=row.channel)
                except Exception:  # noqa: BLE001
                    log.exception("could not record the knowledge-base gap")
            await self._handover_locked(cid, decision.reason, text)

    async def handover(self, cid: str, reason: str = "customer_request") -> bool:
        """Hand the conversation to the ACD (idempotent: False when the bot no longer has it)."""
        async with self._lock(cid):
            return await self._handover_locked(cid, reason, None)

    async def _handover_locked(self, cid: str, reason: str, question: str | None) -> bool:
        row = await self.s.conversations.row(cid)
        if row.status != "bot":
            return False
        await self._say(cid, HANDOVER_ASKED if reason == "customer_request" else HANDOVER_LOW)
        now = self.s.clock.now()
        c = t.conversations.c

        def work(conn: Connection, emit: Callable[[Event], None]) -> Any:
            done = conn.execute(update(t.conversations).where(c.id == cid, c.status == "bot").values(
                status="queued", enqueued_at=now, updated_at=now)).rowcount
            if not done:
                return None
            emit(Event(AssistEventType.BOT_HANDED_OVER, now, conversation_id=cid, queue_id=row.queue_id,
                       data={"reason": reason, "question": (question or "")[:500],
                             "channel": row.channel}))
            return conn.execute(select(t.conversations).where(c.id == cid)).first()

        queued = await self.s.db.write(work)  # the hand-over and the row as stored: one hop
        if queued is None:
            return False
        await self.s.routing.enqueue(queued)
        with contextlib.suppress(Exception):
            await self.s.sio.emit("status", {"status": "queued", "agent_name": None},
                                  to=f"widget:{cid}", namespace="/widget")
        return True

    async def _emit(self, etype: AssistEventType, row: Any, data: dict[str, Any]) -> None:
        async with self.s.db.tx() as tx:
            tx.emit(Event(etype, self.s.clock.now(), conversation_id=row.id,
                          queue_id=row.queue_id, data={"channel": row.channel, **data}))

    async def _count_deflection(self, ev: Event) -> None:
        cid = ev.conversation_id
        if cid is None:
            return
        e = t.events.c
        async with self.s.db.read() as conn:
            counts: dict[str, int] = dict((await conn.execute(select(e.type, func.count()).where(
                e.conversation_id == cid,
                e.type.in_((str(AssistEventType.BOT_ANSWERED), str(AssistEventType.BOT_HANDED_OVER))))
                .group_by(e.type))).all())
        if counts.get(str(AssistEventType.BOT_ANSWERED)) and not counts.get(str(AssistEventType.BOT_HANDED_OVER)):
            row = await self.s.conversations.row(cid)
            await self._emit(AssistEventType.BOT_DEFLECTED, row,
                             {"answers": counts[str(AssistEventType.BOT_ANSWERED)],
                              "reason": ev.data.get("reason")})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
