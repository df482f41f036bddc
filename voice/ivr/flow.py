"""IVR flow definitions as data (VOICE-2): JSON-able dicts validated by pydantic models.

A flow is ``{"name", "start", "settings", "nodes": {node_id: {"type": ..., ...}}}``. Node types:
``play``, ``menu``, ``collect``, ``condition``, ``lookup``, ``queue``, ``voicemail``, ``callback``,
``transfer``, ``speech_menu``, ``hangup``, ``goto``, ``set``. Structural checks (unknown node
references, unreachable nodes, loops without input, missing prompts) are in ``validate.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.acd.model import Calendar  # pure data (no I/O): the hub's business-hours semantics

NODE_ID = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
DIGIT = r"^[0-9*#ABCD]$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptRef(_Model):
    """A recorded prompt uploaded to the flow (``file``) or text spoken by TTS (``text``; may
    contain ``{variable}`` placeholders filled at play time)."""

    file: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    text: str | None = Field(default=None, max_length=2000)
    builtin: Literal["moh"] | None = None
    voice: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PromptRef:
        if sum(x is not None for x in (self.file, self.text, self.builtin)) != 1:
            raise ValueError("a prompt has exactly one of 'file', 'text' or 'builtin'")
        if self.text is not None and not self.text.strip():
            raise ValueError("a TTS prompt's text must not be empty")
        return self


Prompts = list[PromptRef]


class _Node(_Model):
    label: str = Field(default="", max_length=200)


class PlayNode(_Node):
    type: Literal["play"] = "play"
    prompts: Prompts = []
    barge_in: bool = True
    repeat: int = Field(default=1, ge=1, le=20)
    next: str | None = None


class MenuNode(_Node):
    type: Literal["menu"] = "menu"
    prompt: Prompts = []
    options: dict[str, str] = {}
    # None: the built-in "not one of the choices" / "did not hear your choice" in the call's
    # language (voice/ivr/texts.py); [] says nothing before the menu is repeated
    invalid_prompt: Prompts | None = None
    timeout_prompt: Prompts | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    default: str | None = None
    store: str | None = Field(default=None, pattern=VAR_NAME)

    @field_validator("options")
    @classmethod
    def _digits(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not re.match(DIGIT, key):
                raise ValueError(f"menu option key {key!r} is not one DTMF key (0-9 * # A-D)")
        return v


class CollectNode(_Node):
    type: Literal["collect"] = "collect"
    prompt: Prompts = []
    min_digits: int = Field(default=1, ge=0, le=64)
    max_digits: int = Field(default=16, ge=1, le=64)
    terminator: str | None = Field(default="#", pattern=DIGIT)
    timeout_s: float = Field(default=6.0, gt=0, le=120)
    inter_digit_timeout_s: float = Field(default=3.0, gt=0, le=60)
    pattern: str | None = None
    store: str = Field(pattern=VAR_NAME)
    # None: the built-in "number not valid" / "did not get a number" in the call's language
    invalid_prompt: Prompts | None = None
    timeout_prompt: Prompts | None = None
    retries: int = Field(default=2, ge=0, le=10)
    next: str | None = None
    on_failure: str | None = None

    @model_validator(mode="after")
    def _check(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError("min_digits is larger than max_digits")
        if self.terminator is not None and self.terminator.isdigit():
            raise ValueError("the terminator must be * # or A-D, not a digit")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"pattern is not a valid regular expression: {err}") from err
        return self


# ---- condition tests


class TimeTest(_Model):
    """Local time of day (``start`` ≤ t < ``end``, HH:MM) and weekdays (0 = Monday)."""

    type: Literal["time"] = "time"
    tz: str | None = None
    start: str = "00:00"
    end: str = "24:00"
    days: list[int] = [0, 1, 2, 3, 4, 5, 6]

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m[2]) > 59 or int(m[1]) > 24 or (int(m[1]) == 24 and int(m[2]) != 0):
            raise ValueError(f"time {v!r} is not HH:MM")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("days are 0 (Monday) .. 6 (Sunday)")
        return v


class CalendarTest(_Model):
    """True while the named business-hours calendar (admin → Calendars) is open."""

    type: Literal["calendar_open"] = "calendar_open"
    calendar: str = Field(min_length=1)


class HolidayTest(_Model):
    """True on a holiday of the named calendar (or one of the listed dates), local time."""

    type: Literal["holiday"] = "holiday"
    calendar: str | None = None
    dates: list[str] = []
    tz: str | None = None

    @field_validator("dates")
    @classmethod
    def _dates(cls, v: list[str]) -> list[str]:
        for d in v:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", d):
                raise ValueError(f"holiday {d!r} is not YYYY-MM-DD")
        return v


class CallerTest(_Model):
    """The caller's number matches one of the patterns (``*``/``?`` wildcards, or ``re:…``)."""

    type: Literal["caller"] = "caller"
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _regex(cls, v: list[str]) -> list[str]:
        for p in v:
            if p.startswith("re:"):
                try:
                    re.compile(p[3:])
                except re.error as err:
                    raise ValueError(f"caller pattern {p!r}: {err}") from err
        return v


