"""An in-process exact vector index over article phrasings (pure numpy, no model).

Each article ("doc") owns one or more rows (one per phrasing); its dense score is the max cosine
over its rows. Adding, replacing or removing an article touches only its own rows (swap-delete
into a growable matrix), so a change never re-embeds or copies the rest. Filter fields are kept
as small integer codes per article so a filtered search is one vectorised mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kb.search.base import FILTER_FIELDS


class VectorIndex:
    def __init__(self, dimension: int, capacity: int = 1024) -> None:
        self.dimension = dimension
        self._vecs = np.zeros((capacity, dimension), dtype=np.float32)
        self._row_slot = np.zeros(capacity, dtype=np.int64)
        self._n = 0
        self._slot_of: dict[str, int] = {}
        self._slot_ids: list[str | None] = []
        self._slot_rows: list[list[int]] = []
        self._free: list[int] = []
        self._alive = np.zeros(0, dtype=bool)
        self._centroids = np.zeros((0, dimension), dtype=np.float32)
        self._codes = {f: np.zeros(0, dtype=np.int32) for f in FILTER_FIELDS}
        self._vocab: dict[str, dict[str, int]] = {f: {} for f in FILTER_FIELDS}
        self._multi: np.ndarray | None = None  # see _multi_rows

    # ------------------------------------------------------------------ bookkeeping
    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot_of

    @property
    def rows(self) -> int:
        return self._n

    def slot(self, doc_id: str) -> int | None:
        return self._slot_of.get(doc_id)

    def doc_id(self, slot: int) -> str:
        doc_id = self._slot_ids[slot]
        assert doc_id is not None
        return doc_id

    def _grow_rows(self, need: int) -> None:
        cap = len(self._vecs)
        if need <= cap:
            return
        new_cap = max(need, cap * 2)
        vecs = np.zeros((new_cap, self.dimension), dtype=np.float32)
        vecs[: self._n] = self._vecs[: self._n]
        row_slot = np.zeros(new_cap, dtype=np.int64)
        row_slot[: self._n] = self._row_slot[: self._n]
        self._vecs, self._row_slot = vecs, row_slot

    def _new_slot(self, doc_id: str) -> int:
        if self._free:
            slot = self._free.pop()
            self._slot_ids[slot] = doc_id
            self._slot_rows[slot] = []
        else:
            slot = len(self._slot_ids)
            self._slot_ids.append(doc_id)
            self._slot_rows.append([])
            if slot >= len(self._alive):
                size = max(16, 2 * len(self._alive))
                self._alive = np.resize(self._alive, size)
                self._alive[slot:] = False
                for f in FILTER_FIELDS:
                    self._codes[f] = np.resize(self._codes[f], size)
                centroids = np.zeros((size, self.dimension), dtype=np.float32)
                centroids[: len(self._centroids)] = self._centroids
                self._centroids = centroids
        self._slot_of[doc_id] = slot
        return slot

    def _code(self, field: str, value: str) -> int:
        vocab = self._vocab[field]
        if value not in vocab:
            vocab[value] = len(vocab) + 1
        return vocab[value]

    # ------------------------------------------------------------------ changes
    def put(self, doc_id: str, vectors: np.ndarray, attrs: Mapping[str, str]) -> None:
        """Add or replace ``doc_id`` with these phrasing vectors (rows of norm 1)."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        self.remove(doc_id)
        self._multi = None
        slot = self._new_slot(doc_id)
        start = self._n
        self._grow_rows(start + len(vectors))
        self._vecs[start: start + len(vectors)] = vectors
        self._row_slot[start: start + len(vectors)] = slot
        self._n += len(vectors)
        self._slot_rows[slot] = list(range(start, start + len(vectors)))
        self._alive[slot] = True
        mean = vectors.mean(axis=0) if len(vectors) else np.zeros(self.dimension, np.float32)
        norm = float(np.linalg.norm(mean))
        self._centroids[slot] = mean / norm if norm > 0 else mean
        for f in FILTER_FIELDS:
            self._codes[f][slot] = self._code(f, attrs.get(f, "") or "")

    def remove(self, doc_id: str) -> bool:
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return False
        self._multi = None
        # delete from the highest row down so a moved last row never lands on a row to delete
        for row in sorted(self._slot_rows[slot], reverse=True):
            last = self._n - 1
            if row != last:
                moved_slot = int(self._row_slot[last])
                self._vecs[row] = self._vecs[last]
                self._row_slot[row] = moved_slot
                rows = self._slot_rows[moved_slot]
                rows[rows.index(last)] = row
            self._n -= 1
        self._slot_rows[slot] = []
        self._slot_ids[slot] = None
        self._alive[slot] = False
        self._free.append(slot)
        return True

    # ------------------------------------------------------------------ queries
    def max_scores(self, query: np.ndarray, filters: Mapping[str, str] | None = None
                   ) -> np.ndarray:
        """Per slot: the max cosine over the article's phrasings; ``-inf`` for free slots and
        articles outside the filters. (One pass over the phrasing matrix: the search's cost.)"""
        n_slots = len(self._slot_ids)
        out = np.full(n_slots, -np.inf, dtype=np.float32)
        if self._n == 0:
            return out
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        scores = self._vecs[: self._n] @ q
        self._max_into(out, scores)
        mask = self._alive[:n_slots].copy()
        for field, value in (filters or {}).items():
            code = self._vocab[field].get(value)
            if code is None:
                mask[:] = False
            else:
                mask &= self._codes[field][:n_slots] == code
        out[~mask] = -np.inf
        return out

    def centroid_scores(self, query: np.ndarray, slots: Sequence[int]) -> np.ndarray:
        """Cosine of ``query`` to the centroid of each of these slots (candidates only)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        return self._centroids[np.asarray(slots, dtype=np.int64)] @ q

    def doc_scores(self, query: np.ndarray, filters: Mapping[str, str] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Per slot: the max cosine over the article's phrasings and the cosine to the
        normalised mean of its phrasings (its centroid); ``-inf`` for free slots and articles
        outside the filters."""
        n_slots = len(self._slot_ids)
        out = np.full(n_slots, -np.inf, dtype=np.float32)
        if self._n == 0:
            return out, out.copy()
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        scores = self._vecs[: self._n] @ q
        self._max_into(out, scores)
        centroid = self._centroids[:n_slots] @ q
        mask = self._alive[:n_slots].copy()
        for field, value in (filters or {}).items():
            code = self._vocab[field].get(value)
            if code is None:
                mask[:] = False
            else:
                mask &= self._codes[field][:n_slots] == code
        out[~mask] = -np.inf
        centroid[~mask] = -np.inf
        return out, centroid

    def _multi_rows(self) -> np.ndarray:
        """Rows of articles that own more than one row (cached until the next change)."""
        if self._multi is None:
            counts = np.bincount(self._row_slot[: self._n], minlength=len(self._slot_ids))
            self._multi = np.flatnonzero(counts[self._row_slot[: self._n]] > 1)
        return self._multi

    def _max_into(self, out: np.ndarray, scores: np.ndarray) -> None:
        """``out[slot] = max(scores of the slot's rows)`` without ``ufunc.at`` over every row:
        a plain scatter (exact for one-row articles), then ``maximum.at`` over the rows of
        articles with several phrasings only."""
        slots = self._row_slot[: self._n]
        out[slots] = scores
        multi = self._multi_rows()
        if len(multi):
            np.maximum.at(out, slots[multi], scores[multi])

    def top(self, scores: np.ndarray, n: int) -> list[int]:
        """Slots of the ``n`` best finite scores, best first."""
        finite = int(np.isfinite(scores).sum())
        n = min(n, finite)
        if n <= 0:
            return []
        idx = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [int(i) for i in idx if np.isfinite(scores[i])][:n]

    # ------------------------------------------------------------------ persistence helpers
    def export(self) -> tuple[np.ndarray, list[str]]:
        """All rows and the article id of each row (for a snapshot)."""
        ids = [self.doc_id(int(s)) for s in self._row_slot[: self._n]]
        return self._vecs[: self._n].copy(), ids

    def load_rows(self, vectors: np.ndarray, row_doc_ids: Sequence[str],
                  attrs: Mapping[str, Mapping[str, str]]) -> None:
        """Bulk-load rows grouped by article (as :meth:`export` wrote them, in any order)."""
        groups: dict[str, list[int]] = {}
        for i, doc_id in enumerate(row_doc_ids):
            groups.setdefault(doc_id, []).append(i)
        for doc_id, rows in groups.items():
            if doc_id in attrs:
                self.put(doc_id, vectors[rows], attrs[doc_id])
