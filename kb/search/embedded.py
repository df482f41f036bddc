"""The embedded default backend: SQLite FTS5 for BM25 + an in-process numpy vector index.

* One SQLite file (or ``:memory:``) holds the articles, the FTS5 index and every phrasing's
  vector as a BLOB (the durable copy, written in the same transaction as the FTS rows).
* The vector index lives in memory (:class:`~kb.search.vectors.VectorIndex`). ``close()``
  writes a snapshot next to the database — ``<db>.vectors.npy`` plus an id map
  ``<db>.vectors.json`` stamped with the database's change generation — which the next open
  loads directly; a stale or missing snapshot is rebuilt from the BLOBs. Nothing is re-embedded
  on open, and a change embeds only the changed article.
* BM25 is scored in memory (:class:`~kb.search.lexical.LexicalIndex`: exactly FTS5's
  ``bm25()`` with the same column weights, rebuilt from the ``docs`` table on open, ~0.1 ms of
  CPU per article, and kept in step on every change); an FTS5 ``MATCH`` per search cost ~55 ms
  at 100,000 articles. The highlights of the final top ``k`` are made in memory too, from
  their stored text (:mod:`kb.search.highlight`; FTS5 ``snippet()`` cost ~0.3 ms per article).
  The FTS5 table stays the durable full-text index, written with every change and the
  reference the in-memory scores are tested against; the search path no longer queries it.
* A search embeds the query, scores BM25, then scans the vectors (exactly, through a PCA bound
  on large indexes, see :mod:`kb.search.vectors`), fuses the union of both candidate lists and
  highlights the top ``k`` (``search_with(..., timings=...)`` reports each stage's time).
* BM25 mode ``"field"`` (default) indexes one FTS row per article, all phrasings in one
  column, field-weighted with keywords and answer; ``"phrase"`` indexes one row per phrasing
  (question, each alternative, each carrying keywords and answer) and an article's BM25 is the
  best of its rows. Measured on BANKING77 test: BM25 top-1 0.665 (field) vs 0.623 (phrase),
  hybrid 0.852 vs 0.849 — so "field" is the default.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from kb.search.base import (
    FILTER_FIELDS,
    AsyncSearchBackend,
    Doc,
    Embedder,
    Hit,
    KbError,
    SearchBackend,
    check_filters,
    check_k,
    check_query,
)
from kb.search.fusion import BM25Only, Fusion, default_fusion
from kb.search.highlight import highlight, snippet
from kb.search.lexical import LexicalIndex, fts_tokens
from kb.search.text import query_terms, segment_for_fts
from kb.search.vectors import VectorIndex

#: 2: FTS rows keyed by rowid ranges of their article (``docs.rowid * FTS_STRIDE + i``), so
#: replacing or deleting an article never scans the FTS table (schema 1 deleted by doc_id, a
#: full scan per change: quadratic on a bulk load, ~100 ms per update at 100k articles)
SCHEMA_VERSION = "2"
#: a load or bulk index of at least this many articles ends with gc.freeze() (see _settle_gc)
GC_FREEZE_MIN_DOCS = 10_000
FTS_STRIDE = 1024
#: FTS5 column weights: doc_id, kind (unindexed), phrase, keywords, answer
_BM25_WEIGHTS = (0.0, 0.0, 1.0, 1.0, 0.3)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, alternatives TEXT NOT NULL,
    answer TEXT NOT NULL, category TEXT NOT NULL, product TEXT NOT NULL,
    status TEXT NOT NULL, keywords TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_filters ON docs (category, product, status);
CREATE TABLE IF NOT EXISTS vectors (
    doc_id TEXT NOT NULL, idx INTEGER NOT NULL, vec BLOB NOT NULL,
    PRIMARY KEY (doc_id, idx));
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    doc_id UNINDEXED, kind UNINDEXED, phrase, keywords, answer,
    tokenize = 'unicode61 remove_diacritics 2');
"""


