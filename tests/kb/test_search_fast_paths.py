"""The fast search paths give the slow paths' answers: in-memory BM25 == FTS5 bm25(), the projected
vector scan == the full scan, ONNX Runtime vectors == torch vectors."""

from __future__ import annotations

import random
import sqlite3

import pytest

from kb.search.embedded import _BM25_WEIGHTS, _match_expression
from kb.search.lexical import LexicalIndex, fts_tokens
from kb.search.text import query_terms, segment_for_fts

WORDS = ("card pin reset can't won't café naïve Ünïcode refund money back transfer abroad "
         "fee fees limit 24 hours app crème brûlée don't stolen lost frozen 重置 密码 银行卡 "
         "account's e-mail top_up fee'd").split()


def _docs(n: int, seed: int) -> list[tuple[str, list[list[str]], dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rows = []
        for _ in range(rng.randint(1, 3)):
            phrase = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 9)))
            keywords = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 2)))
            answer = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14)))
            rows.append([segment_for_fts(phrase), segment_for_fts(keywords),
                         segment_for_fts(answer)])
        out.append((f"d{i}", rows, {"category": rng.choice(["a", "b"])}))
    return out


class Fts:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE fts USING fts5(doc_id UNINDEXED, kind UNINDEXED,"
                        " phrase, keywords, answer, cat UNINDEXED,"
                        " tokenize = 'unicode61 remove_diacritics 2')")

    def put(self, doc_id: str, rows: list[list[str]], attrs: dict[str, str]) -> None:
        self.db.execute("DELETE FROM fts WHERE doc_id = ?", (doc_id,))
        self.db.executemany("INSERT INTO fts VALUES (?, 0, ?, ?, ?, ?)",
                            [(doc_id, *r, attrs["category"]) for r in rows])

    def remove(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM fts WHERE doc_id = ?", (doc_id,))

    def scores(self, query: str, category: str | None = None) -> dict[str, float]:
        expr = _match_expression(query_terms(query))
        weights = ", ".join(str(w) for w in (*_BM25_WEIGHTS, 0.0))
        where = " AND cat = ?" if category else ""
        out: dict[str, float] = {}
        for doc_id, rank in self.db.execute(
                f"SELECT doc_id, bm25(fts, {weights}) r FROM fts WHERE fts MATCH ?{where}"
                " ORDER BY r", (expr, *([category] if category else []))):
            out.setdefault(doc_id, -rank)
        return out


def _compare(fts: Fts, lex: LexicalIndex, queries: list[str]) -> None:
    for q in queries:
        for category in (None, "a"):
            want = fts.scores(q, category)
            got = lex.scores(query_terms(q), {"category": category} if category else None,
                             limit=10_000)
            assert set(got) == set(want), q
            for doc_id, score in want.items():
                assert got[doc_id] == pytest.approx(score, rel=1e-9, abs=1e-12), (q, doc_id)
        top = lex.scores(query_terms(q), None, limit=3)
        ranked = sorted(fts.scores(q).values(), reverse=True)[:3]
        assert list(top.values()) == pytest.approx(ranked, rel=1e-9)


def test_scores_equal_fts5_bm25_through_changes() -> None:
    fts, lex = Fts(), LexicalIndex(_BM25_WEIGHTS[2:])
    docs = _docs(300, seed=1)
    for doc_id, rows, attrs in docs:
        fts.put(doc_id, rows, attrs)
        lex.put(doc_id, rows, attrs)
    queries = ["Why can't I reset my card?", "café", "CAFE naive unicode", "重置银行卡密码",
               "won't top_up e-mail", "the", "account's fees", "lost stolen frozen card",
               "brûlée crème", "24 hours", "nothing matches zzz",
               "fee'd limit"]  # a phrase whose 2nd token is the rarer (binary-search path)
    _compare(fts, lex, queries)
    # replace some, delete some: dead rows must not count anywhere
    for doc_id, rows, attrs in _docs(60, seed=2)[::2]:
        fts.put(doc_id, rows, attrs)
        lex.put(doc_id, rows, attrs)
    for i in range(100, 140):
        fts.remove(f"d{i}")
        assert lex.remove(f"d{i}")
    assert not lex.remove("d100")
    assert lex.dead_rows > 0
    _compare(fts, lex, queries)
    lex.compact()
    assert lex.dead_rows == 0 and len(lex) == 260
    _compare(fts, lex, queries)


def test_tokens_match_unicode61() -> None:
    assert fts_tokens("Can't RESET the Café's PIN_code, naïve 2x!") == \
        ["can", "t", "reset", "the", "cafe", "s", "pin", "code", "naive", "2x"]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    text = segment_for_fts("Ünïcode crème-brûlée 重置银行卡密码 don't e-mail top_up №5 ½")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    assert [r[0] for r in db.execute("SELECT term FROM v ORDER BY offset")] == fts_tokens(text)


def test_projected_vector_search_equals_the_full_scan() -> None:
    """The PCA-bounded scan returns the full scan's articles and exact scores (with filters,
    several phrasings per article, replacements and deletes after the fit)."""
    import numpy as np

    from kb.search.vectors import VectorIndex

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, 64)).astype(np.float32)

    def vecs(count: int) -> np.ndarray:
        v = centres[rng.integers(0, 40, count)] + 0.3 * rng.standard_normal((count, 64))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    index = VectorIndex(64)
    for i in range(3000):
        index.put(f"d{i}", vecs(int(rng.integers(1, 4))), {"category": "ab"[i % 2]})
    assert index.maintain(min_rows=1000, dims=16) and index.projected
    for i in range(0, 3000, 7):  # changes after the fit are projected on the fly
        index.put(f"d{i}", vecs(2), {"category": "b"})
    for i in range(1, 3000, 11):
        index.remove(f"d{i}")
    full_scans = []
    real_full = index._search_full
    index._search_full = lambda *a: full_scans.append(1) or real_full(*a)  # type: ignore[method-assign]
    for q in vecs(40):
        for filters in (None, {"category": "a"}, {"category": "zz"}):
            full = index.max_scores(q, filters)
            want = index.top(full, 50)
            got, scores = index.search(q, 50, filters)
            assert got == want
            assert np.allclose(scores, full[want])
            assert np.allclose(index.exact_max(q, got), full[got])
    assert len(full_scans) < 40  # the projection path itself ran (not only the fallback)


def test_onnx_runtime_vectors_equal_the_torch_vectors() -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed: torch only")
    pytest.importorskip("onnx", reason="onnx not installed: no export, torch only")
    import numpy as np

    from kb.search.embedding import SentenceTransformerEmbedder

    try:
        fast = SentenceTransformerEmbedder(threads=1, runtime="onnx")
        slow = SentenceTransformerEmbedder(threads=1, runtime="torch")
    except Exception as err:  # pragma: no cover - environment
        pytest.skip(f"embedding model not installed ({err})")
    assert fast.active_runtime == "onnx" and slow.active_runtime == "torch"
    texts = ["How do I reset my PIN?", "card", "Why can't I transfer money abroad today?",
             "如何重置密码", "x " * 300]  # short, CJK, longer than the model's window
    a, b = fast.encode(texts), slow.encode(texts)
    assert a.dtype == np.float32 and a.shape == b.shape
    assert float((a * b).sum(axis=1).min()) > 0.999
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
