"""The knowledge base (KB-1, KB-2): FAQ articles with versions, search, favourites, hot
documents, feedback, usage and gaps. Provided to other components as the ``kb`` port
(``services.ports.kb``, hub/ports.py).

Rules live here; HTTP is in ``kb.api``, the index plumbing in ``kb.index``. Every save writes the
article row *and* a full snapshot to ``kb_versions`` in one transaction, then the index is updated
for that one article.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, desc, func, insert, or_, select, update

from hub.clock import Clock
from hub.db.uow import Database, Tx
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.auth import AuthService, User
from kb import tables as kt
from kb.content import STATUSES, normalise
from kb.diff import diff_snapshots
from kb.index import IndexSync
from kb.search.base import check_filters, check_query
from kb.search.fusion import Confidence
from kb.search.text import query_terms, tokenize

log = logging.getLogger(__name__)

CONTENT_FIELDS = ("question", "alternatives", "answer_html", "answer_text", "category", "product",
                  "keywords", "language")
USAGE_KINDS = ("viewed", "suggested", "inserted", "bot_answered")
GAP_CHANNELS_KEPT = 10
#: Chinese function words left out of the lexical confidence (they match nothing useful)
CJK_FUNCTION_WORDS = frozenset("了 的 吗 呢 吧 啊 呀 我 你 您 他 她 它 我们 是 在 有 和 就 都 也 "
                               "要 会 能 可以 怎么 怎么办 如何 什么 为什么 哪里 请问 一下".split())
GAP_CONVERSATIONS_KEPT = 10
#: usage rows are buffered in memory and written in one transaction (one executemany insert) at
#: most every USAGE_FLUSH_INTERVAL_S, or as soon as USAGE_FLUSH_ROWS are waiting
USAGE_FLUSH_INTERVAL_S = 0.5
USAGE_FLUSH_ROWS = 200
#: while the database refuses them, at most this many rows wait; beyond it the oldest are dropped
USAGE_BUFFER_MAX = 20_000


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result in the knowledge base's results contract (backend-independent).

    ``score`` is the fused score (cosine scale, higher is better); ``confidence`` is 0..1: the
    fused score clipped to 0..1 when the query was ranked with embeddings, or — for a query the
    model does not understand (e.g. Chinese with an English model, ranked by BM25 alone) — the
    share of the query's words found in the article's question, phrasings and keywords.
    ``margin`` is the lead of this hit's score over the next one. ``highlights`` are HTML-safe
    fragments with ``<mark>``."""

    article_id: str
    question: str
    answer_text: str
    answer_html: str
    category: str
    product: str
    status: str
    language: str
    score: float
    confidence: float
    margin: float
    bm25: float
    dense: float
    mode: str  # hybrid | lexical
    highlights: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.question

    @property
    def answer(self) -> str:
        return self.answer_text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def article_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "question": row.question, "alternatives": list(row.alternatives or []),
        "answer_html": row.answer_html, "answer_text": row.answer_text,
        "category": row.category, "product": row.product, "keywords": list(row.keywords or []),
        "language": row.language, "status": row.status, "owner_id": row.owner_id,
        "version": row.version, "created_at": row.created_at, "updated_at": row.updated_at,
        "published_at": row.published_at, "updated_by": row.updated_by,
    }


def snapshot(article: Mapping[str, Any]) -> dict[str, Any]:
    return {k: article[k] for k in (*CONTENT_FIELDS, "status", "owner_id")}


def gap_key(question: str) -> str:
    """Questions that differ only in case, punctuation or spacing are one gap."""
    import hashlib

    words = tokenize(question)
    norm = " ".join(words) if words else re.sub(r"\s+", " ", question.strip().lower())
    return hashlib.sha256(norm.encode()).hexdigest()


def _can_publish(actor: User | None) -> bool:
    return actor is None or "kb_publish" in actor.permissions


