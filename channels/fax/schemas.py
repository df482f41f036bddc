"""The fax channel's response models (``/api/fax/*``)."""

from __future__ import annotations

from typing import Any, Literal

from hub.api.schemas import Epoch, ResponseModel

JobStatus = Literal["queued", "sending", "sent", "failed", "cancelled"]


class InboundFax(ResponseModel):
    """The provider webhook's answer (201 stored, 200 a retried delivery of one stored before)."""

    fax_id: str
    conversation_id: str | None
    pages: int
    duplicate: bool


class FaxPage(ResponseModel):
    page_no: int
    width: int
    height: int
    ocr_text: str | None
    image_url: str
    thumb_url: str


class FaxDocument(ResponseModel):
    id: str
    direction: Literal["in", "out"]
    # webhook | email | text | pdf | template | library | reply
    source: str
    # received | routed | ready
    status: str
    from_number: str | None
    to_number: str | None
    provider_id: str | None
    page_count: int
    original_type: str
    original_size: int
    # pending | done | failed | off
    ocr_status: str
    conversation_id: str | None
    created_at: Epoch
    meta: dict[str, Any]
    original_url: str


class FaxDetail(FaxDocument):
    pages: list[FaxPage]


class FaxJobRef(ResponseModel):
    to: str
    status: JobStatus


class FaxSearchHit(FaxDocument):
    # the OCR text around the match ("p. 2: …"), when searched by text
    match: str | None
    # the first 20 numbers it was sent to, and how many
    jobs: list[FaxJobRef]
    job_count: int


class FaxSearch(ResponseModel):
    items: list[FaxSearchHit]


class ConversationFaxes(ResponseModel):
    conversation_id: str
    faxes: list[FaxDetail]


class FaxJob(ResponseModel):
    id: str
    document_id: str
    bulk_id: str | None
    to_number: str
    status: JobStatus
    gateway: str | None
    gateway_ref: str | None
    attempts: int
    error: str | None
    created_at: Epoch
    updated_at: Epoch


class FaxJobs(ResponseModel):
    jobs: list[FaxJob]


class FaxJobList(ResponseModel):
    items: list[FaxJob]


class FaxBulkCounts(ResponseModel):
    queued: int
    sending: int
    sent: int
    failed: int
    cancelled: int


class FaxBulk(ResponseModel):
    id: str
    name: str
    document_id: str
    status: Literal["running", "done", "cancelled"]
    total: int
    created_by: str | None
    created_at: Epoch
    finished_at: Epoch | None
    counts: FaxBulkCounts


class FaxBulks(ResponseModel):
    items: list[FaxBulk]


class LibraryItem(ResponseModel):
    id: str
    # what a caller keys in (fax on demand)
    code: str
    title: str
    description: str
    document_id: str
    page_count: int
    created_at: Epoch
    updated_at: Epoch


class Library(ResponseModel):
    items: list[LibraryItem]


class Deleted(ResponseModel):
    deleted: bool
