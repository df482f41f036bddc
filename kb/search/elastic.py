"""The Elasticsearch backend (official ``elasticsearch`` client, async), same results contract as
the embedded one.

* **Index and alias.** Searches go through an alias (``hub-kb`` by default); behind it is a
  versioned index ``<alias>-v<schema>-<millis>`` whose mapping ``_meta`` records the schema, the
  embedding model and its dimension. ``open()`` creates the first index and the alias; when the
  stored schema or model differ it creates a fresh index, the sync layer re-indexes into it, and
  the alias is swapped (atomically, ``update_aliases``) and the old index deleted when the sync
  layer writes its stamp — so searches never see a half-built index.
* **Text.** Tokenisation is ours (``kb.search.text``): CJK is segmented with jieba and joined
  with zero-width spaces, which the index's ``kb_text`` analyzer maps to spaces before a
  letters/digits pattern tokenizer — the same tokens as the embedded FTS5 index, no ES plugin.
* **Vectors.** Each phrasing is a nested ``dense_vector`` (cosine, HNSW); the article's
  centroid is stored unindexed. A search runs two requests in one ``_msearch`` — nested kNN over
  the phrasings and BM25 over phrasings/keywords/answer (weights as the embedded backend),
  both with the filters — and the candidates' vectors come back in ``_source``, so the dense
  score (max cosine over phrasings) and the centroid cosine are computed exactly as the embedded
  backend does and fused by the same :class:`~kb.search.fusion.Fusion`.
* **Writes** are ``_bulk`` requests (one per batch) with ``refresh=wait_for`` by default so a
  saved article is searchable when the call returns.

Needs Elasticsearch 8.11 or newer (nested kNN) and a client of the server's major version.
Request bodies and response parsing are pure functions below (unit-tested without a server).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kb.search.base import (
    AsyncSearchBackend,
    Doc,
    Embedder,
    Hit,
    KbError,
    check_filters,
    check_k,
    check_query,
)
from kb.search.fusion import BM25Only, Fusion, default_fusion
from kb.search.text import query_terms, segment_for_fts, unsegment

SCHEMA = "1"
INSTALL_HINT = "pip install 'elasticsearch>=8.13'"
#: BM25 field weights (as the embedded backend's FTS5 column weights)
BM25_FIELDS = ("phrases^1", "keywords_text^1", "answer_text^0.3")
SOURCE_FIELDS = ("doc_id", "question", "alternatives", "answer", "category", "product", "status",
                 "keywords", "fingerprint", "phrasings", "centroid")
_HIGHLIGHT_FIELD = {"phrases": "question", "answer_text": "answer", "keywords_text": "keywords"}


class SearchBackendUnavailable(KbError):
    code, status, title = "search_backend_unavailable", 503, "The search backend is unavailable"


# ----------------------------------------------------------------------------- request bodies


def index_settings() -> dict[str, Any]:
    return {"analysis": {
        "char_filter": {"kb_joiner": {"type": "mapping", "mappings": ["\\u200B=>\\u0020"]}},
        "tokenizer": {"kb_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}']+"}},
        "analyzer": {"kb_text": {"type": "custom", "char_filter": ["kb_joiner"],
                                 "tokenizer": "kb_words", "filter": ["lowercase"]}},
    }}


def index_mapping(dims: int, model: str) -> dict[str, Any]:
    raw = {"type": "keyword", "index": False, "doc_values": False}
    return {
        "dynamic": "strict",
        "_meta": {"schema": SCHEMA, "model": model, "dims": dims},
        "properties": {
            "doc_id": {"type": "keyword"},
            "category": {"type": "keyword"},
            "product": {"type": "keyword"},
            "status": {"type": "keyword"},
            "fingerprint": {"type": "keyword"},
            "question": raw, "alternatives": raw, "keywords": raw,
            "answer": {"type": "text", "index": False},
            "phrases": {"type": "text", "analyzer": "kb_text"},
            "keywords_text": {"type": "text", "analyzer": "kb_text"},
            "answer_text": {"type": "text", "analyzer": "kb_text"},
            "phrasings": {"type": "nested", "properties": {
                "vector": {"type": "dense_vector", "dims": dims, "index": True,
                           "similarity": "cosine"}}},
            "centroid": {"type": "dense_vector", "dims": dims, "index": False},
        },
    }


def doc_source(doc: Doc, vectors: np.ndarray) -> dict[str, Any]:
    """The stored document of one article; ``vectors`` = one normalised row per phrasing."""
    mean = vectors.mean(axis=0) if len(vectors) else np.zeros(vectors.shape[1], np.float32)
    norm = float(np.linalg.norm(mean))
    centroid = mean / norm if norm > 0 else mean
    return {
        "doc_id": doc.id, "question": doc.question, "alternatives": list(doc.alternatives),
        "answer": doc.answer, "category": doc.category, "product": doc.product,
        "status": doc.status, "keywords": list(doc.keywords), "fingerprint": doc.fingerprint(),
        "phrases": "\n".join(segment_for_fts(p) for p in doc.phrasings()),
        "keywords_text": segment_for_fts(" ".join(doc.keywords)),
        "answer_text": segment_for_fts(doc.answer),
        "phrasings": [{"vector": [float(x) for x in v]} for v in vectors],
        "centroid": [float(x) for x in centroid],
    }


def bulk_operations(index: str, docs: Sequence[Doc], vectors: np.ndarray) -> list[dict[str, Any]]:
    """``_bulk`` body: an ``index`` action and its source per article (``vectors`` holds the
    rows of every article's phrasings, in order)."""
    ops: list[dict[str, Any]] = []
    offset = 0
    for doc in docs:
        n = len(doc.phrasings())
        ops.append({"index": {"_index": index, "_id": doc.id}})
        ops.append(doc_source(doc, vectors[offset:offset + n]))
        offset += n
    return ops


def _filter_clauses(filters: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"term": {field: value}} for field, value in sorted(filters.items())]


