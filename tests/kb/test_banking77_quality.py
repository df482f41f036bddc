"""A small BANKING77 slice: the hybrid must not lose to either part (issue 5, acceptance 3)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kb.search.embedded import EmbeddedBackend
from kb.search.fusion import BM25Only, DenseOnly, default_fusion

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "banking77"


def test_hybrid_top1_is_at_least_as_good_as_both_parts_on_a_banking77_slice(embedder) -> None:  # type: ignore[no-untyped-def]
    if not (DATA / "train.csv").is_file():
        pytest.skip(f"BANKING77 is not at {DATA} (shared data folder absent)")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import kb_banking77 as bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    articles = bench.build_articles(bench.load_split(DATA / "train.csv"))
    queries = bench.load_split(DATA / "test.csv")[::30]  # 103 queries spread over the intents
    backend = EmbeddedBackend(":memory:", embedder)
    backend.index(articles)
    correct = {"bm25": 0, "dense": 0, "hybrid": 0}
    for text, gold in queries:
        for name, fusion in (("bm25", BM25Only()), ("dense", DenseOnly()),
                             ("hybrid", default_fusion())):
            top = backend.search_with(text, None, 1, fusion, highlights=False)
            correct[name] += bool(top) and top[0].doc_id == gold
    backend.close()
    top1 = {name: n / len(queries) for name, n in correct.items()}
    assert top1["hybrid"] >= max(top1["bm25"], top1["dense"]), top1
    assert top1["dense"] > 0.7, top1
