"""The Elasticsearch backend without a server: its request bodies, its response parsing, and its
index/alias life cycle against a recording fake of the client (an outside service that cannot
run on this machine; the real server is covered by test_backend_contract.py when
HUB_ELASTICSEARCH_URL is set)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kb.search.base import Doc, Embedder, KbError
from kb.search.elastic import (
    ElasticBackend,
    bm25_body,
    bulk_operations,
    index_mapping,
    index_settings,
    knn_body,
    parse_search,
)
from kb.search.fusion import BM25Only, DenseBoost


def unit(*xs: float) -> list[float]:
    v = np.array(xs, dtype=np.float32)
    return list(v / np.linalg.norm(v))


class TinyEmbedder(Embedder):
    """Three-dimensional vectors from word counts: enough to check arithmetic, not meaning."""

    name = "tiny"
    words = ("card", "pin", "refund")

    @property
    def dimension(self) -> int:
        return 3

    def encode(self, texts):  # type: ignore[no-untyped-def]
        rows = [[t.lower().count(w) + 0.01 for w in self.words] for t in texts]
        m = np.array(rows, dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_mapping_has_bm25_text_fields_and_cosine_dense_vectors() -> None:
    m = index_mapping(384, "all-MiniLM-L6-v2")
    assert m["_meta"] == {"schema": "1", "model": "all-MiniLM-L6-v2", "dims": 384}
    vec = m["properties"]["phrasings"]["properties"]["vector"]
    assert m["properties"]["phrasings"]["type"] == "nested"
    assert vec == {"type": "dense_vector", "dims": 384, "index": True, "similarity": "cosine"}
    for field in ("phrases", "keywords_text", "answer_text"):
        assert m["properties"][field] == {"type": "text", "analyzer": "kb_text"}
    for field in ("category", "product", "status"):
        assert m["properties"][field]["type"] == "keyword"
    analysis = index_settings()["analysis"]
    assert analysis["char_filter"]["kb_joiner"]["mappings"] == ["\\u200B=>\\u0020"]


def test_bulk_operations_carry_segmented_text_vectors_and_centroid() -> None:
    docs = [Doc("a", "如何重置密码", ["forgot password"], "Open settings", "acct", "app",
                "published", ["密码"]), Doc("b", "refund?", [], "5 days")]
    vectors = np.array([unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)], dtype=np.float32)
    ops = bulk_operations("hub-kb-v1-1", docs, vectors)
    assert ops[0] == {"index": {"_index": "hub-kb-v1-1", "_id": "a"}}
    src = ops[1]
    assert src["phrases"] == "\u200b如何\u200b重置\u200b密码\u200b\nforgot password"
    assert len(src["phrasings"]) == 2 and src["phrasings"][1]["vector"] == pytest.approx(unit(0, 1, 0))
    assert src["centroid"] == pytest.approx(unit(1, 1, 0))
    assert src["fingerprint"] == docs[0].fingerprint()
    assert ops[2]["index"]["_id"] == "b" and len(ops[3]["phrasings"]) == 1


def test_query_bodies_apply_filters_to_knn_and_bm25() -> None:
    body = knn_body(np.array(unit(1, 0, 0)), {"status": "published", "category": "cards"}, 100)
    assert body["knn"]["field"] == "phrasings.vector" and body["knn"]["k"] == 100
    assert body["knn"]["num_candidates"] == 200
    assert body["knn"]["filter"] == [{"term": {"category": "cards"}}, {"term": {"status": "published"}}]
    lexical = bm25_body("How do I reset my PIN?", {"status": "published"}, 50)
    assert lexical is not None
    mm = lexical["query"]["bool"]["should"][0]["multi_match"]
    assert mm["query"] == "reset pin" and mm["fields"] == ["phrases^1", "keywords_text^1", "answer_text^0.3"]
    assert lexical["query"]["bool"]["filter"] == [{"term": {"status": "published"}}]
    assert lexical["highlight"]["encoder"] == "html"
    assert bm25_body("???", {}, 10) is None
    assert "filter" not in knn_body(np.array(unit(1, 0, 0)), {}, 10)["knn"]


def _hit(doc_id: str, vectors: list[list[float]], score: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"_id": doc_id, "_score": score, "_source": {
        "doc_id": doc_id, "question": doc_id, "phrasings": [{"vector": v} for v in vectors],
        "centroid": list(np.mean(vectors, axis=0) / np.linalg.norm(np.mean(vectors, axis=0)))},
        **extra}


def test_parse_search_fuses_exact_cosines_with_bm25_and_keeps_highlights() -> None:
    q = np.array(unit(1, 0.2, 0), dtype=np.float32)
    knn = {"hits": {"hits": [_hit("a", [unit(1, 0, 0), unit(0, 0, 1)]), _hit("b", [unit(1, 0.3, 0)])]}}
    bm25 = {"hits": {"hits": [_hit("c", [unit(0, 1, 0)], score=7.0,
                                   highlight={"phrases": ["reset my <mark>PIN</mark>\u200b"],
                                              "answer_text": ["&lt;b&gt;x"]}),
                              _hit("a", [unit(1, 0, 0), unit(0, 0, 1)], score=3.5)]}}
    hits = parse_search(knn, bm25, q, DenseBoost(beta=0.06, gamma=0.0), k=3)
    by_id = {h.doc_id: h for h in hits}
    assert set(by_id) == {"a", "b", "c"}
    assert by_id["a"].dense == pytest.approx(float(np.dot(unit(1, 0, 0), q)), abs=1e-5)
    assert by_id["a"].bm25 == 3.5 and by_id["b"].bm25 == 0.0
    assert by_id["a"].score == pytest.approx(by_id["a"].dense + 0.06 * 3.5 / 7.0, abs=1e-5)
    assert by_id["c"].highlights == {"question": "reset my <mark>PIN</mark>", "answer": "&lt;b&gt;x"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    lexical = parse_search(knn, bm25, q, BM25Only(), k=1)
    assert lexical[0].doc_id == "c"


def test_an_error_in_a_search_response_is_reported() -> None:
    with pytest.raises(KbError) as err:
        parse_search({"error": {"reason": "no such index"}}, None, np.array(unit(1, 0, 0)),
                     BM25Only(), 3)
    assert err.value.code == "search_backend_unavailable" and "no such index" in err.value.detail


class FakeIndices:
    def __init__(self, es: FakeElasticsearch) -> None:
        self.es = es

    async def get_alias(self, name: str) -> dict[str, Any]:
        from elasticsearch import NotFoundError

        found = {i: {"aliases": {name: {}}} for i, a in self.es.aliases.items() if name in a}
        if not found:
            raise NotFoundError("alias missing", meta=None, body={})  # type: ignore[arg-type]
        return found

    async def create(self, index: str, settings: Any, mappings: Any) -> None:
        self.es.calls.append(("create", index))
        self.es.store[index] = {"mappings": mappings, "docs": {}}
        self.es.aliases[index] = set()

    async def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self.es.calls.append(("update_aliases", actions))
        for action in actions:
            (kind, spec), = action.items()
            getattr(self.es.aliases[spec["index"]], "add" if kind == "add" else "discard")(spec["alias"])

    async def get_mapping(self, index: str) -> dict[str, Any]:
        return {index: {"mappings": self.es.store[index]["mappings"]}}

    async def put_mapping(self, index: str, meta: dict[str, Any]) -> None:
        self.es.store[index]["mappings"]["_meta"] = dict(meta)

    async def delete(self, index: str) -> None:
        self.es.calls.append(("delete_index", index))
        del self.es.store[index]
        del self.es.aliases[index]


class FakeElasticsearch:
    """Records calls; stores documents; answers msearch with every document (no ranking)."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}
        self.aliases: dict[str, set[str]] = {}
        self.calls: list[Any] = []
        self.indices = FakeIndices(self)
        self.bulk_errors = False

    async def bulk(self, operations: list[dict[str, Any]], refresh: Any) -> dict[str, Any]:
        self.calls.append(("bulk", len(operations) // 2, refresh))
        items = []
        for action, source in zip(operations[::2], operations[1::2], strict=True):
            spec = action["index"]
            if self.bulk_errors:
                items.append({"index": {"_id": spec["_id"], "error": {"reason": "mapper_parsing"}}})
                continue
            self.store[spec["_index"]]["docs"][spec["_id"]] = source
            items.append({"index": {"_id": spec["_id"], "result": "created"}})
        return {"errors": self.bulk_errors, "items": items}

    async def msearch(self, searches: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(("msearch", searches))
        index = next(i for i, a in self.aliases.items() if searches[0]["index"] in a)
        docs = self.store[index]["docs"]
        hits = [{"_id": k, "_score": 1.0, "_source": v} for k, v in docs.items()]
        return {"responses": [{"hits": {"hits": hits}} for _ in searches[1::2]]}

    async def close(self) -> None:
        pass


@pytest.fixture
def fake() -> FakeElasticsearch:
    return FakeElasticsearch()


async def test_open_creates_a_versioned_index_behind_the_alias_and_search_uses_the_alias(fake) -> None:  # type: ignore[no-untyped-def]
    b = ElasticBackend(fake, TinyEmbedder(), alias="kb")
    await b.open()
    (kind, name), = [c for c in fake.calls if c[0] == "create"]
    assert name.startswith("kb-v1-") and fake.aliases[name] == {"kb"}
    await b.upsert_many([Doc("p", "reset pin", ["pin forgotten"]), Doc("r", "refund time")])
    assert ("bulk", 2, "wait_for") in fake.calls
    hits = await b.search("my pin", {"status": "published"}, k=2)
    assert hits[0].doc_id == "p"
    searches = [c for c in fake.calls if c[0] == "msearch"][0][1]
    assert searches[0] == {"index": "kb"} and "knn" in searches[1] and "query" in searches[3]


async def test_a_model_change_builds_a_new_index_and_swaps_the_alias_when_complete(fake) -> None:  # type: ignore[no-untyped-def]
    first = ElasticBackend(fake, TinyEmbedder(), alias="kb")
    await first.open()
    old = first.target
    await first.write_stamp("1:aa")
    other = TinyEmbedder()
    other.name = "tiny-v2"
    second = ElasticBackend(fake, other, alias="kb")
    await second.open()
    assert second.target != old and fake.aliases[old] == {"kb"}, "alias stays until complete"
    assert await second.read_stamp() is None
    await second.upsert_many([Doc("p", "reset pin")])
    await second.write_stamp("1:bb")
    assert fake.aliases[second.target] == {"kb"} and old not in fake.aliases
    assert ("delete_index", old) in fake.calls
    assert await second.read_stamp() == "1:bb"


async def test_rejected_bulk_items_raise_with_their_ids(fake) -> None:  # type: ignore[no-untyped-def]
    b = ElasticBackend(fake, TinyEmbedder(), alias="kb")
    await b.open()
    fake.bulk_errors = True
    with pytest.raises(KbError) as err:
        await b.upsert_many([Doc("p", "reset pin")])
    assert err.value.details["failed"] == ["p"] and "mapper_parsing" in err.value.detail
