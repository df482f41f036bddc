"""The FAQ as assist sees it: an adapter over the ``kb`` port (:class:`hub.ports.KnowledgeBase`:
``search``, ``get``, ``record_usage``, ``record_usage_many``, ``record_gap``, the index's
``ready``) that the ``kb`` component provides. Search hits are read by name (attribute or
mapping), so the adapter does not depend on the knowledge base's classes."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from hub.ports import KnowledgeBase

_TAG = re.compile(r"<[^>]+>")


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict):
            if name in obj and obj[name] is not None:
                return obj[name]
        elif getattr(obj, name, None) is not None:
            return getattr(obj, name)
    return default


def html_to_text(markup: str) -> str:
    text = re.sub(r"<\s*(br|/p|/li|/div)\s*/?>", "\n", markup, flags=re.IGNORECASE)
    return re.sub(r"\n{3,}", "\n\n", html.unescape(_TAG.sub("", text))).strip()


@dataclass(frozen=True, slots=True)
class FaqHit:
    article_id: str
    question: str
    answer: str  # plain text, ready to insert into a reply
    answer_html: str
    score: float  # the fused score (the scale the bot threshold is calibrated on)
    confidence: float  # 0..1 for people
    category: str = ""
    highlights: dict[str, str] = field(default_factory=dict)
    #: "hybrid" (embeddings + BM25: ``score`` is on the calibrated cosine scale) or "lexical"
    #: (the model does not cover the query's language; ``confidence`` is word coverage)
    mode: str = "hybrid"
    margin: float | None = None  # lead of this hit's score over the next one, when known

    def public(self, snippet: int = 280) -> dict[str, Any]:
        out = asdict(self)
        out["snippet"] = self.answer if len(self.answer) <= snippet else \
            self.answer[:snippet].rsplit(" ", 1)[0] + "…"
        out["score"] = round(self.score, 4)
        out["confidence"] = round(self.confidence, 3)
        return out


def hit_from_kb(hit: Any) -> FaqHit:
    answer = _get(hit, "answer", default="")
    text = _get(hit, "answer_text", default=None)
    markup = _get(hit, "answer_html", default=None)
    if isinstance(answer, dict):
        text = text or answer.get("text")
        markup = markup or answer.get("html")
    elif isinstance(answer, str):
        if text is None:
            text = html_to_text(answer) if "<" in answer else answer
        markup = markup or answer
    if not text and markup:
        text = html_to_text(markup)
    score = float(_get(hit, "score", default=0.0))
    conf = _get(hit, "confidence", default=None)
    if isinstance(conf, int | float):
        confidence = float(conf)
    elif conf is not None:  # a Confidence-like object
        confidence = float(_get(conf, "score", "value", default=score))
    else:
        confidence = score
    return FaqHit(
        article_id=str(_get(hit, "article_id", "id", "doc_id")),
        question=str(_get(hit, "question", "title", default="")),
        answer=text or "", answer_html=markup or html.escape(text or ""),
        score=score, confidence=max(0.0, min(1.0, confidence)),
        category=str(_get(hit, "category", default="") or ""),
        highlights=dict(_get(hit, "highlights", default={}) or {}),
        mode=str(_get(hit, "mode", default="hybrid")),
        margin=float(m) if isinstance(m := _get(hit, "margin", default=None), int | float) else None)


class Faq:
    """Adapter over the knowledge-base service."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def ready(self) -> bool:
        """Whether the search index answers now (it opens in the background at start-up)."""
        return self.kb.index.ready

    async def search(self, query: str, limit: int = 5) -> list[FaqHit]:
        hits = await self.kb.search(query, limit=limit, published_only=True)
        return [hit_from_kb(h) for h in hits]

    async def record_usage(self, article_id: str, *, conversation_id: str | None,
                           user_id: str | None, kind: str) -> None:
        await self.kb.record_usage(article_id, conversation_id=conversation_id, user_id=user_id,
                                   kind=kind)

    async def record_usage_many(self, article_ids: list[str], *, conversation_id: str | None,
                                user_id: str | None, kind: str) -> None:
        """Several uses at once (one suggestion set): written together by the knowledge base."""
        await self.kb.record_usage_many(article_ids, conversation_id=conversation_id,
                                        user_id=user_id, kind=kind)

    async def record_gap(self, question: str, *, conversation_id: str | None, channel: str) -> None:
        await self.kb.record_gap(question, conversation_id=conversation_id, channel=channel)

    async def get(self, article_id: str) -> dict[str, Any]:
        return dict(await self.kb.get(article_id))
