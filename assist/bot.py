"""The self-service widget bot (ASSIST-2).

``BotPolicy`` is the pure decision: given the customer's text and the FAQ hits, answer with the
best published article when its fused score clears the calibrated threshold (and leads the
runner-up by the calibrated margin), hand over when the customer asks for a person, and hand
over otherwise. The threshold comes from ``assist/bot_calibration.json``, written by
``bench/assist_bot.py --calibrate`` on the BANKING77 train split (see that module); the settings
``kb_bot_min_score`` / ``kb_bot_min_margin`` override it when set (:meth:`BotPolicy.from_settings`,
the one place both the bot and ``KnowledgeBase.confident`` take their thresholds from).

``WidgetBot`` does the side effects: bot messages are stored with sender ``"bot"`` (so the agent
sees the whole exchange after a hand-over), each line a text of ``assist/texts.py`` in the
conversation's language (``services.texts``: an administrator's version or the shipped
default), hand-over puts the conversation in the ACD queue, unanswered questions are recorded as
knowledge-base gaps, and ``bot.answered`` / ``bot.handed_over`` / ``bot.deflected`` go to the
event log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assist.events import AssistEventType
from assist.faq import Faq, FaqHit
from assist.settings import AssistSettings
from assist.texts import handover_key
from hub.events import Event, EventType

if TYPE_CHECKING:
    from hub.app import Services
    from hub.config import Settings

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("bot_calibration.json")
#: used only when the calibration file is missing or unreadable
DEFAULT_THRESHOLD, DEFAULT_MARGIN = 0.7, 0.02
#: for a query the model does not cover (ranked by BM25 alone, e.g. Chinese with the English
#: default model) the score is not on the calibrated scale: the bot then answers only when the
#: knowledge base reports that (nearly) every word of the question is in the article's question
#: or phrasings. Not calibrated (no labelled Chinese FAQ data on this machine).
LEXICAL_MIN_CONFIDENCE = 0.9

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
    def from_settings(cls, settings: Settings, path: Path = CALIBRATION_FILE) -> BotPolicy:
        """The calibrated threshold and margin, each replaced by its setting
        (``kb_bot_min_score``, ``kb_bot_min_margin``) when that is set explicitly. Used by the
        widget bot, assist's ``confident`` flag and ``KnowledgeBase.confident`` alike."""
        policy = cls.calibrated(path)
        section = settings.section(AssistSettings)
        score, margin = section.bot_min_score, section.bot_min_margin
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
    """Provided as the ``bot`` port (``services.ports.bot``); the web chat channel asks
    ``wants(queue_id)`` before it enqueues a new chat and, when it says yes, opens the chat with
    status ``bot`` instead of enqueueing it.

    The bot is the durable event consumer ``assist.bot`` (:meth:`on_event`): it greets a chat and
    answers its first message on ``conversation.created``, and answers each later customer message
    on ``message.created``; several conversations at once, each in order. A crash between the
    customer's message and the bot's reply is replayed after the restart, and every reply carries
    a ``client_id`` named after what it answers (``bot:greeting``, ``bot:<message id>``,
    ``bot:handover``) with its ``bot.*`` event in the same transaction, so a replay says nothing twice."""

    #: events after which a conversation is no longer the bot's
    _LEAVES = frozenset({AssistEventType.BOT_HANDED_OVER, EventType.CONVERSATION_QUEUED,
                         EventType.CONVERSATION_OFFERED, EventType.CONVERSATION_ASSIGNED,
                         EventType.CONVERSATION_TRANSFERRED, EventType.CONVERSATION_ABANDONED,
                         EventType.CONVERSATION_OVERFLOWED})
    #: what the consumer reads
    EVENTS = (EventType.MESSAGE_CREATED, EventType.CONVERSATION_CREATED, EventType.CONVERSATION_CLOSED,
              *sorted(_LEAVES))
    CONSUMER = "assist.bot"
    CONCURRENCY = 8  # conversations answered at once (FAQ searches run off the event loop)

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
        #: the conversations with status ``bot`` (ours): from ``conversation.created``, left on
        #: hand-over, routing or close; loaded from the database at start (:meth:`load`).
        #: Messages of any other conversation cost the bot nothing.
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
        self.active |= await self.s.conversations.ids_with_status("bot")
        self.loaded = True
        return len(self.active)

    # --- events ------------------------------------------------------------------------
    def _ours(self, cid: str | None) -> bool | None:
        """Whether the conversation has status ``bot`` (None: not known yet, before :meth:`load`)."""
        if not cid:
            return False
        if cid in self.active:
            return True
        return False if self.loaded else None

    async def on_event(self, ev: Event) -> None:
        cid = ev.conversation_id
        if not cid:
            return
        if ev.type is EventType.MESSAGE_CREATED:
            msg = ev.data.get("message") or {}
            if msg.get("sender") != "customer" or msg.get("kind") != "message" or ev.data.get("assignee_id"):
                return
            if not (msg.get("body") or "").strip() or self._ours(cid) is False:
                return  # not a bot conversation: no read, no search
            await self._handle_if_bot(cid, msg)
        elif ev.type is EventType.CONVERSATION_CREATED:
            if ev.data.get("status") == "bot":
                self.active.add(cid)
                await self._guarded(cid, self._begin(cid))
        elif ev.type is EventType.CONVERSATION_CLOSED:
            ours = self._ours(cid)
            self._leave(cid)
            if ours is not False and ev.data.get("assignee_id") is None:
                await self._count_deflection(ev)
        elif ev.type in self._LEAVES:
            self._leave(cid)

    def _leave(self, cid: str) -> None:
        self.active.discard(cid)
        lock = self._locks.get(cid)
        if lock is not None and not lock.locked():
            del self._locks[cid]

    async def _handle_if_bot(self, cid: str, msg: dict[str, Any]) -> None:
        await self._guarded(cid, self._handle(cid, msg["body"], f"bot:{msg['id']}"))

    async def _guarded(self, cid: str, work: Coroutine[Any, Any, Any]) -> None:
        """Run the bot's work on a conversation; if it fails, the customer goes to a person (a
        failure to hand over is raised: the consumer tries the event again)."""
        try:
            await work
        except Exception:  # noqa: BLE001 - a bot failure must not lose the customer
            log.exception("the bot failed on conversation %s; handing over", cid)
            await self.handover(cid, "bot_error")

    async def _begin(self, cid: str) -> None:
        """A chat just opened with status ``bot``: greet, answer its first message if any."""
        row = await self.s.conversations.row(cid)
        if row.status != "bot":
            return  # the customer asked for a person before the bot got to it
        await self._say(cid, row.language, "bot.greeting", "bot:greeting")
        first = await self.s.conversations.customer_message(cid, first=True)
        if first is not None:
            await self._handle(cid, first[1], f"bot:{first[0]}")

    # --- the conversation with the customer --------------------------------------------
    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    async def _say(self, cid: str, language: str | None, text: str, client_id: str,
                   events: Sequence[Event] = (), **values: Any) -> None:
        """Say the text ``text`` (a key of ``assist/texts.py``) in ``language``."""
        render = self.s.texts.render
        await self.s.conversations.add_message(
            cid, sender="bot", body=await render(text, language, **values),
            sender_name=await render("bot.name", language), client_id=client_id, events=events)

    async def _handle(self, cid: str, text: str, key: str) -> None:
        """Answer one customer message (``key``: the reply's client_id) or hand over."""
        async with self._lock(cid):
            row = await self.s.conversations.row(cid)
            if row.status != "bot":
                return
            if await self.s.conversations.message_by_client_id(cid, key) is not None:
                return  # answered before a restart (or from the chat's opening)
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
                answered = Event(AssistEventType.BOT_ANSWERED, self.s.clock.now(), conversation_id=cid,
                                 queue_id=row.queue_id, data={
                                     "channel": row.channel, "article_id": hit.article_id,
                                     "score": round(hit.score, 4), "question": text[:500]})
                await self._say(cid, row.language, "bot.answer", key, events=(answered,),
                                answer=hit.answer, question=hit.question)
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
        await self._say(cid, row.language, handover_key(reason), "bot:handover")

        def handed_over(stored: Any, now: float) -> Event:
            return Event(AssistEventType.BOT_HANDED_OVER, now, conversation_id=cid, queue_id=stored.queue_id,
                         data={"reason": reason, "question": (question or "")[:500],
                               "channel": stored.channel})

        # the customer sees "queued" from the web chat channel's push on conversation.queued
        queued = await self.s.conversations.move_status(cid, "bot", "queued", handed_over)
        if queued is None:
            return False
        await self.s.routing.enqueue(queued)
        return True

    async def _count_deflection(self, ev: Event) -> None:
        """A chat that ended with the bot's answers and no agent: ``bot.deflected``, once."""
        cid = ev.conversation_id
        if cid is None:
            return
        counts = await self.s.eventlog.counts(cid, (AssistEventType.BOT_ANSWERED, AssistEventType.BOT_HANDED_OVER,
                                                    AssistEventType.BOT_DEFLECTED))
        answers = counts.get(str(AssistEventType.BOT_ANSWERED), 0)
        if answers and not counts.get(str(AssistEventType.BOT_HANDED_OVER)) \
                and not counts.get(str(AssistEventType.BOT_DEFLECTED)):
            row = await self.s.conversations.row(cid)
            async with self.s.db.tx() as tx:
                tx.emit(Event(AssistEventType.BOT_DEFLECTED, self.s.clock.now(), conversation_id=cid,
                              queue_id=row.queue_id, data={"channel": row.channel, "answers": answers,
                                                           "reason": ev.data.get("reason")}))