def _match_expression(tokens: list[str]) -> str:
    """An FTS5 query for any of the tokens, each quoted so FTS5 syntax in a query is inert
    (the tests compare the in-memory BM25 with FTS5's ``bm25()`` through it)."""
    unique = dict.fromkeys(t for t in tokens if t)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)


class EmbeddedBackend(SearchBackend):
    def __init__(self, path: str | os.PathLike[str], embedder: Embedder, *,
                 fusion: Fusion | None = None, bm25_mode: str = "field",
                 candidates: int = 100) -> None:
        if bm25_mode not in ("phrase", "field"):
            raise ValueError(f"bm25_mode must be 'phrase' or 'field', not {bm25_mode!r}")
        self.path = str(path)
        self.embedder = embedder
        self.fusion = fusion or default_fusion()
        self.bm25_mode = bm25_mode
        self.candidates = candidates
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL" if self.path != ":memory:"
                         else "PRAGMA journal_mode = MEMORY")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)
        self._check_meta()
        self._vectors = VectorIndex(self.embedder.dimension)
        #: BM25 in memory, scored exactly like FTS5's bm25()
        self._lexical = LexicalIndex(_BM25_WEIGHTS[2:])
        self._dirty = False
        self._load_vectors()
        self._load_lexical()
        self._settle_gc(len(self._vectors))

    # ------------------------------------------------------------------ setup / persistence
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                         "DO UPDATE SET value = excluded.value", (key, value))

    def _check_meta(self) -> None:
        stored = {k: self._meta(k) for k in ("schema", "bm25_mode", "model")}
        wanted = {"schema": SCHEMA_VERSION, "bm25_mode": self.bm25_mode,
                  "model": self.embedder.name}
        if stored["schema"] is None:
            for k, v in wanted.items():
                self._set_meta(k, v)
            self._set_meta("generation", "0")
            return
        for k in ("schema", "bm25_mode"):
            if stored[k] != wanted[k]:
                raise KbError(f"index {self.path} was built with {k}={stored[k]!r}, "
                              f"not {wanted[k]!r}; rebuild it",
                              details={k: stored[k]})
        if stored["model"] != wanted["model"]:
            # another model: vectors are meaningless; re-embed from the stored articles
            self._db.execute("DELETE FROM vectors")
            self._set_meta("model", wanted["model"])
            self._bump()

    @property
    def _snapshot_paths(self) -> tuple[Path, Path] | None:
        if self.path == ":memory:" or self.path.startswith("file:"):
            return None
        return Path(self.path + ".vectors.npy"), Path(self.path + ".vectors.json")

    def _generation(self) -> str:
        return self._meta("generation") or "0"

    def _bump(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                         "WHERE key = 'generation'")
        self._dirty = True

    def _attrs(self) -> dict[str, dict[str, str]]:
        rows = self._db.execute("SELECT id, category, product, status FROM docs")
        return {r[0]: dict(zip(FILTER_FIELDS, r[1:], strict=True)) for r in rows}

    def _load_vectors(self) -> None:
        attrs = self._attrs()
        if not attrs:
            return
        snap = self._snapshot_paths
        if snap and snap[0].is_file() and snap[1].is_file():
            try:
                info = json.loads(snap[1].read_text())
                if (info.get("generation") == self._generation()
                        and info.get("model") == self.embedder.name):
                    vectors = np.load(snap[0])
                    self._vectors.load_rows(vectors, info["row_doc_ids"], attrs)
                    if len(self._vectors) == len(attrs):
                        return
            except (OSError, ValueError, KeyError):
                pass
            self._vectors = VectorIndex(self.embedder.dimension)
        dim = self.embedder.dimension
        rows = self._db.execute("SELECT doc_id, vec FROM vectors ORDER BY doc_id, idx")
        ids: list[str] = []
        blobs: list[bytes] = []
        for doc_id, blob in rows:
            ids.append(doc_id)
            blobs.append(blob)
        if blobs:
            matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, dim)
            self._vectors.load_rows(matrix, ids, attrs)
        missing = [d for d in attrs if d not in self._vectors]
        if missing:  # e.g. after a model change: embed only what has no vectors
            docs = [self._get(d) for d in missing]
            self._write([d for d in docs if d is not None])
        self._dirty = True

    def _load_lexical(self) -> None:
        rows = self._db.execute(
            "SELECT id, question, alternatives, answer, category, product, status, keywords "
            "FROM docs")
        for r in rows:
            doc = Doc(id=r[0], question=r[1], alternatives=json.loads(r[2]), answer=r[3],
                      category=r[4], product=r[5], status=r[6], keywords=json.loads(r[7]))
            self._lexical.put(doc.id, [row[2:] for row in self._fts_rows(doc)],
                              {f: getattr(doc, f) for f in FILTER_FIELDS})
        self._lexical.compact()

    def save(self) -> None:
        """Write the vector snapshot (``.npy`` + id map) if anything changed."""
        with self._lock:
            snap = self._snapshot_paths
            if snap is None or not self._dirty:
                return
            vectors, ids = self._vectors.export()
            tmp_npy = snap[0].with_suffix(".tmp.npy")
            np.save(tmp_npy, vectors)
            os.replace(tmp_npy, snap[0])
            info = {"generation": self._generation(), "model": self.embedder.name,
                    "dimension": self.embedder.dimension, "row_doc_ids": ids}
            tmp_json = snap[1].with_suffix(".tmp")
            tmp_json.write_text(json.dumps(info))
            os.replace(tmp_json, snap[1])
            self._dirty = False

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            self.save()
            self._db.close()
            self._db = None  # type: ignore[assignment]  # closed: never used again

    def __enter__(self) -> EmbeddedBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return len(self._vectors)

    def _get(self, doc_id: str) -> Doc | None:
        row = self._db.execute(
            "SELECT id, question, alternatives, answer, category, product, status, keywords "
            "FROM docs WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return Doc(id=row[0], question=row[1], alternatives=json.loads(row[2]), answer=row[3],
                   category=row[4], product=row[5], status=row[6],
                   keywords=json.loads(row[7]))

    def get(self, doc_id: str) -> Doc | None:
        with self._lock:
            return self._get(doc_id)

    def fingerprints(self) -> dict[str, str]:
        """``{doc_id: Doc.fingerprint()}`` of every stored article."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, question, alternatives, answer, category, product, status, keywords "
                "FROM docs").fetchall()
        return {r[0]: Doc(id=r[0], question=r[1], alternatives=json.loads(r[2]), answer=r[3],
                          category=r[4], product=r[5], status=r[6],
                          keywords=json.loads(r[7])).fingerprint() for r in rows}

    def read_stamp(self) -> str | None:
        with self._lock:
            return self._meta("owner_stamp")

    def write_stamp(self, stamp: str) -> None:
        with self._lock:
            self._set_meta("owner_stamp", stamp)

    # ------------------------------------------------------------------ writes
    def _fts_rows(self, doc: Doc) -> list[tuple[str, int, str, str, str]]:
        keywords = segment_for_fts(" ".join(doc.keywords))
        answer = segment_for_fts(doc.answer)
        phrasings = [segment_for_fts(p) for p in doc.phrasings()]
        if self.bm25_mode == "field":
            return [(doc.id, 0, "\n".join(phrasings), keywords, answer)]
        return [(doc.id, i, p, keywords, answer) for i, p in enumerate(phrasings)]

    def _fts_base(self, doc_id: str) -> int:
        return int(self._db.execute("SELECT rowid FROM docs WHERE id = ?", (doc_id,))
                   .fetchone()[0]) * FTS_STRIDE

    def _write(self, docs: list[Doc]) -> None:
        """Embed ``docs`` (one batch) and replace them in SQLite and the vector index."""
        for doc in docs:
            doc.validate()
            if len(doc.phrasings()) >= FTS_STRIDE:
                raise KbError(f"an article has at most {FTS_STRIDE - 1} phrasings",
                              details={"id": doc.id})
        phrasings = [d.phrasings() for d in docs]
        flat = [p for ps in phrasings for p in ps]
        vectors = self.embedder.encode_documents(flat) if flat else np.zeros((0, 0), np.float32)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            offset = 0
            for doc, ps in zip(docs, phrasings, strict=True):
                vecs = vectors[offset: offset + len(ps)]
                offset += len(ps)
                db.execute("DELETE FROM vectors WHERE doc_id = ?", (doc.id,))
                db.execute(
                    "INSERT INTO docs (id, question, alternatives, answer, category, product,"
                    " status, keywords) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE"
                    " SET question = excluded.question, alternatives = excluded.alternatives,"
                    " answer = excluded.answer, category = excluded.category,"
                    " product = excluded.product, status = excluded.status,"
                    " keywords = excluded.keywords",
                    (doc.id, doc.question, json.dumps(doc.alternatives, ensure_ascii=False),
                     doc.answer, doc.category, doc.product, doc.status,
                     json.dumps(doc.keywords, ensure_ascii=False)))
                base = self._fts_base(doc.id)
                db.execute("DELETE FROM fts WHERE rowid >= ? AND rowid < ?",
                           (base, base + FTS_STRIDE))
                db.executemany("INSERT INTO fts (rowid, doc_id, kind, phrase, keywords, answer) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               [(base + i, *row) for i, row in enumerate(self._fts_rows(doc))])
                db.executemany("INSERT INTO vectors (doc_id, idx, vec) VALUES (?, ?, ?)",
                               [(doc.id, i, v.tobytes()) for i, v in enumerate(vecs)])
            self._bump()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        offset = 0
        for doc, ps in zip(docs, phrasings, strict=True):
            attrs = {f: getattr(doc, f) for f in FILTER_FIELDS}
            self._vectors.put(doc.id, vectors[offset: offset + len(ps)], attrs)
            self._lexical.put(doc.id, [row[2:] for row in self._fts_rows(doc)], attrs)
            offset += len(ps)

    def index(self, docs: Iterable[Doc], batch: int = 512) -> None:
        with self._lock:
            pending: list[Doc] = []
            written = 0
            for doc in docs:
                pending.append(doc)
                if len(pending) >= batch:
                    self._write(pending)
                    written += len(pending)
                    pending = []
            if pending:
                self._write(pending)
                written += len(pending)
            # bulk path only, never on a single upsert: (re)fit the vector projection when the
            # index doubled or halved, drop dead BM25 rows when they outnumber half the live ones
            self._vectors.maintain()
            if self._lexical.dead_rows > len(self._lexical) // 2:
                self._lexical.compact()
            self._settle_gc(written)

    @staticmethod
    def _settle_gc(count: int) -> None:
        """After loading or bulk-indexing many articles: collect once, then move every object
        the process holds to the collector's permanent generation (``gc.freeze``). A large
        index is ~10 Python objects per article (postings, id maps), all long-lived; without
        this every full collection walks them all — a pause of 0.2–0.8 s at 100,000 articles
        measured on this machine, landing in whichever search runs then. Single changes never
        do this; objects made later are collected as usual."""
        if count >= GC_FREEZE_MIN_DOCS:
            gc.collect()
            gc.freeze()

    def upsert(self, doc: Doc) -> None:
        with self._lock:
            self._write([doc])

    def delete(self, doc_id: str) -> bool:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT rowid FROM docs WHERE id = ?", (doc_id,)).fetchone()
                gone = row is not None
                if gone:
                    base = int(row[0]) * FTS_STRIDE
                    db.execute("DELETE FROM fts WHERE rowid >= ? AND rowid < ?",
                               (base, base + FTS_STRIDE))
                    db.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
                db.execute("DELETE FROM vectors WHERE doc_id = ?", (doc_id,))
                if gone:
                    self._bump()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._vectors.remove(doc_id)
            self._lexical.remove(doc_id)
            return gone

    # ------------------------------------------------------------------ search
    def bm25_scores(self, query: str, filters: Mapping[str, str], limit: int
                    ) -> dict[str, float]:
        """Best BM25 per article (positive, higher is better; FTS5's ``bm25()`` with the column
        weights, computed in memory) for the ``limit`` best articles, best first."""
        return self._lexical.scores(query_terms(query), filters, limit)

    def _highlights(self, query: str, doc_ids: list[str]) -> dict[str, dict[str, str]]:
        """Marked fragments for a few articles, made in memory from their stored text (one
        SQLite read for all of them; see :mod:`kb.search.highlight`)."""
        phrases = [t for t in (fts_tokens(term) for term in dict.fromkeys(query_terms(query)))
                   if t]
        if not phrases or not doc_ids:
            return {}
        places = ", ".join("?" * len(doc_ids))
        rows = self._db.execute(
            f"SELECT id, question, alternatives, answer, keywords FROM docs WHERE id IN ({places})",
            doc_ids).fetchall()
        out: dict[str, dict[str, str]] = {}
        for doc_id, question, alternatives, answer, keywords in rows:
            doc = Doc(id=doc_id, question=question, alternatives=json.loads(alternatives),
                      answer=answer, keywords=json.loads(keywords))
            texts = [segment_for_fts(p) for p in doc.phrasings()]
            found: dict[str, str] = {}
            if self.bm25_mode == "field":
                # every phrasing is in one field: a snippet of it, called the question
                fragment = snippet("\n".join(texts), phrases)
                if fragment:
                    found["question"] = fragment
            else:  # the first phrasing with the most distinct matched terms
                scored = [(sum(1 for p in phrases if highlight(t, [p])), -i, t)
                          for i, t in enumerate(texts)]
                hits, minus_i, text = max(scored, default=(0, 0, ""))
                if hits:
                    found["question" if minus_i == 0 else "phrasing"] = highlight(text, phrases)
            fragment = snippet(segment_for_fts(doc.answer), phrases)
            if fragment:
                found["answer"] = fragment
            fragment = highlight(segment_for_fts(" ".join(doc.keywords)), phrases)
            if fragment:
                found["keywords"] = fragment
            out[doc_id] = found
        return out

    def search(self, query: str, filters: Mapping[str, str] | None = None,
               k: int = 10) -> list[Hit]:
        return self.search_with(query, filters, k, self.fusion)

    def search_with(self, query: str, filters: Mapping[str, str] | None, k: int,
                    fusion: Fusion, *, highlights: bool = True,
                    timings: dict[str, float] | None = None) -> list[Hit]:
        """:meth:`search` with an explicit fusion (benchmarks compare fusions with it).
        ``timings``, if given, receives the seconds spent per stage (embed, bm25, vectors,
        fusion, highlights, assemble) and the CPU seconds of this thread per stage
        (``<stage>_cpu``)."""
        q = check_query(query)
        wanted = check_filters(filters)
        k = check_k(k)
        marks_at: list[tuple[float, float]] = []

        def mark() -> None:
            if timings is not None:
                marks_at.append((time.perf_counter(), time.thread_time()))

        with self._lock:
            if len(self._vectors) == 0:
                return []
            n = max(self.candidates, k)
            mark()
            qvec = self.embedder.encode([q])[0]
            mark()
            lexical = self.bm25_scores(q, wanted, n)
            mark()
            slots, exact = self._vectors.search(qvec, n, wanted)
            mark()
            # candidates: the dense top n (exact max cosines known), then BM25's others
            vectors = self._vectors
            ids = vectors.doc_ids(slots)
            cand = list(slots)
            seen = set(cand)
            for doc_id, slot in zip(lexical, vectors.slots(lexical), strict=True):
                if slot is not None and slot not in seen:
                    seen.add(slot)
                    ids.append(doc_id)
                    cand.append(slot)
            if not ids:
                return []
            bm25 = np.fromiter((lexical.get(i, 0.0) for i in ids), np.float64, len(ids))
            dense = np.concatenate([np.asarray(exact, np.float64),
                                    vectors.exact_max(qvec, cand[len(slots):])])
            centroid = vectors.centroid_scores(qvec, cand).astype(np.float64)
            if not self.embedder.covers(q):
                fusion = BM25Only()  # e.g. Chinese with an English-only model
            fused = fusion.fuse(bm25, dense, centroid)
            order = np.argsort(-fused, kind="stable")[:k]
            chosen = [ids[i] for i in order]
            mark()
            marks = self._highlights(q, [i for i in chosen if lexical.get(i, 0) > 0]) \
                if highlights else {}
            mark()
            hits = [Hit(doc_id=ids[i], score=float(fused[i]), bm25=float(bm25[i]),
                        dense=float(dense[i]), highlights=marks.get(ids[i], {}))
                    for i in order]
            mark()
            if timings is not None:
                names = ("embed", "bm25", "vectors", "fusion", "highlights", "assemble")
                for i, name in enumerate(names):
                    a, b = marks_at[i], marks_at[i + 1]
                    timings[name] = b[0] - a[0]
                    timings[f"{name}_cpu"] = b[1] - a[1]
            return hits


def _remove_index_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", ".vectors.npy", ".vectors.json"):
        Path(path + suffix).unlink(missing_ok=True)


class AsyncEmbeddedBackend(AsyncSearchBackend):
    """The embedded backend behind the async port: each call runs in a worker thread (embedding
    and numpy release the GIL; the backend's own lock serialises writers)."""

    name = "embedded"

    def __init__(self, path: str | os.PathLike[str], embedder: Embedder, **options: object
                 ) -> None:
        self.path, self.embedder, self.options = path, embedder, options
        self.backend: EmbeddedBackend | None = None

    @property
    def _b(self) -> EmbeddedBackend:
        if self.backend is None:
            raise KbError("the search index is not open")
        return self.backend

    async def open(self) -> None:
        if self.backend is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self.backend = await asyncio.to_thread(
                    EmbeddedBackend, self.path, self.embedder, **self.options)  # type: ignore[arg-type]  # its keyword options
            except KbError as err:
                if self.path == ":memory:" or "rebuild it" not in err.detail:
                    raise
                # the index is derived data: start a fresh one, the owner re-indexes into it
                await asyncio.to_thread(_remove_index_files, str(self.path))
                self.backend = await asyncio.to_thread(
                    EmbeddedBackend, self.path, self.embedder, **self.options)  # type: ignore[arg-type]  # its keyword options

    async def upsert_many(self, docs: Sequence[Doc]) -> None:
        if docs:
            await asyncio.to_thread(self._b.index, list(docs))

    async def delete(self, doc_id: str) -> bool:
        return await asyncio.to_thread(self._b.delete, doc_id)

    async def search(self, query: str, filters: Mapping[str, str] | None = None,
                     k: int = 10) -> list[Hit]:
        # validate on the loop thread: bad input never costs a thread hop or an embedding
        check_query(query)
        check_filters(filters)
        check_k(k)
        return await asyncio.to_thread(self._b.search, query, filters, k)

    async def get(self, doc_id: str) -> Doc | None:
        return await asyncio.to_thread(self._b.get, doc_id)

    async def fingerprints(self) -> dict[str, str]:
        return await asyncio.to_thread(self._b.fingerprints)

    async def read_stamp(self) -> str | None:
        return await asyncio.to_thread(self._b.read_stamp)

    async def write_stamp(self, stamp: str) -> None:
        await asyncio.to_thread(self._b.write_stamp, stamp)

    async def count(self) -> int:
        return len(self._b)

    def lexical_only(self, query: str) -> bool:
        return not self.embedder.covers(query)

    async def close(self) -> None:
        if self.backend is not None:
            backend, self.backend = self.backend, None
            await asyncio.to_thread(backend.close)
