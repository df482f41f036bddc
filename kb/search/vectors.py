"""An in-process exact vector index over article phrasings (pure numpy, no model).

Each article ("doc") owns one or more rows (one per phrasing); its dense score is the max cosine
over its rows. Adding, replacing or removing an article touches only its own rows (swap-delete
into a growable matrix), so a change never re-embeds or copies the rest. Filter fields are kept
as small integer codes per article so a filtered search is one vectorised mask.

Large indexes (at least :data:`PROJECT_MIN_ROWS` rows) are searched through a PCA projection,
*exactly*: a full float32 scan of 100,000 x 384 reads 150 MB per query (~19 ms of CPU on this
busy machine). Each row ``v`` is stored also as ``a = U^T (v - mu)`` (:data:`PROJECT_DIMS`
principal directions ``U`` of a sample, mean ``mu``) with ``r = |v - mu - U a|``; for a query
``q`` (``q_perp`` its part outside ``U``), ``q.v = q.mu + (U^T q).a + q_perp.(v - mu - U a)``, so
``q.v <= approx + |q_perp| * r`` (applied per block of the remaining principal directions, and
summed, which is tighter). :meth:`VectorIndex.search` scans the 4x smaller projection,
scores a pool of the best rows exactly, takes the n-th best article score ``t`` found, and then
also scores exactly every row whose upper bound reaches ``t``: no row that could be in the top
``n`` is skipped, so the result is the full scan's (falling back to the full scan when the bound
admits too many rows). The basis is refitted only on bulk loads when the index doubled or halved;
a single change just projects its own rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from kb.search.base import FILTER_FIELDS

#: From this many rows on, searches go through the projection (below, a full scan is cheap).
PROJECT_MIN_ROWS = 16_384
#: Principal directions kept (MiniLM 384 -> 96: a quarter of the memory read per query).
PROJECT_DIMS = 96
#: Rows sampled to fit the projection.
PROJECT_SAMPLE = 20_000
#: The residual (the other principal directions) is bounded per block of directions: a sum of
#: per-block Cauchy-Schwarz bounds is much tighter than one over the whole residual.
PROJECT_BLOCKS = 8
#: Slack added to the bound for float32 rounding.
_EPS = 1e-4


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
        # projection (see the module docstring); None until fitted
        self._basis: np.ndarray | None = None  # (dimension, PROJECT_DIMS)
        self._rest = np.zeros((dimension, 0), dtype=np.float32)  # the other directions
        self._blocks = np.zeros(1, dtype=np.int64)  # block starts within _rest
        self._mean = np.zeros(dimension, dtype=np.float32)
        self._proj = np.zeros((0, 0), dtype=np.float32)  # (capacity, PROJECT_DIMS)
        self._resid: np.ndarray = np.zeros(0, dtype=np.float32)  # (capacity, blocks)
        self._fitted_rows = 0

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

    def doc_ids(self, slots: Sequence[int]) -> list[str]:
        """:meth:`doc_id` of each of these (live) slots."""
        ids = self._slot_ids
        return [ids[s] for s in slots]  # type: ignore[misc]  # a live slot has its id

    def slots(self, doc_ids: Iterable[str]) -> list[int | None]:
        """:meth:`slot` of each of these ids (None: not indexed)."""
        get = self._slot_of.get
        return [get(d) for d in doc_ids]

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
        if self._basis is not None:
            proj = np.zeros((new_cap, self._basis.shape[1]), dtype=np.float32)
            proj[: self._n] = self._proj[: self._n]
            resid = np.zeros((new_cap, self._resid.shape[1]), dtype=np.float32)
            resid[: self._n] = self._resid[: self._n]
            self._proj, self._resid = proj, resid

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
        if self._basis is not None:
            self._project(start, start + len(vectors))
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
                if self._basis is not None:
                    self._proj[row] = self._proj[last]
                    self._resid[row] = self._resid[last]
                rows = self._slot_rows[moved_slot]
                rows[rows.index(last)] = row
            self._n -= 1
        self._slot_rows[slot] = []
        self._slot_ids[slot] = None
        self._alive[slot] = False
        self._free.append(slot)
        return True

    # ------------------------------------------------------------------ projection
    def _project(self, start: int, stop: int) -> None:
        assert self._basis is not None
        centred = self._vecs[start:stop] - self._mean
        self._proj[start:stop] = centred @ self._basis
        self._resid[start:stop] = self._block_norms(centred @ self._rest)

    def _block_norms(self, rest: np.ndarray) -> np.ndarray:
        """Per row of ``rest`` (coordinates on the other directions): the norm of each block."""
        squares = np.add.reduceat(np.atleast_2d(rest) ** 2, self._blocks, axis=1)
        return np.sqrt(squares).astype(np.float32)

    def maintain(self, *, min_rows: int = PROJECT_MIN_ROWS, dims: int = PROJECT_DIMS) -> bool:
        """Fit (or refit) the projection if the index is large enough and doubled or halved
        since the last fit. A bulk operation (~0.5 s at 100,000 rows): the backend calls it
        after loads and bulk indexing, never per single change. Returns whether it refitted."""
        n = self._n
        if n < min_rows or dims >= self.dimension:
            if self._basis is not None and n < min_rows // 2:
                self._basis, self._fitted_rows = None, 0
                self._proj = self._resid = np.zeros((0, 0), np.float32)
            return False
        if self._basis is not None and self._fitted_rows // 2 <= n <= 2 * self._fitted_rows:
            return False
        rng = np.random.default_rng(0)
        sample = self._vecs[rng.choice(n, min(n, PROJECT_SAMPLE), replace=False)]
        mean = sample.mean(axis=0)
        centred = (sample - mean).astype(np.float64)
        _, vecs = np.linalg.eigh(centred.T @ centred)
        ordered = vecs[:, ::-1]
        self._basis = np.ascontiguousarray(ordered[:, :dims], dtype=np.float32)
        self._rest = np.ascontiguousarray(ordered[:, dims:], dtype=np.float32)
        blocks = min(PROJECT_BLOCKS, self._rest.shape[1])
        self._blocks = np.linspace(0, self._rest.shape[1], blocks + 1).astype(np.int64)[:-1]
        self._mean = mean.astype(np.float32)
        cap = len(self._vecs)
        self._proj = np.zeros((cap, dims), dtype=np.float32)
        self._resid = np.zeros((cap, blocks), dtype=np.float32)
        for start in range(0, n, 16_384):
            self._project(start, min(n, start + 16_384))
        self._fitted_rows = n
        return True

    @property
    def projected(self) -> bool:
        return self._basis is not None

    # ------------------------------------------------------------------ queries
    def _slot_mask(self, filters: Mapping[str, str] | None) -> np.ndarray:
        n_slots = len(self._slot_ids)
        mask = self._alive[:n_slots].copy()
        for field, value in (filters or {}).items():
            code = self._vocab[field].get(value)
            if code is None:
                mask[:] = False
            else:
                mask &= self._codes[field][:n_slots] == code
        return mask

    def search(self, query: np.ndarray, n: int, filters: Mapping[str, str] | None = None
               ) -> tuple[list[int], np.ndarray]:
        """The ``n`` best articles within the filters (slots, best first) and their exact max
        cosines: the same as :meth:`top` over :meth:`max_scores`, through the projection when
        there is one (see the module docstring)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if self._basis is None or self._n == 0 or n <= 0:
            scores = self.max_scores(q, filters)
            slots = self.top(scores, n)
            return slots, scores[slots] if slots else np.zeros(0, np.float32)
        rows = self._n
        qd = q @ self._basis
        q_rest = self._block_norms(q @ self._rest)[0]
        approx = self._proj[:rows] @ qd
        approx += float(q @ self._mean)
        if filters:
            ok = self._slot_mask(filters)[self._row_slot[:rows]]
            approx[~ok] = -np.inf
            eligible = int(ok.sum())
        else:
            eligible = rows
        pool = min(eligible, max(4 * n, 256))
        if pool <= 0:
            return [], np.zeros(0, np.float32)
        if pool >= rows // 16:
            return self._search_full(q, n, filters)
        cand = np.argpartition(-approx, pool - 1)[:pool]
        exact = self._vecs[cand] @ q
        best_slots, best = self._best_per_slot(cand, exact)
        if len(best) < n and pool < eligible:  # a few articles own most rows: scan fully
            return self._search_full(q, n, filters)
        tau = float(best[min(n, len(best)) - 1]) if len(best) else -np.inf
        upper = self._resid[:rows] @ q_rest
        upper += approx
        reach = np.flatnonzero(upper >= tau - _EPS)
        if len(reach) > rows // 16:  # the bound admits too much: the full scan is cheaper
            return self._search_full(q, n, filters)
        seen = np.zeros(rows, dtype=bool)
        seen[cand] = True
        extra = reach[~seen[reach]]
        if len(extra):
            cand = np.concatenate([cand, extra])
            exact = np.concatenate([exact, self._vecs[extra] @ q])
            best_slots, best = self._best_per_slot(cand, exact)
        return [int(s) for s in best_slots[:n]], best[:n]

    def _search_full(self, q: np.ndarray, n: int, filters: Mapping[str, str] | None
                     ) -> tuple[list[int], np.ndarray]:
        scores = self.max_scores(q, filters)
        slots = self.top(scores, n)
        return slots, scores[slots] if slots else np.zeros(0, np.float32)

    def _best_per_slot(self, rows: np.ndarray, scores: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Slots of these rows with their best score, best first (finite scores only)."""
        order = np.argsort(-scores, kind="stable")
        slots = self._row_slot[rows[order]]
        _, first = np.unique(slots, return_index=True)
        first.sort()
        keep = order[first]
        keep = keep[np.isfinite(scores[keep])]
        return self._row_slot[rows[keep]], scores[keep]

    def exact_max(self, query: np.ndarray, slots: Sequence[int]) -> np.ndarray:
        """Per slot of ``slots``: the max cosine over the article's phrasings."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        out = np.full(len(slots), -np.inf, dtype=np.float32)
        lists = [self._slot_rows[s] for s in slots]
        rows = np.fromiter((r for rs in lists for r in rs), dtype=np.int64)
        if not len(rows):
            return out
        owner = np.repeat(np.arange(len(slots)), [len(rs) for rs in lists])
        np.maximum.at(out, owner, self._vecs[rows] @ q)
        return out

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
        out[~self._slot_mask(filters)] = -np.inf
        return out

    def centroid_scores(self, query: np.ndarray, slots: Sequence[int]) -> np.ndarray:
        """Cosine of ``query`` to the centroid of each of these slots (candidates only)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        return self._centroids[np.asarray(slots, dtype=np.int64)] @ q

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
        self.maintain()
