"""KB-2 search latency on 100,000 synthetic articles (issue 5, acceptance 4).

Builds an embedded index (SQLite FTS5 file in a temp dir + numpy vectors) of seeded synthetic
FAQ articles, then times ``search()`` for queries that are each embedded for real (p50/p99 in
ms, query embedding included), and an incremental upsert of one article (embedding included).
Embedding throughput of the model is measured on a fresh batch and reported, with the single-query
embedding latency and the runtime it ran on (ONNX Runtime export of the same model, or torch).

Per stage (embed, bm25, vectors, fusion, highlights, assemble) p50/p99 come from the backend's
own stage clock; ``cpu_*`` is the process CPU time per query (the wall figures include time the
OS gave to other processes: the machine is shared, so the load average is reported too). The
query set is run ``--repeats`` times; ``p99_ms`` is over all of them, ``repeat_p99_ms`` each.
``gc_runs`` / ``gc_pause_max_ms``: Python garbage collections during the timed queries (a
full collection over the index's objects would show up in the tail; none of them does).

Corpus vectors are cached between runs in ``bench/cache/`` (git-ignored; keyed by corpus seed,
size and model) because embedding 100,000 texts takes minutes on this machine; the output says
whether the cache was used. Queries and the updated article are never taken from the cache: every
query is embedded for real inside the timed ``search()`` call.

Run from the repository root: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/kb_latency.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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
    parser.add_argument("--threads", type=int, default=1, help="inference threads (1: see README)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--runtime", default="auto", choices=["auto", "onnx", "torch"])
    args = parser.parse_args(argv)

    from kb.search.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(batch_size=128, threads=args.threads,
                                        runtime=args.runtime)
    docs = synthetic_articles(args.articles)
    texts = [d.question for d in docs]

    rng = random.Random(SEED + 1)
    probe = [f"{rng.choice(STARTS)} {rng.choice(ACTIONS)} the {rng.choice(SUBJECTS)} x{i}"
             for i in range(512)]
    model.encode(probe[:8])  # warm-up (model load, ONNX export on the very first run)
    t0 = time.perf_counter()
    model.encode(probe)
    throughput = len(probe) / (time.perf_counter() - t0)
    single, single_cpu = [], []
    for p in probe[:200]:
        t0, c0 = time.perf_counter(), time.process_time()
        model.encode([p])
        single.append((time.perf_counter() - t0) * 1000)
        single_cpu.append((time.process_time() - c0) * 1000)

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
        load_before = os.getloadavg()[0]
        gc_pauses: list[float] = []  # collector runs during the timed queries (ms each)

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                on_gc.t0 = time.perf_counter()  # type: ignore[attr-defined]
            else:
                gc_pauses.append((time.perf_counter() - on_gc.t0) * 1000)  # type: ignore[attr-defined]

        gc.callbacks.append(on_gc)
        times: list[float] = []
        cpu: list[float] = []
        stages: dict[str, list[float]] = {}
        repeat_p99 = []
        for _ in range(args.repeats):
            mine = []
            for i, q in enumerate(queries):
                filters = {"category": "cards"} if i % 4 == 0 else None
                clock: dict[str, float] = {}
                t0, c0 = time.perf_counter(), time.process_time()
                backend.search_with(q, filters, 10, backend.fusion, timings=clock)
                mine.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                for stage, sec in clock.items():
                    stages.setdefault(stage, []).append(sec * 1000)
            repeat_p99.append(round(float(np.percentile(mine, 99)), 2))
            times.extend(mine)
        load_after = os.getloadavg()[0]
        gc.callbacks.remove(on_gc)

        updates = []
        for i in range(20):
            doc = Doc(id=f"a{i * 997}", question=f"How do I freeze my card number {i} now?",
                      alternatives=["lock my card"], answer="Tap Freeze.", category="cards")
            t0 = time.perf_counter()
            backend.upsert(doc)
            updates.append((time.perf_counter() - t0) * 1000)
        assert backend.search("freeze my card number 7 now", k=1)[0].doc_id == f"a{7 * 997}"
        backend.close()

    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 2)

    line = {"bench": "kb_latency", "articles": args.articles,
            "p99_ms": round(float(np.percentile(times, 99)), 2),
            "update_ms": round(float(np.percentile(updates, 50)), 2)}
    detail = {**line, "p50_ms": round(float(np.percentile(times, 50)), 2),
              "update_max_ms": round(max(updates), 2), "queries": len(times),
              "embedding_sentences_per_s": round(throughput, 1),
              "corpus_vectors_cached": cached, "cache_file": str(cache_file),
              "index_build_s": round(build_s, 1), "threads": args.threads,
              "runtime": model.active_runtime, "repeats": args.repeats,
              "repeat_p99_ms": repeat_p99,
              "cpu_p50_ms": pct(cpu, 50), "cpu_p99_ms": pct(cpu, 99),
              "stages_ms": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in stages.items()},
              "query_embed_ms": {"p50": pct(single, 50), "p99": pct(single, 99),
                                 "cpu_p50": pct(single_cpu, 50), "cpu_p99": pct(single_cpu, 99)},
              "load_avg_1m": [round(load_before, 2), round(load_after, 2)],
              "gc_runs": len(gc_pauses), "gc_pause_max_ms": round(max(gc_pauses, default=0.0), 2),
              "cores": os.cpu_count(),
              "note": "every query and every updated article is embedded for real"}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(detail, indent=1) + "\n")
    print(json.dumps({**line, "p50_ms": detail["p50_ms"], "cpu_p99_ms": detail["cpu_p99_ms"],
                      "corpus_vectors_cached": cached, "runtime": detail["runtime"],
                      "embedding_sentences_per_s": detail["embedding_sentences_per_s"],
                      "query_embed_ms": detail["query_embed_ms"],
                      "stages_ms": detail["stages_ms"], "load_avg_1m": detail["load_avg_1m"],
                      "gc_runs": detail["gc_runs"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
