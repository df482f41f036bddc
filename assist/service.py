"""The assist service (ASSIST-1), published as ``services.extras["assist"]``.

* Live suggestions: every customer message (any channel) and every final transcript segment
  (event ``transcript.segment`` with ``data.text`` / ``data.final``, from the speech work) is a
  query to the published FAQ; the top hits go to the assigned agent and the supervisors over
  ``/desk`` as ``assist``. Per conversation only the newest text is worked on: while one search
  runs, newer texts replace each other and only the last is searched next (a burst never queues
  stale work). CPU work of our own (category vectors, summaries) runs in one worker thread.
* ``entities``, ``summarise`` and ``suggest_category`` for the agent's panel and for tickets."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import desc, select

from assist import entities as ent
from assist import summary as summ
from assist.faq import Faq, FaqHit
from assist.knn import CategoryIndex
from hub.db import tables as t
from hub.events import Event, EventType

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

TRANSCRIPT_SEGMENT = "transcript.segment"
SUGGESTIONS = 3
MIN_QUERY_WORDS = 4


class AssistService:
    def __init__(self, services: Services, *, faq_lookup: Any, embedder: Any,
                 max_examples: int = 5000, policy: Any = None) -> None:
        self.s = services
        self._faq_lookup = faq_lookup
        self.policy = policy
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assist")
        self.categories = CategoryIndex(embedder, max_examples=max_examples)
        self._current: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, tuple[str, float]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def faq(self) -> Faq | None:
        return self._faq_lookup()

    async def _cpu(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- lifecycle -----------------------------------------------------------------------
    async def load_examples(self) -> int:
        """Labelled examples: closed conversations with a disposition, newest first."""
        c, m = t.conversations.c, t.messages.c
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(c.id, c.disposition).where(
                c.status == "closed", c.disposition.is_not(None))
                .order_by(desc(c.closed_at)).limit(self.categories.max_examples))).all()
            ids = [r.id for r in rows]
            texts: dict[str, list[str]] = {}
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                for r in (await conn.execute(select(m.conversation_id, m.body).where(
                        m.conversation_id.in_(part), m.sender == "customer", m.kind == "message")
                        .order_by(m.created_at))).all():
                    texts.setdefault(r.conversation_id, []).append(r.body)
        items = [(r.id, " ".join(texts.get(r.id, []))[:2000], r.disposition) for r in rows]
        items.reverse()  # oldest first, so the newest survive the cap
        await self._cpu(self.categories.add_many, items)
        return len(self.categories)

    async def stop(self) -> None:
        for task in [*self._workers.values(), *self._tasks]:
            task.cancel()
        for task in [*self._workers.values(), *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- events ---------------------------------------------------------------------------
    async def on_event(self, ev: Event) -> None:
        t_ = str(ev.type)
        if ev.type is EventType.MESSAGE_CREATED:
            msg = ev.data.get("message") or {}
            if msg.get("sender") == "customer" and msg.get("kind") == "message" and msg.get("body"):
                self.push_text(ev.conversation_id, msg["body"])
        elif t_ == TRANSCRIPT_SEGMENT:
            text = (ev.data or {}).get("text")
            speaker = (ev.data or {}).get("speaker") or (ev.data or {}).get("leg") or "customer"
            if (ev.data or {}).get("final") and isinstance(text, str) and text.strip() \
                    and speaker in ("customer", "caller", "remote"):
                self.push_text(ev.conversation_id, text)
        elif ev.type is EventType.CONVERSATION_ASSIGNED and ev.conversation_id:
            current = self._current.get(ev.conversation_id)
            if current is not None and ev.user_id:
                await self.s.sio.emit("assist", current, to=f"user:{ev.user_id}", namespace="/desk")
        elif ev.type is EventType.CONVERSATION_CLOSED and ev.conversation_id:
            self._current.pop(ev.conversation_id, None)
            if ev.data.get("disposition") and ev.data.get("status") == "closed":
                task = asyncio.create_task(self._learn(ev.conversation_id, ev.data["disposition"]),
                                           name=f"assist-learn-{ev.conversation_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _learn(self, cid: str, label: str) -> None:
        text = " ".join(m["body"] for m in await self.s.conversations.messages(cid, include_notes=False)
                        if m["sender"] == "customer" and m["body"])[:2000]
        await self._cpu(self.categories.add_many, [(cid, text, label)])

    def push_text(self, cid: str | None, text: str) -> None:
        """Latest-wins per conversation: at most one search running and one waiting."""
        if not cid:
            return
        self._pending[cid] = (text, time.perf_counter())
        worker = self._workers.get(cid)
        if worker is None or worker.done():
            self._workers[cid] = asyncio.create_task(self._work(cid), name=f"assist-{cid}")

    async def _work(self, cid: str) -> None:
        try:
            while cid in self._pending:
                text, _at = self._pending.pop(cid)
                try:
                    payload = await self._suggest(cid, text)
                    if payload is not None:
                        await self._push(cid, payload)
                except Exception:  # noqa: BLE001 - suggestions are best effort
                    log.exception("assist suggestions failed for %s", cid)
        finally:
            if self._workers.get(cid) is asyncio.current_task():
                self._workers.pop(cid, None)

    async def _query_text(self, cid: str, text: str) -> str:
        if len(text.split()) >= MIN_QUERY_WORDS or any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return text
        # a short follow-up ("yes, the app") means more with the customer's previous message
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
        hits: list[FaqHit] = await faq.search(query, limit=SUGGESTIONS)
        payload = {"conversation_id": cid, "query": query, "at": self.s.clock.now(),
                   "suggestions": [self._public(h) for h in hits]}
        self._current[cid] = payload
        for h in hits:
            with contextlib.suppress(Exception):
                await faq.record_usage(h.article_id, conversation_id=cid, user_id=None,
                                       kind="suggested")
        return payload

    def _public(self, hit: FaqHit) -> dict[str, Any]:
        out = hit.public()
        out["confident"] = bool(self.policy and hit.score >= self.policy.threshold)
        return out

    async def _push(self, cid: str, payload: dict[str, Any]) -> None:
        row = await self.s.conversations.row(cid)
        rooms = ["supervisors"]
        if row.assignee_id:
            rooms.append(f"user:{row.assignee_id}")
        await self.s.sio.emit("assist", payload, to=rooms, namespace="/desk")

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
        return await self._cpu(self.categories.suggest, text, 7, limit)

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
            tx.emit(Event(EventType.ASSIST_SUGGESTION_INSERTED, self.s.clock.now(),
                          conversation_id=cid, user_id=user.id, queue_id=row.queue_id,
                          data={"article_id": article_id, "channel": row.channel}))
        return article
