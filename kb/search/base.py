"""The search port: one narrow interface, one results contract, one error family.

Every backend (the embedded SQLite FTS5 + numpy default, Elasticsearch later) implements
:class:`SearchBackend` and returns :class:`Hit` objects ordered best first. Dense embeddings come
through the :class:`Embedder` port so the backends never import a model library themselves.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Fields a search may be filtered on (exact match). Anything else is ``unknown_filter``.
FILTER_FIELDS: tuple[str, ...] = ("category", "product", "status")
#: Longest query accepted, in characters (after stripping). Longer is ``query_too_long``.
MAX_QUERY_CHARS = 1000
#: Largest ``k`` a caller may ask for.
MAX_K = 1000


# --------------------------------------------------------------------------- errors


class KbError(Exception):
    """Root of every error the knowledge-base search reports. ``code`` is part of the API."""

    code = "kb_error"
    status = 500
    title = "Knowledge base error"

    def __init__(self, detail: str = "", *, details: dict[str, Any] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.details = details or {}

    def problem(self) -> dict[str, Any]:
        """The body of an RFC 7807-style problem response (same shape as ``hub.errors``)."""
        body: dict[str, Any] = {
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        body.update(self.details)
        return body


class EmptyQuery(KbError):
    code, status, title = "empty_query", 422, "The search query is empty"


class QueryTooLong(KbError):
    code, status, title = "query_too_long", 422, "The search query is too long"


class UnknownFilter(KbError):
    code, status, title = "unknown_filter", 422, "Unknown search filter"


class InvalidDoc(KbError):
    code, status, title = "invalid_doc", 422, "Invalid article for indexing"


class ModelMissing(KbError):
    code, status, title = "model_missing", 503, "The embedding model is not installed"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Doc:
    """What the search index knows about one FAQ article (the latest indexed version)."""

    id: str
    question: str
    alternatives: list[str] = field(default_factory=list)
    answer: str = ""
    category: str = ""
    product: str = ""
    status: str = "published"
    keywords: list[str] = field(default_factory=list)

    def phrasings(self) -> list[str]:
        """The question first, then every non-blank alternative phrasing."""
        out = [self.question.strip()] if self.question.strip() else []
        out.extend(a.strip() for a in self.alternatives if a and a.strip())
        return out

    def fingerprint(self) -> str:
        """A hash of everything the index stores about the article (compares index and DB)."""
        data = [self.id, self.question, list(self.alternatives), self.answer, self.category,
                self.product, self.status, list(self.keywords)]
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    def validate(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidDoc("an article needs a non-empty string id", details={"id": self.id})
        if not self.phrasings():
            raise InvalidDoc("an article needs a question", details={"id": self.id})


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result. ``score`` is the fused score the results are ordered by;
    ``bm25`` (raw, >= 0, 0 when no lexical match) and ``dense`` (max cosine over the article's
    phrasings, -1..1) are the parts; ``highlights`` maps a field name to an HTML-safe fragment
    with the matched terms in ``<mark>``."""

    doc_id: str
    score: float
    bm25: float
    dense: float
    highlights: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- ports


class Embedder(abc.ABC):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    #: A stable name of the model (stored with persisted vectors).
    name: str = "embedder"

    @property
    @abc.abstractmethod
    def dimension(self) -> int: ...

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape ``(len(texts), dimension)``, dtype float32, rows of norm 1."""

    def covers(self, text: str) -> bool:
        """Whether the model understands ``text``'s language (else search ranks lexically)."""
        return True

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`encode` for article phrasings being indexed (an embedder may reuse the vectors
        of phrasings it embedded before: an edit re-embeds only what changed). Queries always
        go through :meth:`encode`."""
        return self.encode(texts)


class SearchBackend(abc.ABC):
    """The knowledge-base search port."""

    @abc.abstractmethod
    def index(self, docs: Iterable[Doc]) -> None:
        """Add or replace many articles at once (batched embedding)."""

    @abc.abstractmethod
    def upsert(self, doc: Doc) -> None:
        """Add or replace one article without touching the others."""

    @abc.abstractmethod
    def delete(self, doc_id: str) -> bool:
        """Remove one article; return whether it was there."""

    @abc.abstractmethod
    def search(self, query: str, filters: Mapping[str, str] | None = None,
               k: int = 10) -> list[Hit]:
        """Best ``k`` articles for ``query`` that match every filter, best first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources and persist whatever needs persisting."""


class AsyncSearchBackend(abc.ABC):
    """The port the knowledge-base service uses (async; what a running hub talks to).

    The embedded backend is adapted to it by running its CPU-bound calls in a worker thread
    (:class:`kb.search.embedded.AsyncEmbeddedBackend`); Elasticsearch implements it natively
    (:class:`kb.search.elastic.ElasticBackend`). Both return the same :class:`Hit` contract.

    The *stamp* is an opaque string the index keeps for its owner (the sync layer stores a
    checksum of the articles it holds there, so a start-up can tell whether the index is current
    without reading it all); :meth:`fingerprints` is the slow path that reads every article's
    :meth:`Doc.fingerprint`.
    """

    name: str = "backend"

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Create or attach to the index (idempotent)."""

    @abc.abstractmethod
    async def upsert_many(self, docs: Sequence[Doc]) -> None:
        """Add or replace these articles (one batched embedding), leaving the others alone."""

    @abc.abstractmethod
    async def delete(self, doc_id: str) -> bool: ...

    @abc.abstractmethod
    async def search(self, query: str, filters: Mapping[str, str] | None = None,
                     k: int = 10) -> list[Hit]: ...

    @abc.abstractmethod
    async def get(self, doc_id: str) -> Doc | None: ...

    @abc.abstractmethod
    async def fingerprints(self) -> dict[str, str]:
        """``{doc_id: Doc.fingerprint()}`` of every indexed article."""

    @abc.abstractmethod
    async def read_stamp(self) -> str | None: ...

    @abc.abstractmethod
    async def write_stamp(self, stamp: str) -> None: ...

    @abc.abstractmethod
    async def count(self) -> int: ...

    def lexical_only(self, query: str) -> bool:
        """Whether ``query`` is ranked by BM25 alone (the model does not cover its language)."""
        return False

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources, persist what needs persisting."""


# --------------------------------------------------------------------------- shared validation


def check_query(query: object) -> str:
    """Strip ``query`` and reject empty or huge ones with stable codes."""
    if not isinstance(query, str) or not query.strip():
        raise EmptyQuery("type a question to search the knowledge base")
    q = query.strip()
    if len(q) > MAX_QUERY_CHARS:
        raise QueryTooLong(
            f"the query has {len(q)} characters; at most {MAX_QUERY_CHARS} are accepted",
            details={"length": len(q), "max_length": MAX_QUERY_CHARS},
        )
    return q


def check_filters(filters: Mapping[str, object] | None) -> dict[str, str]:
    """Return the non-empty filters; an unknown key raises ``unknown_filter``."""
    if not filters:
        return {}
    unknown = sorted(str(key) for key in filters if key not in FILTER_FIELDS)
    if unknown:
        raise UnknownFilter(
            f"unknown filter {', '.join(unknown)}; allowed: {', '.join(FILTER_FIELDS)}",
            details={"unknown": unknown, "allowed": list(FILTER_FIELDS)},
        )
    out: dict[str, str] = {}
    for key, value in filters.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise UnknownFilter(f"filter {key} must be a string",
                                details={"filter": key})
        out[key] = value
    return out


def check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise KbError("k must be a positive integer", details={"k": k})
    return min(k, MAX_K)