def knn_body(qvec: np.ndarray, filters: Mapping[str, str], n: int) -> dict[str, Any]:
    knn: dict[str, Any] = {"field": "phrasings.vector",
                           "query_vector": [float(x) for x in qvec],
                           "k": n, "num_candidates": max(2 * n, 100)}
    clauses = _filter_clauses(filters)
    if clauses:
        knn["filter"] = clauses
    return {"knn": knn, "size": n, "_source": list(SOURCE_FIELDS)}


def bm25_body(query: str, filters: Mapping[str, str], n: int) -> dict[str, Any] | None:
    """BM25 over the text fields, or ``None`` when the query has no searchable word."""
    terms = list(dict.fromkeys(query_terms(query)))
    if not terms:
        return None
    boolean: dict[str, Any] = {
        "should": [{"multi_match": {"query": " ".join(terms), "fields": list(BM25_FIELDS),
                                    "type": "most_fields", "operator": "or"}}],
        "minimum_should_match": 1}
    clauses = _filter_clauses(filters)
    if clauses:
        boolean["filter"] = clauses
    return {
        "query": {"bool": boolean}, "size": n, "_source": list(SOURCE_FIELDS),
        "highlight": {"encoder": "html", "pre_tags": ["<mark>"], "post_tags": ["</mark>"],
                      "fields": {"phrases": {"number_of_fragments": 1, "fragment_size": 150},
                                 "answer_text": {"number_of_fragments": 1, "fragment_size": 150},
                                 "keywords_text": {"number_of_fragments": 0}}},
    }


# ----------------------------------------------------------------------------- response parsing


