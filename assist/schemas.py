"""Assist's response models (``/api/assist/*`` and the widget's hand-over)."""

from __future__ import annotations

from typing import Literal

from hub.api.responses import ConversationStatus, Sender
from hub.api.schemas import Epoch, ResponseModel


class AssistSuggestion(ResponseModel):
    """One FAQ article suggested for the conversation."""

    article_id: str
    question: str
    # plain text, ready to insert into a reply
    answer: str
    answer_html: str
    # the fused score (the scale the bot threshold is calibrated on) and a 0..1 confidence
    score: float
    confidence: float
    category: str
    highlights: dict[str, str]
    mode: Literal["hybrid", "lexical"]
    margin: float | None
    snippet: str
    # the score clears the bot's calibrated threshold
    confident: bool


class AssistSuggestions(ResponseModel):
    conversation_id: str
    # the customer text searched, and when (None: nothing searched yet)
    query: str | None
    at: Epoch | None
    suggestions: list[AssistSuggestion]


class AssistEntity(ResponseModel):
    kind: Literal["email", "account", "date", "amount", "phone", "address"]
    # exactly the message's text[start:end], and its normalised value
    text: str
    value: str
    start: int
    end: int
    message_id: str
    sender: Sender


class AssistEntities(ResponseModel):
    items: list[AssistEntity]


class SummarySentence(ResponseModel):
    sender: Sender
    text: str
    score: float


class AssistSummary(ResponseModel):
    text: str
    sentences: list[SummarySentence]


class CategorySuggestion(ResponseModel):
    category: str
    # share (0..1) of the nearest labelled conversations' vote
    score: float
    neighbours: int


class CategorySuggestions(ResponseModel):
    items: list[CategorySuggestion]
    # labelled conversations the suggestions come from
    examples: int


class AssistPanel(ResponseModel):
    conversation_id: str
    # a knowledge base is there to suggest from
    kb: bool
    suggestions: AssistSuggestions
    entities: list[AssistEntity]
    summary: AssistSummary
    categories: list[CategorySuggestion]


class InsertedAnswer(ResponseModel):
    article_id: str
    question: str
    text: str
    html: str


class SuggestionLoad(ResponseModel):
    searches: int
    skipped_inactive: int
    coalesced: int
    dropped: int
    pending: int
    running: int
    max_pending: int
    concurrency: int
    cpu_share: float


class AssistStatus(ResponseModel):
    kb: bool
    # why there is no knowledge base, when there is none
    reason: str | None
    bot_enabled: bool
    bot_queues: list[str]
    bot_threshold: float | None
    bot_margin: float | None
    bot_calibration: str | None
    category_examples: int
    suggestions: SuggestionLoad | None


class HandoverResult(ResponseModel):
    status: ConversationStatus
