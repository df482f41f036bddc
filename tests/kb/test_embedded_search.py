"""The embedded backend (SQLite FTS5 + numpy vectors) against the search port's contract."""

from __future__ import annotations

import dataclasses

import pytest

from kb.search.base import MAX_QUERY_CHARS, Doc, KbError
from kb.search.embedded import EmbeddedBackend
from kb.search.fusion import Confidence
from kb.search.text import segment_for_fts, tokenize


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.doc_id for h in hits]


def test_english_query_finds_the_english_article(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search("I can't remember my pin", k=3)
    assert hits[0].doc_id == "reset-pin"
    assert hits[0].bm25 > 0 and hits[0].dense > 0.5
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_paraphrase_without_shared_words_is_found_by_the_dense_part(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search("my wallet got pickpocketed", k=3)
    assert hits[0].doc_id == "lost-card"


def test_chinese_query_finds_the_chinese_article_via_jieba(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search("我忘记了密码", k=3)
    assert hits[0].doc_id == "zh-password"
    assert hits[0].bm25 > 0, "jieba segmentation should give a lexical match on 密码"
    assert "<mark>密码</mark>" in " ".join(hits[0].highlights.values())
    assert backend.search("卡还没收到", k=1)[0].doc_id == "zh-delivery"


def test_mixed_chinese_and_latin_text_is_tokenised_per_script() -> None:
    assert tokenize("如何重置PIN码, My Card") == ["如何", "重置", "pin", "码", "my", "card"]
    assert "\u200b" in segment_for_fts("重置PIN码")


def test_highlights_mark_matched_terms_and_escape_html(backend) -> None:  # type: ignore[no-untyped-def]
    hit = backend.search("reset PIN settings", k=1)[0]
    assert hit.doc_id == "reset-pin"
    assert "<mark>reset</mark>" in hit.highlights["question"]
    assert "<mark>PIN</mark>" in hit.highlights["question"]
    assert "&lt;b&gt;<mark>Settings</mark>&lt;/b&gt;" in hit.highlights["answer"]


def test_filters_apply_to_both_parts(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search("card", {"category": "payments"}, k=10)
    assert set(ids(hits)) == {"refund", "fees"}
    hits = backend.search("transfer fees", {"status": "published"}, k=10)
    assert "fees" not in ids(hits)
    hits = backend.search("transfer fees", {"status": "draft", "product": "web"}, k=10)
    assert ids(hits) == ["fees"]
    assert backend.search("card", {"category": "no-such-category"}) == []


def test_upsert_changes_results_without_re_embedding_the_others(backend, embedder) -> None:  # type: ignore[no-untyped-def]
    embedder.reset()
    backend.upsert(Doc("refund", "How do I order a metal card?", ["premium metal card"],
                       "Metal cards are available on the Premium plan.", "cards", "app",
                       "published", []))
    assert embedder.calls == 1
    assert embedder.texts == ["How do I order a metal card?", "premium metal card"]
    assert backend.search("metal card", k=1)[0].doc_id == "refund"
    top = backend.search("when will I get my money back", k=1)[0]
    assert top.doc_id != "refund" or top.bm25 == 0
    assert len(backend) == 6


def test_delete_removes_from_both_parts(backend) -> None:  # type: ignore[no-untyped-def]
    assert backend.delete("reset-pin") is True
    assert backend.delete("reset-pin") is False
    hits = backend.search("reset my PIN", k=10)
    assert "reset-pin" not in ids(hits)
    assert backend.get("reset-pin") is None
    assert len(backend) == 5


def test_adding_a_new_article_embeds_only_that_article(backend, embedder) -> None:  # type: ignore[no-untyped-def]
    embedder.reset()
    backend.upsert(Doc("crypto", "Can I buy bitcoin?", [], "Yes, in the Crypto tab.",
                       "invest", "app", "published", ["crypto"]))
    assert embedder.texts == ["Can I buy bitcoin?"]
    assert backend.search("buy bitcoin", k=1)[0].doc_id == "crypto"


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_rejected_with_a_stable_code(backend, query: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        backend.search(query)
    assert err.value.code == "empty_query"
    assert err.value.problem()["status"] == 422


def test_huge_query_is_rejected_with_a_stable_code(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        backend.search("card " * (MAX_QUERY_CHARS // 4))
    assert err.value.code == "query_too_long"
    assert err.value.details["max_length"] == MAX_QUERY_CHARS


def test_unknown_filter_is_rejected_with_a_stable_code(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        backend.search("card", {"colour": "red"})
    assert err.value.code == "unknown_filter"
    assert err.value.details["unknown"] == ["colour"]


def test_fts_syntax_in_a_query_is_inert(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search('card" OR NEAR(* AND -', k=3)
    assert hits  # no sqlite error; tokens are quoted


def test_punctuation_only_query_still_gets_dense_results(backend) -> None:  # type: ignore[no-untyped-def]
    hits = backend.search("???", k=2)
    assert len(hits) == 2 and all(h.bm25 == 0 for h in hits)


def test_article_without_question_is_rejected(backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        backend.upsert(Doc("x", "  ", []))
    assert err.value.code == "invalid_doc"


def test_confidence_separates_a_known_question_from_an_unknown_one(backend) -> None:  # type: ignore[no-untyped-def]
    known = Confidence.of(backend.search("how do i reset my pin", k=3))
    unknown = Confidence.of(backend.search("what is the weather in Lisbon tomorrow", k=3))
    assert known.score > 0.7 > unknown.score
    assert known.margin > unknown.margin


def test_persistence_reopen_gives_same_results_without_re_embedding(tmp_path, embedder, faq) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kb.sqlite"
    with EmbeddedBackend(path, embedder) as first:
        first.index(faq)
        first.delete("fees")
        first.upsert(dataclasses.replace(faq[0], alternatives=["pin reset please"]))
        before = first.search("I forgot my pin", k=4)
    assert (tmp_path / "kb.sqlite.vectors.npy").is_file()
    assert (tmp_path / "kb.sqlite.vectors.json").is_file()
    embedder.reset()
    with EmbeddedBackend(path, embedder) as second:
        assert len(second) == 5
        after = second.search("I forgot my pin", k=4)
    assert embedder.texts == ["I forgot my pin"], "only the query may be embedded on reopen"
    assert ids(after) == ids(before)
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-6)


def test_stale_snapshot_is_rebuilt_from_stored_vectors_without_re_embedding(tmp_path, embedder, faq) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kb.sqlite"
    with EmbeddedBackend(path, embedder) as first:
        first.index(faq)
    # a process that changed the index and died before close(): snapshot is out of date
    crashed = EmbeddedBackend(path, embedder)
    crashed.delete("refund")
    crashed._db.close()
    embedder.reset()
    with EmbeddedBackend(path, embedder) as second:
        assert len(second) == 5
        assert "refund" not in ids(second.search("money back", k=10))
    assert embedder.texts == ["money back"]


def test_vector_index_max_over_phrasings_survives_replacements_and_deletes() -> None:
    """Every article's dense score stays the max over its own phrasings (one-row and
    several-row articles mixed) after rows are swapped around by replacements and deletes."""
    import numpy as np

    from kb.search.vectors import VectorIndex

    rng = np.random.default_rng(7)

    def unit(n: int) -> np.ndarray:
        v = rng.normal(size=(n, 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    index = VectorIndex(8, capacity=4)
    owned: dict[str, np.ndarray] = {}
    for i in range(40):
        owned[f"d{i}"] = unit(1 + i % 3)
        index.put(f"d{i}", owned[f"d{i}"], {"category": "c"})
    for i in range(0, 40, 5):
        owned[f"d{i}"] = unit(3 - i % 3)  # replaced: different row count
        index.put(f"d{i}", owned[f"d{i}"], {"category": "c"})
    for i in range(1, 40, 7):
        assert index.remove(f"d{i}")
        del owned[f"d{i}"]
    query = unit(1)[0]
    scores = index.max_scores(query)
    assert np.isfinite(scores).sum() == len(owned)
    for doc_id, vecs in owned.items():
        assert scores[index.slot(doc_id)] == pytest.approx(float((vecs @ query).max()), abs=1e-6)


def test_a_bulk_load_moves_the_long_lived_index_out_of_the_collectors_way(embedder, faq,  # type: ignore[no-untyped-def]
                                                                          monkeypatch) -> None:
    import gc

    from kb.search import embedded

    monkeypatch.setattr(embedded, "GC_FREEZE_MIN_DOCS", len(faq))
    before = gc.get_freeze_count()
    b = EmbeddedBackend(":memory:", embedder)
    try:
        b.index(faq[:2])  # a small change: the collector is left alone
        assert gc.get_freeze_count() == before
        b.index(faq)  # a bulk load: collected once, then frozen
        assert gc.get_freeze_count() > before
        assert b.search("reset my PIN", k=1)[0].doc_id == "reset-pin"
    finally:
        b.close()
        gc.unfreeze()