def _response_hits(response: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "error" in response:
        err = response["error"]
        reason = err.get("reason") if isinstance(err, Mapping) else str(err)
        raise SearchBackendUnavailable(f"elasticsearch rejected the search: {reason}",
                                       details={"error": err})
    return list(response.get("hits", {}).get("hits", []))


def source_to_doc(source: Mapping[str, Any]) -> Doc:
    return Doc(id=source["doc_id"], question=source["question"],
               alternatives=list(source.get("alternatives") or []),
               answer=source.get("answer") or "", category=source.get("category") or "",
               product=source.get("product") or "", status=source.get("status") or "",
               keywords=list(source.get("keywords") or []))


def _highlights(hit: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, fragments in (hit.get("highlight") or {}).items():
        name = _HIGHLIGHT_FIELD.get(field)
        if name and fragments:
            out[name] = unsegment(fragments[0])
    return out


def parse_search(knn_response: Mapping[str, Any] | None, bm25_response: Mapping[str, Any] | None,
                 qvec: np.ndarray, fusion: Fusion, k: int) -> list[Hit]:
    """Merge the two candidate lists, compute the dense parts from the returned vectors, fuse."""
    sources: dict[str, Mapping[str, Any]] = {}
    lexical: dict[str, float] = {}
    marks: dict[str, dict[str, str]] = {}
    for hit in _response_hits(knn_response) if knn_response is not None else []:
        sources.setdefault(hit["_source"]["doc_id"], hit["_source"])
    for hit in _response_hits(bm25_response) if bm25_response is not None else []:
        doc_id = hit["_source"]["doc_id"]
        sources.setdefault(doc_id, hit["_source"])
        lexical[doc_id] = max(float(hit.get("_score") or 0.0), 0.0)
        marks[doc_id] = _highlights(hit)
    if not sources:
        return []
    ids = list(sources)
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    dense = np.empty(len(ids), dtype=np.float64)
    centroid = np.empty(len(ids), dtype=np.float64)
    for i, doc_id in enumerate(ids):
        src = sources[doc_id]
        vecs = np.asarray([p["vector"] for p in src.get("phrasings") or []], dtype=np.float32)
        dense[i] = float((vecs @ q).max()) if len(vecs) else -1.0
        cen = np.asarray(src.get("centroid") or [], dtype=np.float32)
        centroid[i] = float(cen @ q) if len(cen) == len(q) else dense[i]
    bm25 = np.array([lexical.get(i, 0.0) for i in ids], dtype=np.float64)
    fused = fusion.fuse(bm25, dense, centroid)
    order = np.argsort(-fused, kind="stable")[:k]
    return [Hit(doc_id=ids[i], score=float(fused[i]), bm25=float(bm25[i]), dense=float(dense[i]),
                highlights=marks.get(ids[i], {}) if bm25[i] > 0 else {}) for i in order]


# ----------------------------------------------------------------------------- the backend


class ElasticBackend(AsyncSearchBackend):
    name = "elasticsearch"

    def __init__(self, client: Any, embedder: Embedder, *, alias: str = "hub-kb",
                 fusion: Fusion | None = None, candidates: int = 100,
                 refresh: str | bool = "wait_for") -> None:
        self.client = client
        self.embedder = embedder
        self.alias = alias
        self.fusion = fusion or default_fusion()
        self.candidates = candidates
        self.refresh = refresh
        self._target: str | None = None  # the index writes go to
        self._swap_from: str | None = None  # set while a rebuilt index waits for the alias
        self._meta: dict[str, Any] = {}

    @classmethod
    def from_url(cls, url: str, embedder: Embedder, *, alias: str = "hub-kb",
                 api_key: str | None = None, timeout_s: float = 10.0,
                 **options: Any) -> ElasticBackend:
        try:
            from elasticsearch import AsyncElasticsearch
        except ImportError as err:
            raise SearchBackendUnavailable(
                f"the Elasticsearch backend needs the client: {INSTALL_HINT}",
                details={"install": INSTALL_HINT}) from err
        client = AsyncElasticsearch(url, api_key=api_key, request_timeout=timeout_s)
        return cls(client, embedder, alias=alias, **options)

    # ------------------------------------------------------------------ plumbing
    async def _call(self, what: str, coro: Any) -> Any:
        from elastic_transport import ApiError, TransportError

        try:
            return await coro
        except ApiError as err:
            raise SearchBackendUnavailable(f"elasticsearch {what} failed: {err}",
                                           details={"upstream_status": getattr(err, "status_code", None)}
                                           ) from err
        except TransportError as err:
            raise SearchBackendUnavailable(f"cannot reach elasticsearch ({what}): {err}") from err

    @staticmethod
    def _body(response: Any) -> Any:
        return getattr(response, "body", response)

    async def _encode(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embedder.encode, texts)

    @property
    def target(self) -> str:
        if self._target is None:
            raise KbError("the Elasticsearch index is not open")
        return self._target

    def _wanted_meta(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "model": self.embedder.name, "dims": self.embedder.dimension}

    async def _create_index(self) -> str:
        # a time for people, a random part so two builds in the same millisecond never collide
        name = f"{self.alias}-v{SCHEMA}-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
        dims = await asyncio.to_thread(lambda: self.embedder.dimension)
        await self._call("create index", self.client.indices.create(
            index=name, settings=index_settings(), mappings=index_mapping(dims, self.embedder.name)))
        return name

    async def open(self) -> None:
        if self._target is not None:
            return
        from elasticsearch import NotFoundError

        wanted = await asyncio.to_thread(self._wanted_meta)
        try:
            aliases = self._body(await self.client.indices.get_alias(name=self.alias))
        except NotFoundError:
            aliases = {}
        except Exception as err:  # noqa: BLE001 - reported uniformly below
            await self._call("get alias", _raise(err))
        current = sorted(aliases)[-1] if aliases else None
        if current is None:
            name = await self._create_index()
            await self._call("add alias", self.client.indices.update_aliases(
                actions=[{"add": {"index": name, "alias": self.alias}}]))
            self._target, self._meta = name, dict(wanted)
            return
        mapping = self._body(await self._call("get mapping",
                                              self.client.indices.get_mapping(index=current)))
        meta = dict(mapping.get(current, {}).get("mappings", {}).get("_meta") or {})
        if all(meta.get(k) == v for k, v in wanted.items()):
            self._target, self._meta = current, meta
            return
        # another schema or model: build a fresh index; the alias moves when it is complete
        self._target, self._swap_from, self._meta = await self._create_index(), current, dict(wanted)

    # ------------------------------------------------------------------ writes
    async def upsert_many(self, docs: Sequence[Doc]) -> None:
        docs = list(docs)
        if not docs:
            return
        for doc in docs:
            doc.validate()
        vectors = await asyncio.to_thread(self.embedder.encode_documents,
                                          [p for d in docs for p in d.phrasings()])
        ops = bulk_operations(self.target, docs, vectors)
        resp = self._body(await self._call("bulk index", self.client.bulk(
            operations=ops, refresh=self.refresh)))
        if resp.get("errors"):
            failed = [item for item in resp.get("items", [])
                      if next(iter(item.values())).get("error")]
            first = next(iter(failed[0].values())) if failed else {}
            raise SearchBackendUnavailable(
                f"elasticsearch rejected {len(failed)} of {len(docs)} articles: "
                f"{(first.get('error') or {}).get('reason', 'unknown reason')}",
                details={"failed": [next(iter(i.values())).get("_id") for i in failed]})

    async def delete(self, doc_id: str) -> bool:
        from elasticsearch import NotFoundError

        try:
            await self.client.delete(index=self.target, id=doc_id, refresh=self.refresh)
        except NotFoundError:
            return False
        except Exception as err:  # noqa: BLE001
            await self._call("delete", _raise(err))
        return True

    async def write_stamp(self, stamp: str) -> None:
        self._meta = {**self._meta, "stamp": stamp}
        await self._call("put mapping", self.client.indices.put_mapping(
            index=self.target, meta=self._meta))
        if self._swap_from is not None:
            old, self._swap_from = self._swap_from, None
            await self._call("swap alias", self.client.indices.update_aliases(actions=[
                {"remove": {"index": old, "alias": self.alias}},
                {"add": {"index": self.target, "alias": self.alias}}]))
            await self._call("delete old index", self.client.indices.delete(index=old))

    # ------------------------------------------------------------------ reads
    async def read_stamp(self) -> str | None:
        if self._swap_from is not None:
            return None  # a fresh index holds nothing yet
        mapping = self._body(await self._call("get mapping",
                                              self.client.indices.get_mapping(index=self.target)))
        meta = mapping.get(self.target, {}).get("mappings", {}).get("_meta") or {}
        return meta.get("stamp")

    async def fingerprints(self) -> dict[str, str]:
        out: dict[str, str] = {}
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": 1000, "sort": [{"doc_id": "asc"}],
                                    "_source": ["doc_id", "fingerprint"],
                                    "query": {"match_all": {}}}
            if after is not None:
                body["search_after"] = after
            resp = self._body(await self._call("scan", self.client.search(index=self.target,
                                                                         **body)))
            hits = _response_hits(resp)
            for h in hits:
                out[h["_source"]["doc_id"]] = h["_source"].get("fingerprint", "")
            if len(hits) < 1000:
                return out
            after = hits[-1]["sort"]

    async def get(self, doc_id: str) -> Doc | None:
        from elasticsearch import NotFoundError

        try:
            resp = self._body(await self.client.get(index=self.target, id=doc_id))
        except NotFoundError:
            return None
        except Exception as err:  # noqa: BLE001
            await self._call("get", _raise(err))
        return source_to_doc(resp["_source"])

    async def count(self) -> int:
        resp = self._body(await self._call("count", self.client.count(index=self.target)))
        return int(resp["count"])

    def lexical_only(self, query: str) -> bool:
        return not self.embedder.covers(query)

    async def search(self, query: str, filters: Mapping[str, str] | None = None,
                     k: int = 10) -> list[Hit]:
        q = check_query(query)
        wanted = check_filters(filters)
        k = check_k(k)
        n = max(self.candidates, k)
        qvec = (await self._encode([q]))[0]
        searches: list[dict[str, Any]] = [{"index": self.alias}, knn_body(qvec, wanted, n)]
        lexical = bm25_body(q, wanted, n)
        if lexical is not None:
            searches += [{"index": self.alias}, lexical]
        resp = self._body(await self._call("search", self.client.msearch(searches=searches)))
        responses = resp.get("responses", [])
        knn_resp = responses[0] if responses else None
        bm25_resp = responses[1] if lexical is not None and len(responses) > 1 else None
        fusion = BM25Only() if self.lexical_only(q) else self.fusion
        return parse_search(knn_resp, bm25_resp, qvec, fusion, k)

    async def close(self) -> None:
        await self.client.close()

    async def drop(self) -> None:
        """Delete the alias's indices (tests and administrators)."""
        from elasticsearch import NotFoundError

        try:
            aliases = self._body(await self.client.indices.get_alias(name=self.alias))
        except NotFoundError:
            aliases = {}
        for name in {*aliases, *( [self._target] if self._target else [])}:
            try:
                await self.client.indices.delete(index=name)
            except NotFoundError:
                pass
        self._target = None


async def _raise(err: BaseException) -> None:
    raise err
