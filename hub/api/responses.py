"""The hub's response models: what its operations answer (``Api.add(..., response=...)``), shared
with the components whose answers contain the same objects (a message, a contact, a summary)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hub.api.schemas import Epoch, ResponseModel, Strategy, UiLanguage

Role = Literal["agent", "supervisor", "dispatcher", "department", "knowledge_manager", "admin"]
#: every permission a role gives (hub.services.auth.ROLE_PERMISSIONS)
Permission = Literal["desk", "wallboard", "supervise", "admin", "contacts", "contacts_import", "contacts_manage",
                     "kb", "kb_edit", "kb_publish", "tickets", "dispatch", "department", "automation",
                     "reports", "bulk_send", "privacy",
                     "verify_identity"]
ChannelName = Literal["voice", "chat", "email", "sms", "fax"]
ConversationStatus = Literal["bot", "queued", "offered", "assigned", "pending", "closed", "abandoned"]
Sender = Literal["customer", "agent", "system", "bot"]
MessageKind = Literal["message", "note", "system"]
Language = Literal["zh-CN", "en"]
AgentStateName = Literal["logged_out", "ready", "not_ready", "wrap_up"]
#: a contact's custom field value (text, number, date as text, choice)
CustomValue = str | int | float | None


class Health(ResponseModel):
    status: str
    database: str
    version: str
    dialect: str
    # several processes (docs/SCALING.md): the cluster's figures
    cluster: dict[str, Any] | None = None


class CodeLabel(ResponseModel):
    code: str
    label: str


# --- users and agents -------------------------------------------------------------------------
class UserPublic(ResponseModel):
    id: str
    username: str
    display_name: str
    roles: list[Role]
    permissions: list[Permission]
    skills: dict[str, int]
    capacity: dict[str, int]
    active: bool
    #: the web UI's language; null: the browser's
    language: UiLanguage | None


class Session(ResponseModel):
    """A signed-in browser (``/api/auth/sessions``, ``/api/users/{id}/sessions``)."""
    id: str
    created_at: Epoch
    expires_at: Epoch
    ip: str | None
    user_agent: str | None
    #: the caller's own session (always false in an administrator's list of someone else's)
    current: bool


class SessionList(ResponseModel):
    items: list[Session]


class UserBrief(ResponseModel):
    """A user as the desk sees it (transfer targets), for those without ``admin``."""

    id: str
    display_name: str
    roles: list[Role]


class LoginResult(ResponseModel):
    user: UserPublic


class AgentState(ResponseModel):
    state: AgentStateName
    reason: str | None
    since: Epoch | None
    # offered + assigned contacts per channel, and the agent's capacity per channel
    load: dict[str, int]
    capacity: dict[str, int]
    # keys of work outside the ACD taking a slot (a consult call)
    occupied: list[str]


class Me(UserPublic):
    agent: AgentState | None
    #: what runs on this hub, per port of hub/ports.py (``voice``, ``softphone``, ``sms`` …): the UI
    #: asks once and does not call what is off
    features: dict[str, bool]


class Session_(ResponseModel):
    """``GET /api/auth/session``: who this browser is signed in as, if anyone."""
    user: Me | None


class DirectoryQueue(ResponseModel):
    id: str
    name: str


class DirectoryAgent(ResponseModel):
    id: str
    display_name: str
    #: the agent's state, for those who work the desk or supervise; null for others
    state: AgentStateName | None


class Directory(ResponseModel):
    """``GET /api/directory``: the queues and agents a person picks from (transfer targets,
    owners)."""
    queues: list[DirectoryQueue]
    agents: list[DirectoryAgent]


class AgentStateEntry(ResponseModel):
    """One change of an agent's state (the state history)."""

    at: Epoch
    state: str
    reason: str | None
    forced_by: str | None


