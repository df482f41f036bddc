"""The SMS channel's response models (``/api/sms/*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.api.schemas import Epoch, ResponseModel

SmsStatus = Literal["received", "routed", "answered", "pending", "queued", "sent", "delivered", "failed",
                    "skipped", "cancelled"]
KeywordAction = Literal["reply", "balance", "stop", "start"]


class SmsRecord(ResponseModel):
    """One SMS in or out (``sms_messages``)."""

    id: str
    direction: Literal["in", "out"]
    # the customer's number (E.164) and ours
    phone: str
    our_number: str
    body: str
    encoding: Literal["gsm7", "ucs2"]
    segments: int
    status: SmsStatus
    # conversation | keyword | bulk
    kind: str
    conversation_id: str | None
    message_id: str | None
    bulk_job_id: str | None
    # the self-service keyword it matched
    keyword: str | None
    attempts: int
    error: str | None
    created_at: Epoch
    updated_at: Epoch


class SmsConversation(ResponseModel):
    conversation_id: str
    phone: str | None
    max_segments: int
    messages: list[SmsRecord]


class Segments(ResponseModel):
    encoding: Literal["gsm7", "ucs2"]
    units: int
    segments: int
    per_segment: int
    remaining: int


class SmsBulkCounts(ResponseModel):
    waiting: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    cancelled: int


class SmsBulkJob(ResponseModel):
    id: str
    name: str
    template: str
    status: Literal["scheduled", "running", "done", "cancelled"]
    created_by: str | None
    total: int
    scheduled_at: Epoch | None
    created_at: Epoch
    started_at: Epoch | None
    finished_at: Epoch | None
    duplicates: int
    counts: SmsBulkCounts


class SmsBulkJobs(ResponseModel):
    items: list[SmsBulkJob]


class KeywordRule(ResponseModel):
    keyword: str
    action: KeywordAction
    reply: str
    fallback: str | None
    enabled: bool


class KeywordRules(ResponseModel):
    items: list[KeywordRule]


class Deleted(ResponseModel):
    deleted: bool


class OptOut(ResponseModel):
    phone: str
    keyword: str | None
    source: str
    created_at: Epoch


class OptOuts(ResponseModel):
    items: list[OptOut]


class SmsLog(ResponseModel):
    items: list[SmsRecord]


class SmsCounts(ResponseModel):
    # messages by status, in each direction
    in_: dict[str, int] = Field(alias="in")
    out: dict[str, int]


class SmsGatewayStatus(ResponseModel):
    # kannel | smpp | the name of another gateway
    gateway: str
    # Kannel's sendsms URL
    url: str | None = None
    # SMPP: the SMSC and whether the session is bound
    smsc: str | None = None
    bound: bool | None = None
    last_error: str | None = None
    counts: SmsCounts
