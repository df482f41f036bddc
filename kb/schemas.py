"""Request bodies and query strings of the knowledge-base API (pydantic), and its answers' response
models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.api.schemas import MAX_OFFSET, Epoch, ResponseModel


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
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


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


# --- answers (response models) -----------------------------------------------------------------

KbStatus = Literal["draft", "published", "archived"]


class KbStats(ResponseModel):
    helpful: int
    not_helpful: int
    viewed: int
    suggested: int
    inserted: int
    bot_answered: int


class KbArticle(ResponseModel):
    id: str
    question: str
    # other phrasings of the question
    alternatives: list[str]
    answer_html: str
    answer_text: str
    category: str
    product: str
    keywords: list[str]
    language: str
    status: KbStatus
    owner_id: str | None
    version: int
    created_at: Epoch
    updated_at: Epoch
    published_at: Epoch | None
    updated_by: str | None
    stats: KbStats


class KbArticleView(KbArticle):
    # one of the asking user's favourites
    favourite: bool


class KbArticles(ResponseModel):
    items: list[KbArticle]
    total: int
    limit: int
    offset: int


class KbHit(ResponseModel):
    article_id: str
    question: str
    answer_text: str
    answer_html: str
    category: str
    product: str
    status: KbStatus
    language: str
    score: float
    confidence: float
    margin: float
    bm25: float
    dense: float
    mode: Literal["hybrid", "lexical"]
    # field → HTML-safe fragment with <mark>
    highlights: dict[str, str]


class KbSearch(ResponseModel):
    query: str
    # the best hit clears the bot's calibrated thresholds
    confident: bool
    hits: list[KbHit]


class KbFacets(ResponseModel):
    categories: list[str]
    products: list[str]
    statuses: dict[str, int]


class KbIndexError(ResponseModel):
    code: str
    detail: str


class KbStatusReport(ResponseModel):
    backend: str
    ready: bool
    # the last start's reconcile: mode, articles, changed …
    reconcile: dict[str, Any]
    error: KbIndexError | None = None
    indexed: int | None = None
    # usage rows buffered, written, flushes, dropped, waiting
    usage: dict[str, int]


class KbHot(ResponseModel):
    article_id: str
    question: str
    category: str
    product: str
    # uses by kind in the window
    uses: dict[str, int]
    score: int


class Favourite(ResponseModel):
    favourite: bool


class KbFeedback(ResponseModel):
    id: str
    article_id: str
    helpful: bool
    stats: KbStats


class KbGap(ResponseModel):
    id: str
    question: str
    count: int
    # asked per channel
    channels: dict[str, int]
    conversation_ids: list[str]
    first_at: Epoch
    last_at: Epoch
    status: Literal["open", "resolved", "dismissed"]
    article_id: str | None
    resolved_by: str | None
    resolved_at: Epoch | None


class KbPreview(ResponseModel):
    answer_html: str
    answer_text: str


class KbVersion(ResponseModel):
    version: int
    action: str
    note: str | None
    author_id: str | None
    created_at: Epoch
    status: KbStatus | None
    question: str | None


class KbVersionContent(ResponseModel):
    article_id: str
    version: int
    action: str
    note: str | None
    author_id: str | None
    created_at: Epoch
    # the article's content and status at that version
    snapshot: dict[str, Any]


class KbChange(ResponseModel):
    field: str
    before: str | list[str]
    after: str | list[str]
    # text fields: [operation, piece] pairs; list fields: what was added and removed
    ops: list[list[str]] | None = None
    added: list[str] | None = None
    removed: list[str] | None = None


class KbDiff(ResponseModel):
    article_id: str
    from_: int = Field(alias="from")
    to: int
    changes: list[KbChange]


class KbFeedbackArticle(ResponseModel):
    article_id: str
    question: str
    status: KbStatus
    helpful: int
    not_helpful: int
    # inserted into replies and answered by the bot
    used: int


class KbFeedbackComment(ResponseModel):
    article_id: str
    question: str
    helpful: bool
    comment: str
    user_id: str | None
    conversation_id: str | None
    at: Epoch


class KbFeedbackReport(ResponseModel):
    articles: list[KbFeedbackArticle]
    comments: list[KbFeedbackComment]


class KbImportRowError(ResponseModel):
    row: int | str
    reason: str
    question: str | None = None


class KbImportJob(ResponseModel):
    id: str
    kind: str
    format: str
    filename: str
    status: Literal["running", "done", "failed"]
    total: int
    processed: int
    created: int
    updated: int
    errors: list[KbImportRowError]
    detail: str | None
    user_id: str | None
    created_at: Epoch
    finished_at: Epoch | None
