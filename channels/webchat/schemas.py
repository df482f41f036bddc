"""The chat widget's response models (``/api/widget/*``)."""

from __future__ import annotations

from typing import Literal

from hub.api.responses import Attachment, ConversationStatus, Language, Sender
from hub.api.schemas import Epoch, ResponseModel


class QueueRef(ResponseModel):
    id: str
    name: str


class PrechatField(ResponseModel):
    key: str
    label: str
    required: bool


class WidgetConfig(ResponseModel):
    # someone can serve the queue now (open, and an agent logged in)
    online: bool
    queue_id: str
    queues: list[QueueRef]
    prechat: list[PrechatField]
    max_upload_bytes: int
    allowed_types: list[str]
    # the language of the texts here (the asked ``lang`` when the hub has it, else its default)
    language: Language
    # the line above the offline form (an administrator's text, widget.offline.intro)
    offline_notice: str


class WidgetSession(ResponseModel):
    # the customer's bearer token for the widget's other calls and the /widget namespace
    token: str
    conversation_id: str


class CustomerMessage(ResponseModel):
    """A message as the customer sees it (no notes, no conversation id)."""

    id: str
    kind: Literal["message", "note", "system"]
    sender: Sender
    sender_name: str | None
    body: str
    attachments: list[Attachment]
    client_id: str | None
    created_at: Epoch


class CustomerCsat(ResponseModel):
    rating: int


class CsatTexts(ResponseModel):
    prompt: str
    thanks: str


class WidgetConversation(ResponseModel):
    id: str
    status: ConversationStatus
    agent_name: str | None
    # the status line in the conversation's language (None while the bot has the chat)
    text: str | None
    # the conversation's language (its own, else the hub's default)
    language: Language
    messages: list[CustomerMessage]
    csat: CustomerCsat | None
    # the rating request and thanks in the chat's language, once it is closed
    csat_texts: CsatTexts | None


class OfflineMessage(ResponseModel):
    # the conversation the offline form opened (status pending)
    id: str
    # what the customer is told, in the message's language
    notice: str
    language: Language


class WidgetIdentity(ResponseModel):
    """Whether the customer has proven the contact their pre-chat email or phone matched."""

    # proven (or nothing was claimed: the chat made its own contact)
    verified: bool
    # an existing contact was claimed and is not proven yet
    claimed: bool
    # where a code can be sent (the claimed contact has an email address / a phone number)
    methods: list[Literal["email", "sms"]]
    # too many wrong codes: only an agent can confirm now
    locked: bool


class IdentityCodeSent(ResponseModel):
    method: Literal["email", "sms"]
    # the address the code went to, masked (l***@example.com, *** 2222)
    sent_to: str
    expires_at: Epoch
