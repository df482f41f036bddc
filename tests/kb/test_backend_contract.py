"""One contract, every backend: the same cases run against the embedded backend always and
against Elasticsearch when ``HUB_ELASTICSEARCH_URL`` points at a server (skipped otherwise: no
Elasticsearch server can run on the build machines)."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import AsyncIterator

import pytest

from kb.search.base import AsyncSearchBackend, Doc, KbError
from tests.kb.conftest import FAQ

ES_URL = os.environ.get("HUB_ELASTICSEARCH_URL", "")


@pytest.fixture(params=["embedded", "elasticsearch"])
async def backend(request, embedder, tmp_path) -> AsyncIterator[AsyncSearchBackend]:  # type: ignore[no-untyped-def]
    if request.param == "embedded":
        from kb.search.embedded import AsyncEmbeddedBackend

        b: AsyncSearchBackend = AsyncEmbeddedBackend(tmp_path / "index.sqlite", embedder)
    else:
        if not ES_URL:
            pytest.skip("HUB_ELASTICSEARCH_URL is not set: no Elasticsearch server to run the "
                        "contract against (the request bodies are unit-tested in "
                        "test_elastic_requests.py)")
        from kb.search.elastic import ElasticBackend

        b = ElasticBackend.from_url(ES_URL, embedder, alias=f"hub-kb-test-{secrets.token_hex(4)}")
    await b.open()
    await b.upsert_many(FAQ)
    yield b
    if request.param == "elasticsearch":
        await b.drop()  # type: ignore[attr-defined]
    await b.close()


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.doc_id for h in hits]


async def test_paraphrase_finds_the_article_best_first(backend) -> None:  # type: ignore[no-untyped-def]
    hits = await backend.search("I can't remember my pin", k=3)
    assert hits[0].doc_id == "reset-pin"
    assert hits[0].bm25 > 0 and 0.5 < hits[0].dense <= 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert (await backend.search("my wallet got pickpocketed", k=3))[0].doc_id == "lost-card"


async def test_chinese_is_segmented_and_highlighted(backend) -> None:  # type: ignore[no-untyped-def]
    hits = await backend.search("我忘记了密码", k=3)
    assert hits[0].doc_id == "zh-password" and hits[0].bm25 > 0
    assert "<mark>密码</mark>" in " ".join(hits[0].highlights.values())
    assert backend.lexical_only("我忘记了密码") and not backend.lexical_only("forgot my pin")


async def test_highlights_are_html_safe(backend) -> None:  # type: ignore[no-untyped-def]
    hit = (await backend.search("reset PIN settings", k=1))[0]
    assert hit.doc_id == "reset-pin"
    assert "<mark>PIN</mark>" in hit.highlights["question"]
    assert "&lt;b&gt;<mark>Settings</mark>&lt;/b&gt;" in hit.highlights["answer"]


async def test_filters_restrict_both_parts(backend) -> None:  # type: ignore[no-untyped-def]
    assert set(ids(await backend.search("card", {"category": "payments"}, k=10))) == {"refund", "fees"}
    assert "fees" not in ids(await backend.search("transfer fees", {"status": "published"}, k=10))
    assert ids(await backend.search("transfer fees", {"status": "draft", "product": "web"})) == ["fees"]
    assert await backend.search("card", {"category": "no-such-category"}) == []


async def test_upsert_replaces_and_delete_removes(backend) -> None:  # type: ignore[no-untyped-def]
    await backend.upsert_many([Doc("refund", "How do I order a metal card?", ["premium metal card"],
                                   "Metal cards come with Premium.", "cards", "app", "published")])
    assert (await backend.search("metal card", k=1))[0].doc_id == "refund"
    assert (await backend.get("refund")).question == "How do I order a metal card?"
    assert await backend.delete("reset-pin") is True
    assert await backend.delete("reset-pin") is False
    assert "reset-pin" not in ids(await backend.search("reset my PIN", k=10))
    assert await backend.get("reset-pin") is None
    assert await backend.count() == len(FAQ) - 1


async def test_fingerprints_and_stamp_describe_the_stored_articles(backend) -> None:  # type: ignore[no-untyped-def]
    fps = await backend.fingerprints()
    assert fps == {d.id: d.fingerprint() for d in FAQ}
    changed = dataclasses.replace(FAQ[0], answer="new answer")
    await backend.upsert_many([changed])
    assert (await backend.fingerprints())[changed.id] == changed.fingerprint() != fps[changed.id]
    assert await backend.read_stamp() is None
    await backend.write_stamp("1:abc")
    assert await backend.read_stamp() == "1:abc"


@pytest.mark.parametrize(("query", "filters", "code"), [
    ("", None, "empty_query"), ("   ", None, "empty_query"), ("x" * 1001, None, "query_too_long"),
    ("card", {"colour": "red"}, "unknown_filter")])
async def test_bad_input_gets_a_stable_code(backend, query, filters, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KbError) as err:
        await backend.search(query, filters)
    assert err.value.code == code and err.value.status == 422


async def test_query_syntax_is_inert(backend) -> None:  # type: ignore[no-untyped-def]
    assert await backend.search('card" OR NEAR(* AND - {"match_all": {}}', k=3)
    hits = await backend.search("???", k=2)
    assert len(hits) == 2 and all(h.bm25 == 0 for h in hits)