class KnowledgeBase:
    def __init__(self, db: Database, clock: Clock, index: IndexSync, users: AuthService, *,
                 bot_min_score: float, bot_min_margin: float) -> None:
        self.db = db
        self.clock = clock
        self.users = users
        self.index = index
        self.bot_min_score = bot_min_score
        self.bot_min_margin = bot_min_margin
        # usage rows (viewed / suggested / inserted / bot_answered) waiting to be written: see
        # record_usage and flush_usage
        self.usage_flush_interval_s = USAGE_FLUSH_INTERVAL_S
        self.usage_flush_rows = USAGE_FLUSH_ROWS
        self._usage: list[dict[str, Any]] = []
        self._usage_lock = asyncio.Lock()
        self._usage_wake = asyncio.Event()
        self._usage_full = asyncio.Event()
        self._usage_task: asyncio.Task[None] | None = None
        self.usage_stats = {"buffered": 0, "written": 0, "flushes": 0, "dropped": 0}

    # ================================================================== articles
    async def _row(self, conn: Any, article_id: str) -> Any:
        row = (await conn.execute(select(kt.kb_articles)
                                  .where(kt.kb_articles.c.id == article_id))).first()
        if row is None:
            raise NotFound(f"article {article_id} does not exist")
        return row

    async def get(self, article_id: str, *, user: User | None = None) -> dict[str, Any]:
        """One article with its feedback and usage counts (and ``favourite`` for ``user``).
        Readers without ``kb_edit`` see published articles only."""
        await self._flush_before_read(article_id)
        async with self.db.read() as conn:
            row = await self._row(conn, article_id)
            if user is not None and "kb_edit" not in user.permissions and row.status != "published":
                raise NotFound(f"article {article_id} does not exist")
            out = article_public(row)
            out["stats"] = await self._stats(conn, [article_id])
            out["stats"] = out["stats"].get(article_id, _empty_stats())
            if user is not None:
                fav = (await conn.execute(select(kt.kb_favourites.c.article_id).where(
                    kt.kb_favourites.c.user_id == user.id,
                    kt.kb_favourites.c.article_id == article_id))).first()
                out["favourite"] = fav is not None
        return out

    async def _stats(self, conn: Any, ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not ids:
            return {}
        out: dict[str, dict[str, int]] = {i: _empty_stats() for i in ids}
        fb = await conn.execute(select(kt.kb_feedback.c.article_id, kt.kb_feedback.c.helpful,
                                       func.count()).where(kt.kb_feedback.c.article_id.in_(ids))
                                .group_by(kt.kb_feedback.c.article_id, kt.kb_feedback.c.helpful))
        for aid, helpful, n in fb:
            out[aid]["helpful" if helpful else "not_helpful"] += n
        us = await conn.execute(select(kt.kb_usage.c.article_id, kt.kb_usage.c.kind, func.count())
                                .where(kt.kb_usage.c.article_id.in_(ids))
                                .group_by(kt.kb_usage.c.article_id, kt.kb_usage.c.kind))
        for aid, kind, n in us:
            out[aid][kind] = out[aid].get(kind, 0) + n
        return out

    async def list_articles(self, *, status: str | None = None, category: str | None = None,
                            product: str | None = None, q: str | None = None,
                            favourites_of: str | None = None, published_only: bool = True,
                            limit: int = 50, offset: int = 0) -> dict[str, Any]:
        a = kt.kb_articles
        conds = []
        if published_only:
            if status not in (None, "", "published"):
                raise Forbidden("only knowledge editors list drafts and archived articles")
            conds.append(a.c.status == "published")
        elif status:
            if status not in STATUSES:
                raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}")
            conds.append(a.c.status == status)
        if category:
            conds.append(a.c.category == category)
        if product:
            conds.append(a.c.product == product)
        if q and q.strip():
            like = f"%{q.strip().lower()}%"
            conds.append(or_(func.lower(a.c.question).like(like),
                             func.lower(a.c.answer_text).like(like)))
        base = select(a)
        if favourites_of:
            base = base.join(kt.kb_favourites, and_(kt.kb_favourites.c.article_id == a.c.id,
                                                    kt.kb_favourites.c.user_id == favourites_of))
        if conds:
            base = base.where(*conds)
        await self._flush_before_read()
        async with self.db.read() as conn:
            total = (await conn.execute(select(func.count()).select_from(base.subquery()))).scalar()
            rows = (await conn.execute(base.order_by(desc(a.c.updated_at), a.c.id)
                                       .limit(limit).offset(offset))).all()
            stats = await self._stats(conn, [r.id for r in rows])
        items = []
        for r in rows:
            item = article_public(r)
            item["stats"] = stats.get(r.id, _empty_stats())
            items.append(item)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    async def facets(self, *, published_only: bool = True) -> dict[str, Any]:
        """Categories, products and per-status counts for filter menus."""
        a = kt.kb_articles
        where = [a.c.status == "published"] if published_only else []
        async with self.db.read() as conn:
            cats = sorted(c for c in (await conn.execute(
                select(a.c.category).where(*where).distinct())).scalars() if c)
            prods = sorted(p for p in (await conn.execute(
                select(a.c.product).where(*where).distinct())).scalars() if p)
            counts: dict[str, int] = dict((await conn.execute(select(a.c.status, func.count()).where(*where)
                                              .group_by(a.c.status))).all())
        return {"categories": cats, "products": prods,
                "statuses": {s: counts.get(s, 0) for s in STATUSES}}

    async def _write_version(self, tx: Tx, article: dict[str, Any], action: str,
                             actor_id: str | None, note: str | None = None) -> None:
        await tx.conn.execute(insert(kt.kb_versions).values(
            article_id=article["id"], version=article["version"], snapshot=snapshot(article),
            action=action, note=note, author_id=actor_id, created_at=article["updated_at"]))

    async def create(self, data: dict[str, Any], actor: User | None, *,
                     action: str = "created", article_id: str | None = None,
                     tx: Tx | None = None) -> dict[str, Any]:
        """A new article (a draft unless ``status`` says otherwise and the actor may publish)."""
        values, errors = normalise(data)
        if errors:
            raise ValidationFailed(errors[0]["msg"], details={"errors": errors})
        status = values.pop("status", None) or "draft"
        if status != "draft" and not _can_publish(actor):
            raise Forbidden("only knowledge managers publish or archive articles")
        now = self.clock.now()
        owner = data.get("owner_id") or (actor.id if actor else None)
        article = {"id": article_id or new_id(), **values, "status": status, "owner_id": owner,
                   "version": 1, "created_at": now, "updated_at": now,
                   "published_at": now if status == "published" else None,
                   "updated_by": actor.id if actor else None}
        await self._check_owner(owner)
        if tx is None:
            async with self.db.tx() as own:
                await self._insert(own, article, action, actor)
            await self.index.sync([article["id"]])
            return await self.get(article["id"])
        await self._insert(tx, article, action, actor)
        return article

    async def _check_owner(self, owner_id: str | None) -> None:
        """An article's owner is a user (users are deactivated, never deleted)."""
        if not owner_id:
            return
        try:
            await self.users.get_user(owner_id)
        except NotFound:
            raise ValidationFailed("owner_id is not a user", details={"errors": [
                {"loc": ["body", "owner_id"], "msg": "unknown user"}]}) from None

    async def _insert(self, tx: Tx, article: dict[str, Any], action: str, actor: User | None) -> None:
        await tx.conn.execute(insert(kt.kb_articles).values(**article))
        await self._write_version(tx, article, action, actor.id if actor else None)
        tx.emit(Event(EventType.ADMIN_CHANGED, article["updated_at"],
                      user_id=actor.id if actor else None,
                      data={"entity": "kb_article", "id": article["id"], "action": action,
                            "version": 1, "status": article["status"]}))

    async def update(self, article_id: str, data: dict[str, Any], actor: User | None, *,
                     expected_version: int | None = None, action: str = "edited",
                     note: str | None = None, tx: Tx | None = None) -> dict[str, Any]:
        """Save a new version. Changing a published or archived article, or its status, needs
        ``kb_publish``; ``expected_version`` (the version the editor loaded) guards against
        overwriting someone else's save."""
        values, errors = normalise(data, partial=True)
        if errors:
            raise ValidationFailed(errors[0]["msg"], details={"errors": errors})
        await self._check_owner(data.get("owner_id"))
        if tx is None:
            async with self.db.tx() as own:
                saved = await self._update(own, article_id, values, data, actor,
                                           expected_version, action, note)
            if saved is not None:
                await self.index.sync([article_id])
            return await self.get(article_id)
        await self._update(tx, article_id, values, data, actor, expected_version, action, note)
        return {"id": article_id}

    async def _update(self, tx: Tx, article_id: str, values: dict[str, Any], data: dict[str, Any],
                      actor: User | None, expected_version: int | None, action: str,
                      note: str | None) -> dict[str, Any] | None:
        row = await self._row(tx.conn, article_id)
        current = article_public(row)
        if expected_version is not None and expected_version != row.version:
            raise Conflict(f"the article was changed by someone else (now version {row.version},"
                           f" you edited version {expected_version}); reload and edit again",
                           details={"version": row.version})
        if "owner_id" in data:
            values["owner_id"] = data["owner_id"] or None
        new_status = values.get("status", row.status)
        if (row.status != "draft" or new_status != "draft") and not _can_publish(actor):
            raise Forbidden("only knowledge managers change published or archived articles "
                            "or an article's status")
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if not changed:
            return None
        now = max(self.clock.now(), row.updated_at)
        article = {**current, **changed, "version": row.version + 1, "updated_at": now,
                   "updated_by": actor.id if actor else None}
        if new_status == "published" and row.status != "published":
            article["published_at"] = now
        stored = {k: article[k] for k in (*changed, "version", "updated_at", "updated_by",
                                          "published_at")}
        res = await tx.conn.execute(update(kt.kb_articles).where(
            kt.kb_articles.c.id == article_id, kt.kb_articles.c.version == row.version)
            .values(**stored))
        if res.rowcount != 1:
            raise Conflict("the article was changed at the same time; reload and edit again")
        await self._write_version(tx, article, action, actor.id if actor else None, note)
        tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id if actor else None,
                      data={"entity": "kb_article", "id": article_id, "action": action,
                            "version": article["version"], "status": article["status"],
                            "fields": sorted(changed)}))
        return article

    async def set_status(self, article_id: str, status: str, actor: User | None) -> dict[str, Any]:
        if status not in STATUSES:
            raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}")
        action = {"published": "published", "archived": "archived", "draft": "unpublished"}[status]
        return await self.update(article_id, {"status": status}, actor, action=action)

    async def delete(self, article_id: str, actor: User | None) -> None:
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, article_id)
            if row.status != "draft" and not _can_publish(actor):
                raise Forbidden("only knowledge managers delete published or archived articles")
            await tx.conn.execute(delete(kt.kb_articles).where(kt.kb_articles.c.id == article_id))
            tx.emit(Event(EventType.ADMIN_CHANGED, self.clock.now(),
                          user_id=actor.id if actor else None,
                          data={"entity": "kb_article", "id": article_id, "action": "deleted"}))
        await self.index.sync([article_id])

    # ================================================================== versions
    async def versions(self, article_id: str) -> list[dict[str, Any]]:
        v = kt.kb_versions
        async with self.db.read() as conn:
            await self._row(conn, article_id)
            rows = (await conn.execute(select(v).where(v.c.article_id == article_id)
                                       .order_by(desc(v.c.version)))).all()
        return [{"version": r.version, "action": r.action, "note": r.note,
                 "author_id": r.author_id, "created_at": r.created_at,
                 "status": r.snapshot.get("status"), "question": r.snapshot.get("question")}
                for r in rows]

    async def version(self, article_id: str, number: int) -> dict[str, Any]:
        v = kt.kb_versions
        async with self.db.read() as conn:
            row = (await conn.execute(select(v).where(v.c.article_id == article_id,
                                                      v.c.version == number))).first()
        if row is None:
            raise NotFound(f"article {article_id} has no version {number}")
        return {"article_id": article_id, "version": row.version, "action": row.action,
                "note": row.note, "author_id": row.author_id, "created_at": row.created_at,
                "snapshot": dict(row.snapshot)}

    async def diff(self, article_id: str, old: int, new: int) -> dict[str, Any]:
        a = await self.version(article_id, old)
        b = await self.version(article_id, new)
        return {"article_id": article_id, "from": old, "to": new,
                "changes": diff_snapshots(a["snapshot"], b["snapshot"])}

    async def restore(self, article_id: str, number: int, actor: User | None) -> dict[str, Any]:
        """A new version whose content is that of version ``number`` (status unchanged)."""
        old = (await self.version(article_id, number))["snapshot"]
        content = {k: old[k] for k in CONTENT_FIELDS if k in old and k != "answer_text"}
        return await self.update(article_id, content, actor, action="restored",
                                 note=f"restored from version {number}")

    # ================================================================== search
    async def search(self, query: str, *, limit: int = 5, filters: dict[str, Any] | None = None,
                     published_only: bool = True) -> list[SearchHit]:
        """Hybrid search (BM25 + embeddings, fused). ``published_only`` (agents, the bot)
        restricts to published articles; knowledge editors may pass ``False`` and a ``status``
        filter. Bad input raises :class:`KbError` (``empty_query``, ``query_too_long``,
        ``unknown_filter``)."""
        q = check_query(query)
        wanted = check_filters(filters)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise ValidationFailed("limit must be between 1 and 100", details={"limit": limit})
        if published_only:
            if wanted.get("status", "published") != "published":
                raise Forbidden("only knowledge editors search drafts and archived articles")
            wanted["status"] = "published"
        backend = await self.index.wait_ready()
        hits = await backend.search(q, wanted, limit)
        if not hits:
            return []
        lexical = backend.lexical_only(q)
        stmt = select(kt.kb_articles).where(kt.kb_articles.c.id.in_([h.doc_id for h in hits]))
        rows = {r.id: r for r in await self.db.read_sync(lambda conn: conn.execute(stmt).all())}
        terms = (set(query_terms(q)) - CJK_FUNCTION_WORDS) if lexical else set()
        out: list[SearchHit] = []
        hits = [h for h in hits if h.doc_id in rows]  # a delete racing the search
        for i, h in enumerate(hits):
            r = rows[h.doc_id]
            nxt = hits[i + 1].score if i + 1 < len(hits) else 0.0
            if lexical:
                words = set(tokenize(" ".join([r.question, *(r.alternatives or []),
                                               *(r.keywords or [])])))
                confidence = len(terms & words) / len(terms) if terms else 0.0
            else:
                confidence = min(max(h.score, 0.0), 1.0)
            out.append(SearchHit(
                article_id=r.id, question=r.question, answer_text=r.answer_text,
                answer_html=r.answer_html, category=r.category, product=r.product,
                status=r.status, language=r.language, score=round(h.score, 6),
                confidence=round(confidence, 4), margin=round(h.score - nxt, 6),
                bm25=round(h.bm25, 6), dense=round(h.dense, 6),
                mode="lexical" if lexical else "hybrid", highlights=dict(h.highlights)))
        return out

    def confident(self, hits: Sequence[SearchHit]) -> bool:
        """Whether the top hit is good enough for the bot to answer on its own: its confidence
        and lead against the bot's thresholds (``assist.bot.BotPolicy.from_settings``: the
        calibrated ones unless ``kb_bot_min_score`` / ``kb_bot_min_margin`` are set)."""
        if not hits:
            return False
        top = hits[0]
        margin = top.margin if top.mode == "hybrid" else 1.0
        return top.confidence >= self.bot_min_score and margin >= self.bot_min_margin

    @staticmethod
    def confidence_of(hits: Sequence[SearchHit]) -> Confidence:
        if not hits:
            return Confidence(0.0, 0.0, 0.0)
        return Confidence(score=hits[0].confidence, margin=hits[0].margin, dense=hits[0].dense)

    # ================================================================== usage, feedback
    async def record_usage(self, article_id: str, *, conversation_id: str | None = None,
                           user_id: str | None = None, kind: str) -> None:
        """One use of an article (see :meth:`record_usage_many`)."""
        await self.record_usage_many([article_id], conversation_id=conversation_id,
                                     user_id=user_id, kind=kind)

    async def record_usage_many(self, article_ids: Iterable[str], *,
                                conversation_id: str | None = None, user_id: str | None = None,
                                kind: str) -> None:
        """Uses of articles (e.g. the suggestions of one suggestion set), kept in memory and
        written together: while the usage writer runs (:meth:`start_usage_writer`, started with
        the component) the rows go out in one transaction with whatever else is waiting, at
        most every ``usage_flush_interval_s`` or as soon as ``usage_flush_rows`` wait; without it
        they are written now, in one transaction. Reads that count uses (:meth:`get`,
        :meth:`list_articles`, :meth:`hot`, feedback) flush first, so they see every accepted
        row. Uses of an article deleted meanwhile are dropped when written."""
        if kind not in USAGE_KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(USAGE_KINDS)}")
        now = self.clock.now()
        rows = [{"article_id": a, "kind": kind, "user_id": user_id,
                 "conversation_id": conversation_id, "at": now} for a in article_ids]
        if not rows:
            return
        self._usage.extend(rows)
        self.usage_stats["buffered"] += len(rows)
        self._trim_usage()
        if self._usage_task is None or self._usage_task.done():
            await self.flush_usage()
            return
        self._usage_wake.set()
        if len(self._usage) >= self.usage_flush_rows:
            self._usage_full.set()

    def _trim_usage(self) -> None:
        over = len(self._usage) - USAGE_BUFFER_MAX
        if over > 0:
            del self._usage[:over]
            self.usage_stats["dropped"] += over
            log.warning("kb: %d usage rows dropped (the database did not take them)", over)

    def usage_pending(self, article_id: str | None = None) -> bool:
        """Whether usage rows (of ``article_id``, or any) wait to be written."""
        if article_id is None:
            return bool(self._usage)
        return any(r["article_id"] == article_id for r in self._usage)

    async def flush_usage(self) -> int:
        """Write every waiting usage row now, in one transaction; returns how many were written.
        On a database error the rows stay waiting (and the error is raised)."""
        async with self._usage_lock:
            if not self._usage:
                return 0
            rows, self._usage = self._usage, []
            self._usage_full.clear()
            try:
                a = kt.kb_articles.c
                async with self.db.tx() as tx:
                    known = set((await tx.conn.execute(select(a.id).where(
                        a.id.in_({r["article_id"] for r in rows})))).scalars())
                    keep = [r for r in rows if r["article_id"] in known]
                    if keep:
                        await tx.conn.execute(insert(kt.kb_usage), keep)
            except BaseException:
                self._usage[:0] = rows
                self._trim_usage()
                raise
            self.usage_stats["written"] += len(keep)
            self.usage_stats["flushes"] += 1
            return len(keep)

    async def _flush_before_read(self, article_id: str | None = None) -> None:
        """Before a read that counts uses: write the waiting ones (of ``article_id``, or all).
        A failure is logged and the read goes on (the rows stay waiting for the writer)."""
        if self.usage_pending(article_id):
            try:
                await self.flush_usage()
            except Exception:  # noqa: BLE001 - counts a moment old beat a failed read
                log.exception("kb: writing usage rows before a read failed")

    def start_usage_writer(self) -> None:
        """Start the owned task that writes buffered usage rows (stopped by
        :meth:`stop_usage_writer`, which writes what is left)."""
        if self._usage_task is None or self._usage_task.done():
            self._usage_task = asyncio.create_task(self._usage_writer(), name="kb-usage-writer")
            if self._usage:
                self._usage_wake.set()

    async def stop_usage_writer(self) -> None:
        task, self._usage_task = self._usage_task, None
        if task is not None:
            async with self._usage_lock:  # never cancelled halfway through a write
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.flush_usage()
        except Exception:  # noqa: BLE001 - closing must not break the hub's shutdown
            log.exception("kb: %d usage rows could not be written at stop", len(self._usage))

    async def _usage_writer(self) -> None:
        while True:
            await self._usage_wake.wait()
            if len(self._usage) < self.usage_flush_rows:
                # let the batch fill for up to the interval (unless it fills up first)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.usage_flush_interval_s):
                        await self._usage_full.wait()
            self._usage_wake.clear()
            try:
                await self.flush_usage()
            except Exception:  # noqa: BLE001 - retried after the interval
                log.exception("kb: writing %d usage rows failed; retrying", len(self._usage))
                await asyncio.sleep(self.usage_flush_interval_s)
            if self._usage:
                self._usage_wake.set()

    async def feedback(self, article_id: str, *, helpful: bool, user_id: str | None,
                       comment: str | None = None, conversation_id: str | None = None
                       ) -> dict[str, Any]:
        fid = new_id()
        now = self.clock.now()
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, article_id)
            if row.status != "published":
                raise NotFound(f"article {article_id} is not published")
            await tx.conn.execute(insert(kt.kb_feedback).values(
                id=fid, article_id=article_id, helpful=helpful,
                comment=(comment or "").strip() or None, user_id=user_id,
                conversation_id=conversation_id, at=now))
        await self._flush_before_read(article_id)
        async with self.db.read() as conn:
            stats = (await self._stats(conn, [article_id]))[article_id]
        return {"id": fid, "article_id": article_id, "helpful": helpful, "stats": stats}

    async def feedback_report(self, *, limit: int = 100) -> dict[str, Any]:
        """Per article: helpful / not helpful / used; plus the latest comments."""
        f = kt.kb_feedback
        a = kt.kb_articles
        await self._flush_before_read()
        async with self.db.read() as conn:
            agg = (await conn.execute(
                select(f.c.article_id, a.c.question, a.c.status,
                       func.sum(case((f.c.helpful.is_(True), 1), else_=0)).label("helpful"),
                       func.count().label("total"))
                .join(a, a.c.id == f.c.article_id).group_by(f.c.article_id, a.c.question,
                                                             a.c.status)
                .order_by(desc("total")).limit(limit))).all()
            stats = await self._stats(conn, [r.article_id for r in agg])
            recent = (await conn.execute(
                select(f, a.c.question).join(a, a.c.id == f.c.article_id)
                .where(f.c.comment.is_not(None)).order_by(desc(f.c.at)).limit(50))).all()
        articles = [{"article_id": r.article_id, "question": r.question, "status": r.status,
                     "helpful": int(r.helpful or 0), "not_helpful": int(r.total - (r.helpful or 0)),
                     "used": stats[r.article_id].get("inserted", 0)
                     + stats[r.article_id].get("bot_answered", 0)} for r in agg]
        comments = [{"article_id": r.article_id, "question": r.question, "helpful": r.helpful,
                     "comment": r.comment, "user_id": r.user_id,
                     "conversation_id": r.conversation_id, "at": r.at} for r in recent]
        return {"articles": articles, "comments": comments}

    # ================================================================== favourites, hot
    async def set_favourite(self, article_id: str, user_id: str, on: bool) -> bool:
        fav = kt.kb_favourites
        async with self.db.tx() as tx:
            await self._row(tx.conn, article_id)
            await tx.conn.execute(delete(fav).where(fav.c.user_id == user_id,
                                                    fav.c.article_id == article_id))
            if on:
                await tx.conn.execute(insert(fav).values(user_id=user_id, article_id=article_id,
                                                         created_at=self.clock.now()))
        return on

    async def hot(self, *, days: float = 7.0, limit: int = 10) -> list[dict[str, Any]]:
        """Published articles most used (viewed, suggested, inserted, answered by the bot) in
        the last ``days``; inserts and bot answers weigh 3, views 2, suggestions 1."""
        u, a = kt.kb_usage, kt.kb_articles
        since = self.clock.now() - days * 86400
        await self._flush_before_read()
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(u.c.article_id, u.c.kind, func.count())
                .join(a, a.c.id == u.c.article_id)
                .where(u.c.at >= since, a.c.status == "published")
                .group_by(u.c.article_id, u.c.kind))).all()
            counts: dict[str, dict[str, int]] = {}
            for aid, kind, n in rows:
                counts.setdefault(aid, {})[kind] = n
            weight = {"inserted": 3, "bot_answered": 3, "viewed": 2, "suggested": 1}
            ranked = sorted(counts, key=lambda i: (-sum(weight.get(k, 1) * n
                                                        for k, n in counts[i].items()), i))[:limit]
            arts = {r.id: r for r in (await conn.execute(select(a).where(a.c.id.in_(ranked)))).all()}
        return [{"article_id": i, "question": arts[i].question, "category": arts[i].category,
                 "product": arts[i].product, "uses": counts[i],
                 "score": sum(weight.get(k, 1) * n for k, n in counts[i].items())}
                for i in ranked]

    # ================================================================== gaps
    async def record_gap(self, question: str, *, conversation_id: str | None = None,
                         channel: str = "chat") -> dict[str, Any]:
        """A question nobody's FAQ answered (the bot handed over, or an agent found nothing).
        The same question (ignoring case/punctuation) is counted, not duplicated."""
        text = (question or "").strip()
        if not text:
            raise ValidationFailed("the question is empty")
        text = text[:1000]
        key = gap_key(text)
        now = self.clock.now()
        g = kt.kb_gaps
        async with self.db.tx() as tx:
            row = (await tx.conn.execute(select(g).where(g.c.key == key))).first()
            if row is None:
                gid = new_id()
                await tx.conn.execute(insert(g).values(
                    id=gid, key=key, question=text, count=1, channels={channel: 1},
                    conversation_ids=[conversation_id] if conversation_id else [],
                    first_at=now, last_at=now, status="open"))
            else:
                gid = row.id
                channels = dict(row.channels or {})
                channels[channel] = channels.get(channel, 0) + 1
                convs = [c for c in (row.conversation_ids or []) if c != conversation_id]
                if conversation_id:
                    convs = [conversation_id, *convs][:GAP_CONVERSATIONS_KEPT]
                await tx.conn.execute(update(g).where(g.c.id == row.id).values(
                    question=text, count=g.c.count + 1, channels=channels,
                    conversation_ids=convs, last_at=now,
                    # a resolved question asked again is open again
                    status="open" if row.status != "dismissed" else "dismissed"))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, conversation_id=conversation_id,
                          data={"entity": "kb_gap", "id": gid, "action": "recorded",
                                "channel": channel}))
        return await self.gap(gid)

    async def gap(self, gap_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(kt.kb_gaps).where(kt.kb_gaps.c.id == gap_id))).first()
        if row is None:
            raise NotFound(f"gap {gap_id} does not exist")
        return _gap_public(row)

    async def gaps(self, *, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        g = kt.kb_gaps
        q = select(g)
        if status:
            if status not in ("open", "resolved", "dismissed"):
                raise ValidationFailed("status must be open, resolved or dismissed")
            q = q.where(g.c.status == status)
        async with self.db.read() as conn:
            rows = (await conn.execute(q.order_by(desc(g.c.count), desc(g.c.last_at))
                                       .limit(limit))).all()
        return [_gap_public(r) for r in rows]

    async def resolve_gap(self, gap_id: str, actor: User | None, *, article_id: str | None = None,
                          add_phrasing: bool = True, create: dict[str, Any] | None = None
                          ) -> dict[str, Any]:
        """Close a gap by linking an existing article (optionally adding the question as one
        of its phrasings) or by creating a new draft article from it."""
        gap = await self.gap(gap_id)
        if (article_id is None) == (create is None):
            raise ValidationFailed("give either article_id or create")
        if create is not None:
            data = {"question": gap["question"], **create}
            article = await self.create(data, actor)
            article_id = article["id"]
        else:
            assert article_id is not None
            article = await self.get(article_id)
            if add_phrasing and gap["question"] not in article["alternatives"] \
                    and gap["question"] != article["question"]:
                await self.update(article_id, {"alternatives": [*article["alternatives"],
                                                                gap["question"]]},
                                  actor, action="edited", note="added a phrasing from a gap")
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(kt.kb_gaps).where(kt.kb_gaps.c.id == gap_id).values(
                status="resolved", article_id=article_id, resolved_by=actor.id if actor else None,
                resolved_at=now))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=actor.id if actor else None,
                          data={"entity": "kb_gap", "id": gap_id, "action": "resolved",
                                "article_id": article_id}))
        return await self.gap(gap_id)

    async def dismiss_gap(self, gap_id: str, actor: User | None) -> dict[str, Any]:
        await self.gap(gap_id)
        async with self.db.tx() as tx:
            await tx.conn.execute(update(kt.kb_gaps).where(kt.kb_gaps.c.id == gap_id).values(
                status="dismissed", resolved_by=actor.id if actor else None,
                resolved_at=self.clock.now()))
        return await self.gap(gap_id)

    # ================================================================== health
    async def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.index.backend.name, "ready": self.index.ready,
                               "reconcile": self.index.last_reconcile}
        if self.index.error is not None:
            out["error"] = {"code": self.index.error.code, "detail": self.index.error.detail}
        elif self.index.ready:
            out["indexed"] = await self.index.backend.count()
        out["usage"] = {**self.usage_stats, "waiting": len(self._usage)}
        return out


def _empty_stats() -> dict[str, int]:
    return {"helpful": 0, "not_helpful": 0, **{k: 0 for k in USAGE_KINDS}}


def _gap_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "question": row.question, "count": row.count,
            "channels": dict(row.channels or {}), "conversation_ids": list(row.conversation_ids or []),
            "first_at": row.first_at, "last_at": row.last_at, "status": row.status,
            "article_id": row.article_id, "resolved_by": row.resolved_by,
            "resolved_at": row.resolved_at}

