"""Keeps the search index in step with the database (the database is the truth).

* Every change to an article is pushed to the index right after its transaction commits, for that
  article only (one embedding of its phrasings; nothing else is re-embedded).
* The index stores a *stamp*: an order-independent checksum (XOR of ``sha256(id:fingerprint)``)
  of the articles it holds, updated with each change. On start the stamp is compared with the
  same checksum computed from the database; when they differ (index missing, a crash between a
  commit and its index update, another model) the articles whose fingerprints differ are
  re-indexed and the extra ones deleted — never a blind full re-embed.
* Opening the index (which loads the embedding model) runs in the background so the hub starts
  at once; changes made meanwhile are queued and applied after the start-up reconciliation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from hub.db.uow import Database
from kb import tables as kt
from kb.search.base import AsyncSearchBackend, Doc, KbError

log = logging.getLogger(__name__)

#: Bump when the mapping from an article row to a :class:`Doc` changes (forces a reconcile).
DOC_FORMAT = "1"
BATCH = 256


class IndexUnavailable(KbError):
    code, status, title = "kb_index_unavailable", 503, "The knowledge-base search is not available"


def row_to_doc(row: Any) -> Doc:
    return Doc(id=row.id, question=row.question, alternatives=list(row.alternatives or []),
               answer=row.answer_text, category=row.category, product=row.product,
               status=row.status, keywords=list(row.keywords or []))


def _term(doc_id: str, fingerprint: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{doc_id}:{fingerprint}".encode()).digest(), "big")


def stamp_of(fingerprints: dict[str, str]) -> int:
    acc = 0
    for doc_id, fp in fingerprints.items():
        acc ^= _term(doc_id, fp)
    return acc


def _encode(stamp: int) -> str:
    return f"{DOC_FORMAT}:{stamp:064x}"


class IndexSync:
    def __init__(self, db: Database, backend: AsyncSearchBackend, *,
                 ready_timeout_s: float = 60.0) -> None:
        self.db = db
        self.backend = backend
        self.ready_timeout_s = ready_timeout_s
        self._fps: dict[str, str] = {}
        self._stamp = 0
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._pending: set[str] = set()
        self.error: KbError | None = None
        self.last_reconcile: dict[str, Any] = {}

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self.error is None

    # ------------------------------------------------------------------ start-up
    async def start(self) -> None:
        """Open the index and reconcile it with the database (run as an owned task)."""
        try:
            async with self._lock:
                await self.backend.open()
                await self._reconcile()
                self._ready.set()
                pending, self._pending = self._pending, set()
                if pending:
                    await self._apply(sorted(pending))
        except KbError as err:
            log.error("kb: the search index is unavailable: %s", err.detail)
            self.error = err
            self._ready.set()
        except Exception as err:
            log.exception("kb: opening the search index failed")
            self.error = IndexUnavailable(f"opening the search index failed: {err}")
            self._ready.set()
            raise

    async def _db_docs(self, ids: Sequence[str] | None = None) -> dict[str, Doc]:
        q = select(kt.kb_articles.c.id, kt.kb_articles.c.question, kt.kb_articles.c.alternatives,
                   kt.kb_articles.c.answer_text, kt.kb_articles.c.category,
                   kt.kb_articles.c.product, kt.kb_articles.c.status, kt.kb_articles.c.keywords)
        if ids is not None:
            q = q.where(kt.kb_articles.c.id.in_(list(ids)))
        async with self.db.read() as conn:
            rows = (await conn.execute(q)).all()
        return {r.id: row_to_doc(r) for r in rows}

    async def _reconcile(self) -> None:
        docs = await self._db_docs()
        db_fps = {i: d.fingerprint() for i, d in docs.items()}
        wanted = _encode(stamp_of(db_fps))
        stored = await self.backend.read_stamp()
        if stored == wanted:
            self._fps, self._stamp = db_fps, stamp_of(db_fps)
            self.last_reconcile = {"mode": "current", "articles": len(db_fps), "changed": 0}
            return
        indexed = await self.backend.fingerprints()
        changed = [i for i, fp in db_fps.items() if indexed.get(i) != fp]
        extra = [i for i in indexed if i not in db_fps]
        log.info("kb: index out of date (%d to (re)index, %d to delete); reconciling",
                 len(changed), len(extra))
        for start in range(0, len(changed), BATCH):
            await self.backend.upsert_many([docs[i] for i in changed[start:start + BATCH]])
        for doc_id in extra:
            await self.backend.delete(doc_id)
        self._fps, self._stamp = db_fps, stamp_of(db_fps)
        await self.backend.write_stamp(_encode(self._stamp))
        self.last_reconcile = {"mode": "reconciled", "articles": len(db_fps),
                               "changed": len(changed), "deleted": len(extra)}

    # ------------------------------------------------------------------ changes
    async def sync(self, ids: Iterable[str]) -> None:
        """Bring these articles' index entries in line with their committed rows."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        if not self._ready.is_set():
            self._pending.update(ids)
            if not self._ready.is_set():  # start() picks them up under its lock
                return
        if self.error is not None:
            return  # the next start reconciles; the database already has the change
        async with self._lock:
            await self._apply(ids)

    async def _apply(self, ids: Sequence[str]) -> None:
        docs = await self._db_docs(ids)
        upserts = [d for i, d in docs.items() if self._fps.get(i) != d.fingerprint()]
        gone = [i for i in ids if i not in docs and i in self._fps]
        for start in range(0, len(upserts), BATCH):
            await self.backend.upsert_many(upserts[start:start + BATCH])
        for doc in upserts:
            old = self._fps.get(doc.id)
            if old is not None:
                self._stamp ^= _term(doc.id, old)
            fp = doc.fingerprint()
            self._stamp ^= _term(doc.id, fp)
            self._fps[doc.id] = fp
        for doc_id in gone:
            await self.backend.delete(doc_id)
            self._stamp ^= _term(doc_id, self._fps.pop(doc_id))
        if upserts or gone:
            await self.backend.write_stamp(_encode(self._stamp))

    # ------------------------------------------------------------------ reads
    async def wait_ready(self) -> AsyncSearchBackend:
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                await self._ready.wait()
        except TimeoutError as err:
            raise IndexUnavailable("the search index is still loading; try again shortly") from err
        if self.error is not None:
            raise self.error
        return self.backend

    async def close(self) -> None:
        async with self._lock:
            await self.backend.close()
