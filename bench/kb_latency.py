"""KB-2 search latency on 100,000 synthetic articles (issue 5, acceptance 4).

Builds an embedded index (SQLite FTS5 file in a temp dir + numpy vectors) of seeded synthetic
FAQ articles, then times ``search()`` for queries that are each embedded for real (p50/p99 in
ms, query embedding included), and an incremental upsert of one article (embedding included).
Embedding throughput of the model is measured on a fresh batch and reported.

Corpus vectors are cached between runs in ``bench/cache/`` (git-ignored; keyed by corpus seed,
size and model) because embedding 100,000 texts takes minutes on this machine; the output says
whether the cache was used. Queries and the updated article are never taken from the cache: every
query is embedded for real inside the timed ``search()`` call.

Run from the repository root: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/kb_latency.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.search.base import Doc, Embedder  # noqa: E402
from kb.search.embedded import EmbeddedBackend  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "kb_latency.json"
CACHE = ROOT / "bench" / "cache"  # git-ignored (see .gitignore)
SEED = 5

SUBJECTS = ["card", "account", "transfer", "refund", "PIN", "loan", "payment", "statement",
            "fee", "limit", "address", "password", "app", "cash withdrawal", "exchange rate",
            "top-up", "direct debit", "savings", "mortgage", "insurance", "invoice", "delivery",
            "subscription", "voucher", "SIM card", "router", "parcel", "booking", "ticket"]
ACTIONS = ["reset", "cancel", "change", "activate", "block", "track", "dispute", "increase",
           "close", "open", "renew", "verify", "pay", "order", "return", "update", "report"]
QUALIFIERS = ["online", "abroad", "today", "without the app", "for my child", "after moving",
              "on a weekend", "for business", "in another currency", "by phone", "urgently",
              "for the second time", "before it expires", "with a new phone"]
STARTS = ["How do I", "Can I", "Why can't I", "What happens if I", "Where can I", "When can I"]


def synthetic_articles(n: int, seed: int = SEED) -> list[Doc]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        q = (f"{rng.choice(STARTS)} {rng.choice(ACTIONS)} my {rng.choice(SUBJECTS)} "
             f"{rng.choice(QUALIFIERS)} (case {i})")
        docs.append(Doc(id=f"a{i}", question=q, answer=f"Answer {i}: {q.lower()} steps.",
                        category=rng.choice(["billing", "cards", "tech", "orders"]),
                        product=rng.choice(["web", "app", "phone"]), status="published"))
    return docs


class CachedCorpus(Embedder):
    """Corpus texts come from the vector cache; anything else is embedded by the real model."""

    def __init__(self, inner: Embedder, table: dict[str, np.ndarray]) -> None:
        self.inner, self.table, self.name = inner, table, inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if all(t in self.table for t in texts):
            return np.stack([self.table[t] for t in texts])
        return self.inner.encode(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: see README)")
    args = parser.parse_args(argv)

    from kb.search.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(batch_size=128, threads=args.threads)
    docs = synthetic_articles(args.articles)
    texts = [d.question for d in docs]

    rng = random.Random(SEED + 1)
    probe = [f"{rng.choice(STARTS)} {rng.choice(ACTIONS)} the {rng.choice(SUBJECTS)} x{i}"
             for i in range(512)]
    model.encode(probe[:8])  # warm-up (model load)
    t0 = time.perf_counter()
    model.encode(probe)
    throughput = len(probe) / (time.perf_counter() - t0)

    cache_file = CACHE / f"kb_latency_{SEED}_{args.articles}_{model.name}.npy"
    cached = cache_file.is_file()
    if cached:
        vectors = np.load(cache_file)
    else:
        vectors = model.encode(texts)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, vectors)
    embedder = CachedCorpus(model, dict(zip(texts, vectors, strict=True)))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        backend = EmbeddedBackend(Path(tmp) / "kb.sqlite", embedder)
        backend.index(docs, batch=5000)
        build_s = time.perf_counter() - t0

        queries = [f"{rng.choice(STARTS)} {rng.choice(ACTIONS)} {rng.choice(SUBJECTS)} "
                   f"{rng.choice(QUALIFIERS)}" for _ in range(args.queries)]
        for q in queries[:5]:
            backend.search(q, k=10)  # warm-up
        times = []
        for i, q in enumerate(queries):
            filters = {"category": "cards"} if i % 4 == 0 else None
            t0 = time.perf_counter()
            backend.search(q, filters, k=10)
            times.append((time.perf_counter() - t0) * 1000)

        updates = []
        for i in range(20):
            doc = Doc(id=f"a{i * 997}", question=f"How do I freeze my card number {i} now?",
                      alternatives=["lock my card"], answer="Tap Freeze.", category="cards")
            t0 = time.perf_counter()
            backend.upsert(doc)
            updates.append((time.perf_counter() - t0) * 1000)
        assert backend.search("freeze my card number 7 now", k=1)[0].doc_id == f"a{7 * 997}"
        backend.close()

    line = {"bench": "kb_latency", "articles": args.articles,
            "p99_ms": round(float(np.percentile(times, 99)), 2),
            "update_ms": round(float(np.percentile(updates, 50)), 2)}
    detail = {**line, "p50_ms": round(float(np.percentile(times, 50)), 2),
              "update_max_ms": round(max(updates), 2), "queries": len(times),
              "embedding_sentences_per_s": round(throughput, 1),
              "corpus_vectors_cached": cached, "cache_file": str(cache_file),
              "index_build_s": round(build_s, 1), "torch_threads": args.threads,
              "note": "every query and every updated article is embedded for real"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(detail, indent=1) + "\n")
    print(json.dumps({**line, "corpus_vectors_cached": cached,
                      "embedding_sentences_per_s": detail["embedding_sentences_per_s"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
