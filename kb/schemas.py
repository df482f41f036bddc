"""Request bodies and query strings of the knowledge-base API (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleIn(_Strict):
    question: str = Field(min_length=1, max_length=500)
    alternatives: list[str] = Field(default_factory=list, max_length=50)
    answer_html: str = Field(default="", max_length=100_000)
    category: str = Field(default="", max_length=100)
    product: str = Field(default="", max_length=100)
    keywords: list[str] = Field(default_factory=list, max_length=50)
    language: str = Field(default="", max_length=16)
    status: Literal["draft", "published"] = "draft"
    owner_id: str | None = None


class ArticlePatch(_Strict):
    question: str | None = Field(default=None, min_length=1, max_length=500)
    alternatives: list[str] | None = Field(default=None, max_length=50)
    answer_html: str | None = Field(default=None, max_length=100_000)
    category: str | None = Field(default=None, max_length=100)
    product: str | None = Field(default=None, max_length=100)
    keywords: list[str] | None = Field(default=None, max_length=50)
    language: str | None = Field(default=None, max_length=16)
    owner_id: str | None = None
    version: int | None = Field(default=None, ge=1, description="the version the editor loaded")


class FeedbackIn(_Strict):
    helpful: bool
    comment: str | None = Field(default=None, max_length=2000)
    conversation_id: str | None = Field(default=None, max_length=32)


class UsageIn(_Strict):
    kind: Literal["viewed", "suggested", "inserted", "bot_answered"]
    conversation_id: str | None = Field(default=None, max_length=32)


class GapIn(_Strict):
    question: str = Field(min_length=1, max_length=1000)
    conversation_id: str | None = Field(default=None, max_length=32)
    channel: str = Field(default="chat", max_length=16)


class GapResolveIn(_Strict):
    article_id: str | None = None
    add_phrasing: bool = True
    create: dict[str, Any] | None = None


class PreviewIn(_Strict):
    answer_html: str = Field(max_length=100_000)


class ListQuery(_Strict):
    status: Literal["draft", "published", "archived"] | None = None
    category: str | None = None
    product: str | None = None
    q: str | None = Field(default=None, max_length=200)
    favourites: bool = False
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class HotQuery(_Strict):
    days: float = Field(default=7.0, gt=0, le=365)
    limit: int = Field(default=10, ge=1, le=50)


class DiffQuery(_Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: int = Field(alias="from", ge=1)
    to: int = Field(ge=1)


class GapQuery(_Strict):
    status: Literal["open", "resolved", "dismissed"] | None = "open"
    limit: int = Field(default=100, ge=1, le=500)


class ExportQuery(_Strict):
    format: Literal["csv", "json", "markdown"] = "json"
    status: Literal["draft", "published", "archived"] | None = None