class VipTest(_Model):
    type: Literal["vip"] = "vip"
    is_vip: bool = True


Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists", "missing", "matches"]


class VarTest(_Model):
    """Compare a variable (dotted paths reach into lookup results: ``account.balance``)."""

    type: Literal["var"] = "var"
    var: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,127}$")
    op: Op = "eq"
    value: Any = None


Test = Annotated[
    TimeTest | CalendarTest | HolidayTest | CallerTest | VipTest | VarTest,
    Field(discriminator="type"),
]


class Rule(_Model):
    """All ``when`` tests true (an empty list is always true) → go to ``next``."""

    when: list[Test] = []
    negate: bool = False
    next: str


class ConditionNode(_Node):
    type: Literal["condition"] = "condition"
    rules: list[Rule] = Field(min_length=1)
    default: str


class LookupNode(_Node):
    type: Literal["lookup"] = "lookup"
    name: str = Field(min_length=1, max_length=64)
    args: dict[str, Any] = {}
    store: str = Field(pattern=VAR_NAME)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    next: str | None = None
    on_error: str | None = None


class Announce(_Model):
    every_s: float = Field(default=60.0, ge=5, le=3600)
    first_after_s: float | None = Field(default=None, ge=0, le=3600)
    # None: the built-in announcement in the call's language (voice/ivr/texts.py)
    prompt: Prompts | None = None


class Offer(_Model):
    every_s: float = Field(default=90.0, ge=5, le=3600)
    first_after_s: float | None = Field(default=None, ge=0, le=3600)
    prompt: Prompts = []


