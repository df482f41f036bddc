"""The assist service (ASSIST-1), provided as the ``assist`` port (``services.ports.assist``).

* Live suggestions: customer messages (any channel) and final transcript segments (event
  ``transcript.segment`` with ``data.text`` / ``data.final``, from the speech work) are queries to
  the published FAQ; the top hits go to the assigned agent and the supervisors over ``/desk`` as
  ``assist``. Expensive work is bounded:

  - only for conversations an agent is handling or previewing (status ``assigned`` or
    ``offered``), known from the events assist receives (:mod:`assist.states`; one database read
    for a conversation not seen since start). Texts of other conversations are only remembered:
    when the conversation is offered or assigned, suggestions are computed once from the latest
    customer text, so the agent sees them on opening;
  - latest wins per conversation: while one search runs, newer texts replace each other and only
    the last is searched next (a burst never queues stale work);
  - shed under load: at most ``concurrency`` searches run at once and at most ``max_pending``
    conversations wait; beyond that the oldest waiting request is dropped (``stats["dropped"]``,
    in ``GET /api/assist/status``);
  - a share of a core: after a search that took ``t`` seconds its slot rests
    ``t * (1 / cpu_share - 1)`` (at most ``MAX_REST_S``) before the next, so under a flood of
    customer messages the searches (~8 ms of CPU each) take at most ``cpu_share`` of a core per
    slot and leave the rest to the event loop that stores and pushes the messages; what waits
    meanwhile is coalesced or shed as above;
  - the uses ("suggested") of one suggestion set are handed to the knowledge base together, which
    writes them in batches (``KnowledgeBase.record_usage_many``).

  CPU work of our own (category vectors, summaries) runs in one worker thread; the search itself
  runs off the event loop in the knowledge base's backend.
* ``entities``, ``summarise`` and ``suggest_category`` for the agent's panel and for tickets."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from assist import entities as ent
from assist import summary as summ
from assist.events import AssistEventType
from assist.faq import Faq, FaqHit
from assist.knn import CategoryIndex
from assist.states import ConversationStates, ConvState
from hub.events import Event, EventType

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

#: voice's ``VoiceEventType.TRANSCRIPT_SEGMENT`` (voice/calls/events.py): components do not import
#: one another, tests/test_event_types.py keeps the two equal
TRANSCRIPT_SEGMENT = "transcript.segment"
#: a ticket or work order opened (workflows/events.py): its category teaches the form's suggestion
CATEGORISED = ("ticket.created", "workorder.created")
SUGGESTIONS = 3
MIN_QUERY_WORDS = 4
#: defaults of the settings assist_suggest_max_pending / assist_suggest_concurrency
MAX_PENDING = 64
CONCURRENCY = 1  # the default of assist_suggest_concurrency (assist/settings.py)
CPU_SHARE = 0.5  # the default of assist_suggest_cpu_share (assist/settings.py)
#: the longest rest after one search (a search held up by something else is not CPU spent)
MAX_REST_S = 0.25
#: conversations whose latest customer texts are remembered (least recently used forgotten)
TEXTS_KEPT = 20_000


class _Lru(OrderedDict[str, Any]):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class AssistService:
    def __init__(self, services: Services, *, faq_lookup: Any, embedder: Any,
                 max_examples: int = 5000, policy: Any = None, max_pending: int = MAX_PENDING,
                 concurrency: int = CONCURRENCY, cpu_share: float = CPU_SHARE) -> None:
        self.s = services
        self._faq_lookup = faq_lookup
        self.policy = policy
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assist")
        self.categories = CategoryIndex(embedder, max_examples=max_examples)
        # the categories of tickets and work orders opened from conversations (the form's
        # suggestion), apart from the closing dispositions above
        self.ticket_categories = CategoryIndex(embedder, max_examples=max_examples)
        self.max_pending = max(1, int(max_pending))
        self.concurrency = max(1, int(concurrency))
        self.cpu_share = min(1.0, max(0.05, float(cpu_share)))
        self.states = ConversationStates(TEXTS_KEPT)
        self._current: dict[str, dict[str, Any]] = {}  # the suggestions last computed
        self._current_text: dict[str, str] = {}  # ... and the text they were computed from
        self._latest = _Lru(TEXTS_KEPT)  # cid -> the latest customer text (any source)
        self._recent = _Lru(TEXTS_KEPT)  # cid -> the last two customer messages
        #: waiting requests, oldest first: cid -> text (None: the latest customer message, read)
        self._pending: OrderedDict[str, str | None] = OrderedDict()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._resting = 0  # slots resting after a search (cpu_share)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.stats = {"searches": 0, "skipped_inactive": 0, "coalesced": 0, "dropped": 0}

    @property
    def faq(self) -> Faq | None:
        return self._faq_lookup()

    async def _cpu(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- lifecycle -----------------------------------------------------------------------
    async def load_examples(self) -> int:
        """Labelled examples: closed conversations with a disposition, newest first."""
        items = await self.s.conversations.labelled_examples(self.categories.max_examples)
        items.reverse()  # oldest first, so the newest survive the cap
        await self._cpu(self.categories.add_many, items)
        opened = [ev for ev in reversed(await self.s.eventlog.latest(CATEGORISED, self.ticket_categories.max_examples))
                  if (ev["data"] or {}).get("category") and ev["conversation_id"]]
        texts = await self.s.conversations.customer_texts([ev["conversation_id"] for ev in opened])
        await self._cpu(self.ticket_categories.add_many, [
            (ev["conversation_id"], texts.get(ev["conversation_id"], ""), ev["data"]["category"]) for ev in opened])
        return len(self.categories)

    async def stop(self) -> None:
        self._stopping = True
        self._pending.clear()
        for task in [*self._running.values(), *self._tasks]:
            task.cancel()
        for task in [*self._running.values(), *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.executor.shutdown(wait=False, cancel_futures=True)

    def load(self) -> dict[str, Any]:
        """Figures of the suggestion work (``GET /api/assist/status``)."""
        return {**self.stats, "pending": len(self._pending), "running": len(self._running),
                "max_pending": self.max_pending, "concurrency": self.concurrency,
                "cpu_share": self.cpu_share}

    # --- events ---------------------------------------------------------------------------
    async def on_event(self, ev: Event) -> None:
        t_ = str(ev.type)
        self.states.apply(ev)
        cid = ev.conversation_id
        if ev.type is EventType.MESSAGE_CREATED:
            msg = ev.data.get("message") or {}
            if msg.get("sender") == "customer" and msg.get("kind") == "message" and msg.get("body"):
                if cid:
                    recent = self._recent.get(cid) or []
                    self._recent.put(cid, [*recent[-1:], msg["body"]])
                self.push_text(cid, msg["body"])
        elif t_ == TRANSCRIPT_SEGMENT:
            text = (ev.data or {}).get("text")
            speaker = (ev.data or {}).get("speaker") or (ev.data or {}).get("leg") or "customer"
            if (ev.data or {}).get("final") and isinstance(text, str) and text.strip() \
                    and speaker in ("customer", "caller", "remote"):
                self.push_text(cid, text)
        elif t_ in CATEGORISED and cid and (ev.data or {}).get("category"):
            task = asyncio.create_task(self._learn(cid, str(ev.data["category"]), self.ticket_categories),
                                       name=f"assist-learn-category-{cid}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif ev.type in (EventType.CONVERSATION_OFFERED, EventType.CONVERSATION_ASSIGNED) and cid:
            await self._handled(ev)
        elif ev.type in (EventType.CONVERSATION_CLOSED, EventType.CONVERSATION_ABANDONED) and cid:
            self._forget(cid)
            if ev.type is EventType.CONVERSATION_CLOSED and ev.data.get("disposition") \
                    and ev.data.get("status") == "closed":
                task = asyncio.create_task(self._learn(cid, ev.data["disposition"]),
                                           name=f"assist-learn-{cid}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def on_remote_event(self, ev: Event) -> None:
        """Another process's event: only what it says about the conversation's state."""
        self.states.apply(ev)
        if ev.type in (EventType.CONVERSATION_CLOSED, EventType.CONVERSATION_ABANDONED) and ev.conversation_id:
            self._forget(ev.conversation_id)

    def _forget(self, cid: str) -> None:
        for d in (self._current, self._current_text, self._latest, self._recent, self._pending):
            d.pop(cid, None)

    async def _handled(self, ev: Event) -> None:
        """Offered to or assigned to an agent: make sure the suggestions for the latest customer
        text exist (computed once), and give the assigned agent the current ones."""
        cid = ev.conversation_id
        assert cid is not None
        if cid in self._pending or cid in self._running:
            return  # that search's result goes to whoever handles the conversation then
        latest = self._latest.get(cid)
        current = self._current.get(cid)
        up_to_date = current is not None and (latest is None or
                                               latest == self._current_text.get(cid))
        if up_to_date:
            if ev.type is EventType.CONVERSATION_ASSIGNED and ev.user_id:
                await self.s.push.to_user(ev.user_id, "assist", current)
            return
        self._request(cid, latest)

    async def _learn(self, cid: str, label: str, index: CategoryIndex | None = None) -> None:
        text = await self.conversation_text(cid)
        await self._cpu((self.categories if index is None else index).add_many, [(cid, text, label)])

    def push_text(self, cid: str | None, text: str) -> None:
        """A new customer text: remembered, and searched when the conversation is handled or
        previewed by an agent (latest wins per conversation)."""
        if not cid:
            return
        self._latest.put(cid, text)
        state = self.states.get(cid)
        if state is not None and not state.active:
            self.stats["skipped_inactive"] += 1
            return  # searched when an agent gets it (_handled)
        self._request(cid, text)  # unknown state: the worker reads it once

    def _request(self, cid: str, text: str | None) -> None:
        if self._stopping:
            return
        if cid in self._pending:
            del self._pending[cid]  # latest wins (and it counts as the newest request)
            self.stats["coalesced"] += 1
        elif len(self._pending) >= self.max_pending:
            dropped, _ = self._pending.popitem(last=False)
            self.stats["dropped"] += 1
            log.debug("assist: shedding load, suggestions for %s dropped (%d waiting)",
                      dropped, len(self._pending))
        self._pending[cid] = text
        self._kick()

    def _kick(self) -> None:
        while not self._stopping and len(self._running) + self._resting < self.concurrency:
            cid = next((c for c in self._pending if c not in self._running), None)
            if cid is None:
                return
            text = self._pending.pop(cid)
            task = asyncio.create_task(self._work(cid, text), name=f"assist-{cid}")
            self._running[cid] = task
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        for cid, running in list(self._running.items()):
            if running is task:
                del self._running[cid]
        self._kick()

    async def _state(self, cid: str) -> ConvState:
        state = self.states.get(cid)
        if state is None:  # not seen since start: one read
            row = await self.s.conversations.row(cid)
            state = self.states.remember(row, self.s.conversations.offered_to.get(cid, ()))
        return state

    async def _work(self, cid: str, text: str | None) -> None:
        rest = 0.0
        try:
            if not (await self._state(cid)).active:
                self.stats["skipped_inactive"] += 1
                return
            if text is None:
                text = await self._last_customer_text(cid)
                if not text:
                    return
            if text == self._current_text.get(cid) and cid in self._current:
                return
            started = time.monotonic()
            payload = await self._suggest(cid, text)
            rest = min(MAX_REST_S, (time.monotonic() - started) * (1 / self.cpu_share - 1))
            if payload is None:
                return
            if (await self._state(cid)).status in ("closed", "abandoned"):
                self._current.pop(cid, None)  # ended while searching
                self._current_text.pop(cid, None)
                return
            await self._push(cid, payload)
        except Exception:  # noqa: BLE001 - suggestions are best effort
            log.exception("assist suggestions failed for %s", cid)
        if rest > 0 and not self._stopping:
            await self._rest(cid, rest)

    async def _rest(self, cid: str, seconds: float) -> None:
        """The search of ``cid`` is over (a new request for it may wait again), but its slot
        rests (see ``cpu_share`` in the module docstring)."""
        task = asyncio.current_task()
        if self._running.get(cid) is task:
            del self._running[cid]
        self._resting += 1
        if task is not None:
            self._tasks.add(task)  # still owned: stop() cancels it
        try:
            await asyncio.sleep(seconds)
        finally:
            self._resting -= 1
            if task is not None:
                self._tasks.discard(task)

    async def _last_customer_text(self, cid: str) -> str | None:
        last = await self.s.conversations.customer_message(cid, first=False)
        return last[1] if last is not None else None

    async def _query_text(self, cid: str, text: str) -> str:
        if len(text.split()) >= MIN_QUERY_WORDS or any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return text
        # a short follow-up ("yes, the app") means more with the customer's previous message
        recent = self._recent.get(cid)
        if recent and len(recent) == 2:
            return f"{recent[0]} {text}" if recent[1] == text else text
        msgs = [m for m in await self.s.conversations.messages(cid, include_notes=False)
                if m["sender"] == "customer" and m["body"]]
        if len(msgs) >= 2 and msgs[-1]["body"] == text:
            return f"{msgs[-2]['body']} {text}"
        return text

    async def _suggest(self, cid: str, text: str) -> dict[str, Any] | None:
        faq = self.faq
        if faq is None:
            return None
        query = (await self._query_text(cid, text))[:1000]
        self.stats["searches"] += 1
        hits: list[FaqHit] = await faq.search(query, limit=SUGGESTIONS)
        payload = {"conversation_id": cid, "query": query, "at": self.s.clock.now(),
                   "suggestions": [self._public(h) for h in hits]}
        self._current[cid] = payload
        self._current_text[cid] = text
        if hits:
            with contextlib.suppress(Exception):
                await faq.record_usage_many([h.article_id for h in hits], conversation_id=cid,
                                            user_id=None, kind="suggested")
        return payload

    def _public(self, hit: FaqHit) -> dict[str, Any]:
        out = hit.public()
        out["confident"] = bool(self.policy and hit.score >= self.policy.threshold)
        return out

    async def _push(self, cid: str, payload: dict[str, Any]) -> None:
        state = await self._state(cid)
        await self.s.push.to_supervisors(
            "assist", payload, also=[state.assignee_id if state.status == "assigned" else None])

    # --- the agent's panel --------------------------------------------------------------
    async def suggestions(self, cid: str) -> dict[str, Any]:
        """The current suggestions (recomputed from the last customer message after a restart)."""
        if cid in self._current:
            return self._current[cid]
        msgs = [m for m in await self.s.conversations.messages(cid, include_notes=False)
                if m["sender"] == "customer" and m["body"]]
        if msgs and self.faq is not None:
            payload = await self._suggest(cid, msgs[-1]["body"])
            if payload is not None:
                return payload
        return {"conversation_id": cid, "query": None, "at": None, "suggestions": []}

    def _today(self) -> dt.date:
        return dt.date.fromtimestamp(self.s.clock.now())

    async def entities(self, conversation_id: str) -> list[dict[str, Any]]:
        """Entities in the customer's (and agent's) messages, one per kind+value, with the
        message id and span they were found in."""
        msgs = await self.s.conversations.messages(conversation_id, include_notes=False)
        today = self._today()

        def run() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            seen: set[tuple[str, str]] = set()
            for m in msgs:
                if m["sender"] == "bot" or not m["body"]:
                    continue
                for e in ent.extract(m["body"], today):
                    if (e.kind, e.value) in seen:
                        continue
                    seen.add((e.kind, e.value))
                    out.append({**e.public(), "message_id": m["id"], "sender": m["sender"]})
            return out
        return await self._cpu(run)

    async def summarise(self, conversation_id: str, max_sentences: int = 3) -> dict[str, Any]:
        msgs = await self.s.conversations.messages(conversation_id, include_notes=False)
        picked = await self._cpu(summ.summarise, msgs, max_sentences)
        return {"text": summ.as_text(picked),
                "sentences": [{"sender": s.sender, "text": s.text, "score": s.score}
                              for s in picked]}

    async def suggest_category(self, text: str, limit: int = 3) -> list[dict[str, Any]]:
        """Closing dispositions for a conversation's words."""
        return await self._cpu(self.categories.suggest, text, 7, limit)

    async def suggest_ticket_category(self, text: str, limit: int = 3) -> list[dict[str, Any]]:
        """Ticket and work-order categories for a conversation's words."""
        return await self._cpu(self.ticket_categories.suggest, text, 7, limit)

    async def conversation_text(self, conversation_id: str) -> str:
        msgs = await self.s.conversations.messages(conversation_id, include_notes=False)
        return " ".join(m["body"] for m in msgs if m["sender"] == "customer" and m["body"])[:2000]

    async def record_insert(self, cid: str, article_id: str, user: Any) -> dict[str, Any]:
        faq = self.faq
        if faq is None:
            from assist.errors import KbUnavailable
            raise KbUnavailable("the knowledge base is not installed")
        article = await faq.get(article_id)
        with contextlib.suppress(Exception):
            await faq.record_usage(article_id, conversation_id=cid, user_id=user.id, kind="inserted")
        row = await self.s.conversations.row(cid)
        async with self.s.db.tx() as tx:
            tx.emit(Event(AssistEventType.SUGGESTION_INSERTED, self.s.clock.now(),
                          conversation_id=cid, user_id=user.id, queue_id=row.queue_id,
                          data={"article_id": article_id, "channel": row.channel}))
        return article
