"""Fusing the lexical (BM25) and dense (cosine) scores of one query's candidates.

Every fusion takes the candidate articles' raw scores as two aligned arrays (``bm25`` >= 0,
0 when the article had no lexical match; ``dense`` = max cosine over its phrasings) and returns
one fused score per candidate, higher is better.

Chosen default: :class:`DenseBoost` — the dense cosine plus a BM25 bonus relative to the query's
best BM25 score, ``dense + beta * bm25 / max(bm25)``. Dense similarity stays the backbone (it is
the stronger signal on paraphrased questions) and keeps its absolute scale, so the fused top-1
score can be thresholded by the bot; BM25 only re-orders articles whose cosines are close. The
weight ``beta`` was calibrated on a held-out slice of the BANKING77 *train* split (never the test
split) by ``python bench/kb_banking77.py --calibrate``; the numbers of every variant tried are in
``kb/search/calibration.json`` and in the module docstring of ``bench/kb_banking77.py``.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # kb.search.base is imported only for the annotation
    from kb.search.base import Hit

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

#: The calibrated BM25 bonus of :class:`DenseBoost` (see ``calibration.json``).
DEFAULT_BETA = 0.06
#: The calibrated weight of the centroid cosine in :class:`DenseBoost`.
DEFAULT_GAMMA = 1.0


class Fusion(abc.ABC):
    name = "fusion"

    @abc.abstractmethod
    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray: ...

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score, best first (ties by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


class BM25Only(Fusion):
    name = "bm25"

    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray:
        return bm25 + 1e-6 * dense  # dense only breaks exact ties (e.g. all zero)


class DenseOnly(Fusion):
    name = "dense"

    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray:
        return dense.astype(np.float64)


class RRF(Fusion):
    """Reciprocal-rank fusion, optionally weighted: ``w_b/(k+rank_b) + w_d/(k+rank_d)``.
    An article without a lexical match gets no BM25 term."""

    name = "rrf"

    def __init__(self, k: float = 60.0, w_bm25: float = 1.0, w_dense: float = 1.0) -> None:
        self.k, self.w_bm25, self.w_dense = k, w_bm25, w_dense

    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray:
        lexical = np.where(bm25 > 0, self.w_bm25 / (self.k + _ranks(bm25)), 0.0)
        return lexical + self.w_dense / (self.k + _ranks(dense))


class Convex(Fusion):
    """``w * norm(dense) + (1 - w) * norm(bm25)`` with per-query min-max or z-score norms."""

    name = "convex"

    def __init__(self, weight: float = 0.7, norm: str = "minmax") -> None:
        if norm not in ("minmax", "zscore"):
            raise ValueError(f"unknown normalisation {norm!r}")
        self.weight, self.norm = weight, norm

    def _norm(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        if self.norm == "minmax":
            span = x.max() - x.min()
            return (x - x.min()) / span if span > 0 else np.zeros_like(x)
        std = x.std()
        return (x - x.mean()) / std if std > 0 else np.zeros_like(x)

    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray:
        return self.weight * self._norm(dense) + (1 - self.weight) * self._norm(bm25)


class DenseBoost(Fusion):
    """``(dense + gamma * centroid) / (1 + gamma) + beta * bm25 / max(bm25)``: dense first,
    BM25 as a bounded bonus. ``centroid`` is the cosine to the mean of the article's phrasings;
    blending it with the max cosine rewards articles whose phrasings agree as a whole.

    With ``min_margin`` > 0 the bonus applies only when BM25 is confident, i.e. its top-1 beats
    its top-2 by at least that fraction of the top-1 score (the "gated" variant)."""

    name = "dense_boost"

    def __init__(self, beta: float = DEFAULT_BETA, min_margin: float = 0.0,
                 gamma: float = DEFAULT_GAMMA) -> None:
        self.beta, self.min_margin, self.gamma = beta, min_margin, gamma

    def fuse(self, bm25: np.ndarray, dense: np.ndarray,
             centroid: np.ndarray | None = None) -> np.ndarray:
        dense = dense.astype(np.float64)
        if self.gamma and centroid is not None:
            dense = (dense + self.gamma * centroid.astype(np.float64)) / (1 + self.gamma)
        top = float(bm25.max()) if len(bm25) else 0.0
        if top <= 0:
            return dense
        if self.min_margin > 0 and len(bm25) > 1:
            second = float(np.partition(bm25, -2)[-2])
            if (top - second) / top < self.min_margin:
                return dense
        return dense + self.beta * bm25.astype(np.float64) / top


@dataclass(frozen=True, slots=True)
class Confidence:
    """What the bot thresholds: the fused top-1 score and its lead over the runner-up."""

    score: float
    margin: float
    dense: float

    @classmethod
    def of(cls, hits: list[Hit]) -> Confidence:
        if not hits:
            return cls(score=0.0, margin=0.0, dense=0.0)
        second = hits[1].score if len(hits) > 1 else 0.0
        return cls(score=hits[0].score, margin=hits[0].score - second, dense=hits[0].dense)


def default_fusion() -> Fusion:
    """The calibrated fusion (``calibration.json`` if present, else the built-in default)."""
    try:
        data = json.loads(CALIBRATION_FILE.read_text())
        chosen = data["chosen"]
        return DenseBoost(beta=float(chosen["beta"]),
                          min_margin=float(chosen.get("min_margin", 0.0)),
                          gamma=float(chosen.get("gamma", 0.0)))
    except (OSError, KeyError, ValueError, TypeError):
        return DenseBoost()
