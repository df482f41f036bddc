"""The email channel's response models (``/api/email/*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hub.api.responses import Message
from hub.api.schemas import Epoch, ResponseModel

BulkStatus = Literal["scheduled", "running", "done", "cancelled"]


class QuarantinedAttachment(ResponseModel):
    attachment_id: str
    filename: str
    # why it is kept as application/octet-stream and never inlined (safety.py), in English
    reason: str
    # the same as a code and parameters, which the UI says in the agent's language (None: a mail
    # stored before the codes)
    code: str | None = None
    params: dict[str, Any] = {}


AuthResult = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"]


class SenderAuthentication(ResponseModel):
    """What the receiving relay's ``Authentication-Results`` header says (RFC 8601)."""

    authserv_id: str
    spf: AuthResult
    dkim: AuthResult
    dmarc: AuthResult


class EmailView(ResponseModel):
    """One message's email: headers, sanitised HTML and delivery state."""

    message_id: str
    conversation_id: str
    direction: Literal["in", "out"]
    rfc_message_id: str
    subject: str | None
    from_: str | None = Field(alias="from")
    # the Reply-To address (None: none given); replies go there
    reply_to: str | None
    reply_to_differs: bool
    # SPF/DKIM/DMARC as a trusted relay found them (email_trusted_authserv_ids); None: unknown
    authentication: SenderAuthentication | None
    to: list[str]
    cc: list[str]
    # the Date header as sent
    date: str | None
    html: str | None
    # remote images the sanitiser removed (shown with ?remote_images=1)
    remote_images: list[str]
    remote_images_shown: bool
    # an auto-reply / bulk mail's kind (loop protection), or None
    auto: str | None
    status: Literal["received", "queued", "sent", "failed"]
    attempts: int
    last_error: str | None
    quarantined: list[QuarantinedAttachment]


class EmailTemplate(ResponseModel):
    id: str
    name: str
    subject: str
    body: str
    html: str | None
    created_by: str | None
    created_at: Epoch
    updated_at: Epoch
    # the placeholders it uses
    placeholders: list[str]


class EmailTemplates(ResponseModel):
    items: list[EmailTemplate]
    # every placeholder a template may use
    placeholders: list[str]


class RenderedTemplate(ResponseModel):
    template_id: str
    subject: str
    body: str
    html: str | None


class ReplyEmail(ResponseModel):
    subject: str
    to: list[str]
    cc: list[str]
    status: Literal["queued"]


class EmailReply(Message):
    """The stored agent message and the email it goes out as."""

    email: ReplyEmail


class BulkCounts(ResponseModel):
    waiting: int
    sent: int
    failed: int
    cancelled: int


class EmailBulkJob(ResponseModel):
    id: str
    name: str
    template_id: str | None
    template_name: str | None
    subject: str
    status: BulkStatus
    rate_per_s: float
    created_by: str | None
    total: int
    scheduled_at: Epoch | None
    created_at: Epoch
    started_at: Epoch | None
    finished_at: Epoch | None
    # recipients left out as repeats of an address
    duplicates: int
    source: str | None
    counts: BulkCounts
    # per cent of the recipients done (sent, failed or cancelled)
    progress: float


class EmailBulkJobs(ResponseModel):
    items: list[EmailBulkJob]


class EmailBulkRecipient(ResponseModel):
    id: str
    row: int
    email: str
    name: str | None
    status: Literal["pending", "queued", "sent", "failed", "cancelled"]
    attempts: int
    error: str | None
    message_id: str | None
    updated_at: Epoch


class EmailBulkRecipients(ResponseModel):
    total: int
    items: list[EmailBulkRecipient]