# --- contacts ---------------------------------------------------------------------------------
class Contact(ResponseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    company: str | None
    tags: list[str]
    vip: bool
    owner_agent_id: str | None
    custom: dict[str, CustomValue]
    # preferred language for notices outside a conversation (None: the conversation's, or the default)
    language: Language | None
    created_at: Epoch
    updated_at: Epoch


class ContactList(ResponseModel):
    items: list[Contact]
    total: int


class ContactImportError(ResponseModel):
    row: int
    message: str


class ImportResult(ResponseModel):
    created: int
    updated: int
    errors: list[ContactImportError]


class CustomField(ResponseModel):
    key: str
    label: str
    type: Literal["text", "number", "date", "choice"]
    choices: list[str] | None


# --- conversations ----------------------------------------------------------------------------
class Attachment(ResponseModel):
    id: str
    filename: str
    content_type: str
    size: int
    url: str | None = Field(None, description="where to fetch it when only its own route serves it "
                                              "(a call recording); absent: GET /api/attachments/{id}")


class Message(ResponseModel):
    id: str
    conversation_id: str
    kind: MessageKind
    sender: Sender
    sender_name: str | None
    body: str
    # the sender's own id for a retried send (the widget's), stored once
    client_id: str | None
    attachments: list[Attachment]
    created_at: Epoch


class ContactRef(ResponseModel):
    id: str
    name: str
    vip: bool
    # False: the contact a chat customer claimed (pre-chat email or phone), not proven yet
    verified: bool


class LastMessage(ResponseModel):
    body: str
    sender: Sender
    at: Epoch


class Csat(ResponseModel):
    rating: int
    comment: str | None


class ConversationSummary(ResponseModel):
    id: str
    channel: ChannelName
    direction: Literal["in", "out"]
    status: ConversationStatus
    queue_id: str | None
    queue_name: str | None
    assignee_id: str | None
    assignee_name: str | None
    contact: ContactRef | None
    subject: str | None
    priority: int
    created_at: Epoch
    updated_at: Epoch
    # when it was enqueued, while it waits (queued, offered)
    waiting_since: Epoch | None
    last_message: LastMessage | None
    # the closing disposition code (DISPOSITIONS), once closed with one
    disposition: str | None
    # the language of its automatic texts (set by the widget or the IVR, else guessed from the
    # customer's words; None: not known yet, the hub's default_language is used)
    language: Language | None
    # the customer's rating, once given
    csat: Csat | None = None


class InboxItem(ConversationSummary):
    # the "offered" view: when the offer to the asking agent expires
    offer_expires_at: Epoch | None = None


class Inbox(ResponseModel):
    items: list[InboxItem]
    # ``before`` for the next page; None on the last page
    next_before: Epoch | None


class LinkedContact(Contact):
    # False: the candidate a chat customer claimed to be, not proven yet (no VIP priority; the
    # customer is not shown anything of it)
    verified: bool


class ConversationDetail(ConversationSummary):
    contact: LinkedContact | None  # type: ignore[assignment]  # the whole contact record here
    messages: list[Message]
    history: list[ConversationSummary]
    # what channels and components keep on it (prechat, contact_created, a call's numbers …)
    meta: dict[str, Any]


# --- supervisor -------------------------------------------------------------------------------
class WallboardQueue(ResponseModel):
    id: str
    name: str
    waiting: int
    longest_wait_s: float
    is_open: bool
    agents_ready: int
    offered_today: int
    answered_today: int
    abandoned_today: int
    service_level_today: float | None
    service_level_s: float


class WallboardAgent(AgentState):
    id: str
    display_name: str


class Wallboard(ResponseModel):
    at: Epoch
    queues: list[WallboardQueue]
    agents: list[WallboardAgent]


# --- admin ------------------------------------------------------------------------------------
class OverflowTarget(ResponseModel):
    kind: Literal["queue", "voicemail", "callback", "offline_form", "reject"]
    queue_id: str | None = None


class OverflowStep(ResponseModel):
    after_s: float
    relax_skills: list[str]
    level_delta: int


class Queue(ResponseModel):
    id: str
    name: str
    strategy: Strategy
    required_skills: dict[str, int]
    members: list[str]
    offer_timeout_s: float
    max_wait_s: float | None
    max_length: int | None
    overflow: OverflowTarget | None
    # where contacts go while the queue's calendar is closed
    closed_target: OverflowTarget | None
    wrapup_s: float
    service_level_s: float
    calendar_id: str | None
    overflow_steps: list[OverflowStep]
    priority: int


class Skill(ResponseModel):
    id: str
    name: str
    label: str


class CalendarDef(ResponseModel):
    id: str
    name: str
    tz: str
    # weekday ("0" Monday … "6") → opening intervals ["HH:MM", "HH:MM"]
    weekly: dict[str, list[list[str]]]
    holidays: list[str]


class AuditEntry(ResponseModel):
    """One stored event of the audit log (admin changes, logins, contact deletes/merges/exports,
    VIP or owner changes, attachment and recording downloads; ``data.ip``/``data.user_agent``:
    where the request came from)."""

    id: int
    at: Epoch
    type: str
    user_id: str | None
    conversation_id: str | None
    queue_id: str | None
    data: dict[str, Any]


class TextVersion(ResponseModel):
    # the text in use: the administrator's version, else the default
    body: str
    # the text shipped with the hub
    default: str
    customised: bool
    updated_at: Epoch | None
    updated_by: str | None


class TextEntry(ResponseModel):
    key: str
    # the component whose text it is (webchat, assist, workflows, sms …)
    owner: str
    # the placeholders its versions may name, without braces
    placeholders: list[str]
    # by language (zh-CN, en)
    texts: dict[str, TextVersion]


class TextList(ResponseModel):
    items: list[TextEntry]
    # the language used when a conversation's own is not known (setting default_language)
    default_language: Language
