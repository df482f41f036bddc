"""Category / work-order type suggestion by nearest labelled examples (ASSIST-1).

Closed conversations with a disposition are the labelled examples: their customer text is
embedded once (off the event loop, by the caller) and kept in memory; a new text is labelled by
a similarity-weighted vote of its ``k`` nearest examples. Text the embedding model does not
cover (Chinese with the English default model) is compared by word overlap (cosine of jieba /
word term counts) instead, so Chinese conversations still get sensible neighbours."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np

from kb.search.base import Embedder
from kb.search.text import QUERY_STOPWORDS, tokenize


def _bag(text: str) -> Counter[str]:
    return Counter(w for w in tokenize(text) if w not in QUERY_STOPWORDS)


def _bag_cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb)


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    label: str
    bag: Counter[str]
    dense: bool  # whether the model covers the text (its vector is meaningful)


class CategoryIndex:
    """Thread-safe: ``add`` and ``suggest`` run in the assist worker thread."""

    def __init__(self, embedder: Embedder | None, max_examples: int = 5000) -> None:
        self.embedder = embedder
        self.max_examples = max_examples
        self._lock = threading.Lock()
        self._examples: list[Example] = []
        self._vectors: np.ndarray | None = None  # sized on the first add (loads no model here)

    def __len__(self) -> int:
        return len(self._examples)

    def labels(self) -> list[str]:
        with self._lock:
            return sorted({e.label for e in self._examples})

    def add_many(self, items: list[tuple[str, str, str]]) -> None:
        """``(id, text, label)`` triples; an id already present is replaced."""
        items = [(i, t, lab) for i, t, lab in items if t.strip() and lab]
        if not items:
            return
        covered = [self.embedder is not None and self.embedder.covers(t) for _, t, _ in items]
        if self.embedder is not None:
            vecs = self.embedder.encode([t for _, t, _ in items])
        else:
            vecs = np.zeros((len(items), 0), np.float32)
        with self._lock:
            ids = {i for i, _, _ in items}
            keep = [n for n, e in enumerate(self._examples) if e.id not in ids]
            self._examples = [self._examples[n] for n in keep]
            old = self._vectors if self._vectors is not None else np.zeros((0, vecs.shape[1]), np.float32)
            self._examples += [Example(i, lab, _bag(t), c)
                               for (i, t, lab), c in zip(items, covered, strict=True)]
            self._vectors = np.vstack([old[keep], vecs])
            if len(self._examples) > self.max_examples:  # keep the newest
                cut = len(self._examples) - self.max_examples
                self._examples = self._examples[cut:]
                self._vectors = self._vectors[cut:]

    def suggest(self, text: str, k: int = 7, limit: int = 3) -> list[dict[str, object]]:
        """Labels ranked by the summed similarity of the ``k`` nearest examples, with a share
        (0..1) of the vote each label got."""
        if not text.strip():
            return []
        with self._lock:
            examples, vectors = list(self._examples), self._vectors
        if not examples:
            return []
        use_dense = (self.embedder is not None and vectors is not None and vectors.shape[1] > 0
                     and self.embedder.covers(text))
        bag = _bag(text)
        lexical = np.array([_bag_cosine(bag, e.bag) for e in examples])
        if use_dense:
            q = self.embedder.encode([text])[0]  # type: ignore[union-attr]
            dense = vectors @ q
            covered = np.array([e.dense for e in examples])
            sims = np.where(covered, dense, lexical)
        else:
            sims = lexical
        order = np.argsort(-sims, kind="stable")[:k]
        votes: dict[str, float] = {}
        near: dict[str, int] = {}
        for i in order:
            if sims[i] <= 0:
                continue
            lab = examples[i].label
            votes[lab] = votes.get(lab, 0.0) + float(sims[i])
            near[lab] = near.get(lab, 0) + 1
        total = sum(votes.values())
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])[:limit]
        return [{"category": lab, "score": round(v / total, 3) if total else 0.0,
                 "neighbours": near[lab]} for lab, v in ranked]
