"""Request bodies and queries (pydantic). Strict types: "3" is not a number, extra keys refused.
``ResponseModel`` is the base of the answers' models (``hub/api/responses.py`` and the components'
``schemas.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Level = Annotated[int, Field(ge=0, le=100)]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")]
Interval = Annotated[list[HHMM], Field(min_length=2, max_length=2)]
#: the largest ``offset`` of a paged list: beyond any real list, within what a database binds
MAX_OFFSET = 1_000_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    """Base of a response model: what an operation answers (``Api.add(..., response=...)``), field
    for field. It describes the answer in ``/api/openapi.json`` (the web UI's types are generated
    from it) and never filters it; with ``api_check_responses`` (the tests) an answer with a field
    missing, of another type, or one the model does not declare is a ``response_mismatch``. A field
    with a default may be absent from the answer."""

    model_config = ConfigDict(extra="forbid")


#: a point in time as the API gives it: seconds since the epoch (UTC)
Epoch = float


class LoginIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AgentStateIn(Strict):
    state: Literal["ready", "not_ready", "logged_out"]
    reason: Key | None = None


class InboxQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    view: Literal["mine", "queued", "offered", "pending", "closed", "all"] = "mine"
    channel: Literal["voice", "chat", "email", "sms", "fax"] | None = None
    queue_id: str | None = None
    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    before: float | None = None


class MessageIn(Strict):
    body: Annotated[str, StringConstraints(max_length=10_000)] = ""
    attachment_ids: Annotated[list[str], Field(max_length=10)] = []


class NoteIn(Strict):
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class TransferIn(Strict):
    queue_id: str | None = None
    agent_id: str | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class CloseIn(Strict):
    disposition: Key | None = None
    note: Annotated[str, StringConstraints(max_length=10_000)] | None = None


class LinkContactIn(Strict):
    contact_id: str


class ContactIn(Strict):
    name: Name
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    company: Annotated[str, StringConstraints(max_length=200)] | None = None
    tags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=40)]],
                    Field(max_length=50)] = []
    vip: bool = False
    owner_agent_id: str | None = None
    custom: dict[str, Any] = {}
    # the customer's preferred language for notices sent outside a conversation
    language: Literal["zh-CN", "en"] | None = None


class ContactPatch(Strict):
    name: Name | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    company: Annotated[str, StringConstraints(max_length=200)] | None = None
    tags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=40)]],
                    Field(max_length=50)] | None = None
    vip: bool | None = None
    owner_agent_id: str | None = None
    custom: dict[str, Any] | None = None
    language: Literal["zh-CN", "en"] | None = None


class ContactQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    tag: str | None = None
    vip: bool | None = None
    sort: str = "name"
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET)] = 0


class ContactExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["csv", "xlsx"] = "csv"


class MergeIn(Strict):
    primary_id: str
    duplicate_ids: Annotated[list[str], Field(min_length=1, max_length=50)]


class CustomFieldIn(Strict):
    key: Key
    label: Name
    type: Literal["text", "number", "date", "choice"]
    choices: list[str] | None = None


#: a language of the web UI (hub.services.auth.LANGUAGES)
UiLanguage = Literal["zh-CN", "en"]


class ProfilePatch(Strict):
    """The user's own profile (PATCH /api/me). ``language: null`` goes back to the browser's."""

    language: UiLanguage | None = None


class UserIn(Strict):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{2,64}$")]
    display_name: Name | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    roles: Annotated[list[Literal["agent", "supervisor", "dispatcher", "department", "knowledge_manager", "admin"]],
                     Field(min_length=1)] = ["agent"]
    skills: dict[str, Level] = {}
    capacity: dict[Literal["voice", "chat", "email", "sms", "fax"], Annotated[int, Field(ge=0, le=50)]] = {}
    active: bool = True
    language: UiLanguage | None = None


class UserPatch(Strict):
    display_name: Name | None = None
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    roles: Annotated[list[Literal["agent", "supervisor", "dispatcher", "department", "knowledge_manager", "admin"]],
                     Field(min_length=1)] | None = None
    skills: dict[str, Level] | None = None
    capacity: dict[Literal["voice", "chat", "email", "sms", "fax"], Annotated[int, Field(ge=0, le=50)]] | None = None
    active: bool | None = None
    language: UiLanguage | None = None


class SkillIn(Strict):
    name: Key
    label: Name | None = None


class SkillPatch(Strict):
    label: Name


class CalendarIn(Strict):
    name: Name
    tz: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "UTC"
    weekly: dict[Literal["0", "1", "2", "3", "4", "5", "6"],
                 list[Interval]] = {}
    holidays: list[Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]] = []


class CalendarPatch(Strict):
    name: Name | None = None
    tz: str | None = None
    weekly: dict[Literal["0", "1", "2", "3", "4", "5", "6"],
                 list[Interval]] | None = None
    holidays: list[Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]] | None = None


class OverflowTargetIn(Strict):
    kind: Literal["queue", "voicemail", "callback", "offline_form", "reject"]
    queue_id: str | None = None


class OverflowStepIn(Strict):
    after_s: Annotated[float, Field(ge=0)]
    relax_skills: list[str] = []
    level_delta: Annotated[int, Field(ge=0, le=100)] = 0


Strategy = Literal["longest_idle", "round_robin", "ring_all", "least_talk_time", "fewest_contacts",
                   "linear", "random", "skills_best_match"]


class QueueIn(Strict):
    name: Name
    strategy: Strategy = "longest_idle"
    required_skills: dict[str, Level] = {}
    members: list[str] = []
    offer_timeout_s: Annotated[float, Field(gt=0, le=600)] = 20
    max_wait_s: Annotated[float, Field(gt=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    overflow: OverflowTargetIn | None = None
    closed_target: OverflowTargetIn | None = None
    wrapup_s: Annotated[float, Field(ge=0, le=3600)] = 0
    service_level_s: Annotated[float, Field(gt=0, le=3600)] = 20
    calendar_id: str | None = None
    overflow_steps: list[OverflowStepIn] = []


class QueuePatch(Strict):
    name: Name | None = None
    strategy: Strategy | None = None
    required_skills: dict[str, Level] | None = None
    members: list[str] | None = None
    offer_timeout_s: Annotated[float, Field(gt=0, le=600)] | None = None
    max_wait_s: Annotated[float, Field(gt=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    overflow: OverflowTargetIn | None = None
    closed_target: OverflowTargetIn | None = None
    wrapup_s: Annotated[float, Field(ge=0, le=3600)] | None = None
    service_level_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    calendar_id: str | None = None
    overflow_steps: list[OverflowStepIn] | None = None


LanguageTag = Annotated[str, StringConstraints(max_length=35)]


class WidgetSessionIn(Strict):
    name: Name
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    queue_id: str | None = None
    message: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    # the widget's language (a BCP 47 tag: zh-CN, zh, en-US …); one the hub does not ship is
    # ignored and the language is guessed from the customer's words
    lang: LanguageTag | None = None


#: the languages the hub's own customer texts are written in (e.g. channels/webchat/texts.py)
CustomerLanguage = Literal["en", "zh-CN"]


class IdentityCodeIn(Strict):
    """A chat customer asks for a one-time code proving the contact they claimed."""

    method: Literal["email", "sms"]
    language: CustomerLanguage = "en"


class IdentityVerifyIn(Strict):
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]


class IdentityConfirmIn(Strict):
    """An agent confirms who the chat customer is: the contact they claimed (no ``contact_id``) or
    another one the agent recognised."""

    contact_id: str | None = None


class OfflineIn(Strict):
    name: Name
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    message: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    queue_id: str | None = None
    lang: LanguageTag | None = None


class TextIn(Strict):
    # a customer-facing text; it may name only its key's placeholders ({agent_name}); a literal
    # brace is written twice
    body: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class CsatIn(Strict):
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class WidgetConfigQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str | None = None
    # the language of the texts in the answer (the pre-chat form's labels)
    lang: LanguageTag | None = None


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    before: float | None = None