class QueueNode(_Node):
    type: Literal["queue"] = "queue"
    queue_id: str = Field(min_length=1)
    priority: int = Field(default=0, ge=-100, le=100)
    skills: dict[str, int] = {}
    intro: Prompts = []
    music: Prompts = []
    announce: Announce | None = None
    offer: Offer | None = None
    keys: dict[str, str] = {}
    max_wait_s: float | None = Field(default=None, gt=0, le=86400)
    overflow: str | None = None

    @field_validator("keys")
    @classmethod
    def _digits(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not re.match(DIGIT, key):
                raise ValueError(f"queue key {key!r} is not one DTMF key (0-9 * # A-D)")
        return v


class VoicemailNode(_Node):
    type: Literal["voicemail"] = "voicemail"
    mailbox: str = Field(min_length=1, max_length=64)
    greeting: Prompts = []
    max_s: float = Field(default=120.0, gt=0, le=600)
    end_key: str | None = Field(default="#", pattern=DIGIT)
    thanks: Prompts = []
    next: str | None = None
    # voicemail delivery (voice/calls/voicemail.py): the inbox queue the message goes to (empty: a
    # queue named like the mailbox, else the call's queue), a beep before recording, the silence
    # that ends the message, and who is told about a new message
    queue_id: str | None = None
    # a personal mailbox: the message is offered to this agent first (the ACD's owner preference;
    # the queue's other agents get it when the agent is not logged in or the owner hold runs out)
    agent_id: str | None = Field(default=None, max_length=64)
    beep: bool = True
    silence_s: float = Field(default=5.0, ge=0, le=60)  # 0: only the end key, max_s or hang-up end it
    notify_email: list[str] = Field(default=[], max_length=20)
    notify_sms: list[str] = Field(default=[], max_length=20)

    @field_validator("notify_email")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        out = [a.strip() for a in v if a.strip()]
        for a in out:
            if not re.fullmatch(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+", a):
                raise ValueError(f"{a!r} is not an email address")
        return out

    @field_validator("notify_sms")
    @classmethod
    def _phones(cls, v: list[str]) -> list[str]:
        out = [re.sub(r"[\s().-]", "", p) for p in v if p.strip()]
        for p in out:
            if not re.fullmatch(r"\+?[0-9]{3,20}", p):
                raise ValueError(f"{p!r} is not a phone number")
        return out


class CallbackNode(_Node):
    type: Literal["callback"] = "callback"
    queue_id: str | None = None
    number_var: str | None = Field(default=None, pattern=VAR_NAME)
    # None: the built-in confirmation in the call's language (voice/ivr/texts.py); [] says nothing
    confirm: Prompts | None = None
    next: str | None = None
    on_failure: str | None = None


class TransferNode(_Node):
    type: Literal["transfer"] = "transfer"
    kind: Literal["queue", "agent", "external"]
    target: str = Field(min_length=1, max_length=128)
    prompt: Prompts = []


class SpeechBranch(_Model):
    key: str = Field(min_length=1, max_length=64)
    keywords: list[str] = []
    next: str


class SpeechMenuNode(_Node):
    type: Literal["speech_menu"] = "speech_menu"
    prompt: Prompts = []
    branches: list[SpeechBranch] = Field(min_length=1)
    hook: str | None = None
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    options: dict[str, str] = {}
    no_match_prompt: Prompts | None = None  # None: the built-in "did not catch that"
    timeout_s: float = Field(default=8.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)
    language: str | None = None
    after_answer: str | None = None
    default: str | None = None
    store: str | None = Field(default=None, pattern=VAR_NAME)


class HangupNode(_Node):
    type: Literal["hangup"] = "hangup"
    prompt: Prompts = []
    reason: str = "normal"


class GotoNode(_Node):
    type: Literal["goto"] = "goto"
    target: str


class SetNode(_Node):
    type: Literal["set"] = "set"
    variables: dict[str, Any] = Field(min_length=1)
    next: str

    @field_validator("variables")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not re.match(VAR_NAME, name):
                raise ValueError(f"variable name {name!r} is not an identifier")
        return v


Node = Annotated[
    PlayNode | MenuNode | CollectNode | ConditionNode | LookupNode | QueueNode | VoicemailNode
    | CallbackNode | TransferNode | SpeechMenuNode | HangupNode | GotoNode | SetNode,
    Field(discriminator="type"),
]

# the node types that wait for the caller (a loop must pass through one of them)
INPUT_TYPES = frozenset({"menu", "collect", "speech_menu", "queue", "voicemail"})


class FlowSettings(_Model):
    timezone: str = "UTC"
    voice: str | None = None
    language: str | None = None
    # pressed in a branch an agent sent the caller to: back to a person, original priority/age
    return_key: str | None = Field(default="0", pattern=DIGIT)
    # nodes an agent may send a caller to (besides ``start``); they count as reachable
    agent_entries: list[str] = []


class FlowDefinition(_Model):
    name: str = Field(min_length=1, max_length=120)
    start: str
    settings: FlowSettings = FlowSettings()
    nodes: dict[str, Node] = Field(min_length=1)

    @field_validator("nodes")
    @classmethod
    def _ids(cls, v: dict[str, Any]) -> dict[str, Any]:
        for node_id in v:
            if not re.match(NODE_ID, node_id):
                raise ValueError(f"node id {node_id!r} must be letters, digits, _ . - "
                                 "(starting with a letter or _)")
        return v


def parse_flow(data: Any) -> FlowDefinition:
    """Validate a JSON-able dict into a flow (pydantic ``ValidationError`` on bad shapes)."""
    return FlowDefinition.model_validate(data)


def audio_key(prompt: PromptRef, default_voice: str | None = None) -> str:
    """The key under which a prompt's converted/pre-rendered WAV is listed in ``Flow.audio``."""
    if prompt.file is not None:
        return f"file:{prompt.file}"
    if prompt.builtin is not None:
        return f"builtin:{prompt.builtin}"
    return f"tts:{prompt.voice or default_voice or ''}:{prompt.text}"


@dataclass(frozen=True)
class Flow:
    """A flow ready to run: its definition plus what the store resolved for it.

    ``audio`` maps :func:`audio_key` to 8 kHz mono 16-bit WAV paths (uploaded prompts converted
    on upload, static TTS texts rendered on save); ``calendars`` maps calendar names used by
    ``calendar_open``/``holiday`` tests to :class:`hub.acd.model.Calendar` objects."""

    definition: FlowDefinition
    audio: Mapping[str, str] = dc_field(default_factory=dict)
    calendars: Mapping[str, Calendar] = dc_field(default_factory=dict)
    flow_id: str | None = None
    version: int | None = None

    @classmethod
    def of(cls, data: FlowDefinition | dict[str, Any] | Flow) -> Flow:
        if isinstance(data, Flow):
            return data
        if isinstance(data, FlowDefinition):
            return cls(data)
        return cls(parse_flow(data))
