"""The IVR's response models (``/api/ivr/*``)."""

from __future__ import annotations

from typing import Any

from hub.api.schemas import Epoch, ResponseModel


class FlowSummary(ResponseModel):
    id: str
    name: str
    description: str
    published_version: int | None
    updated_at: Epoch
    # dialled numbers routed to it
    numbers: list[str]
    # nodes in the draft
    nodes: int


class Flows(ResponseModel):
    flows: list[FlowSummary]


class FlowProblem(ResponseModel):
    """One problem of a flow definition (voice/ivr/validate.py)."""

    node: str | None
    field: str
    # in English (for developers); ``code`` and ``params``: the same for the UI's catalogues
    message: str
    code: str
    params: dict[str, Any]


class PromptFile(ResponseModel):
    name: str
    filename: str
    duration_s: float
    size: int
    created_at: Epoch


class FlowVersionRef(ResponseModel):
    version: int
    published_at: Epoch
    published_by: str | None


class FlowDetail(ResponseModel):
    id: str
    name: str
    description: str
    # the draft: name, start, settings, nodes (voice/ivr/flow.py)
    definition: dict[str, Any]
    published_version: int | None
    created_at: Epoch
    updated_at: Epoch
    prompts: list[PromptFile]
    versions: list[FlowVersionRef]
    numbers: list[str]
    problems: list[FlowProblem]


class Published(ResponseModel):
    version: int
    flow: FlowDetail


class FlowVersion(ResponseModel):
    version: int
    definition: dict[str, Any]
    published_at: Epoch
    published_by: str | None


class Problems(ResponseModel):
    problems: list[FlowProblem]


class TtsVoice(ResponseModel):
    # "<engine>:<voice>"
    id: str
    language: str
    engine: str
    native_rate: int


class TtsVoices(ResponseModel):
    # the engine that speaks first; None: no engine could start (error says why)
    engine: str | None
    default_voice: str | None = None
    voices: list[TtsVoice]
    # language → the voice id that speaks it
    language_voices: dict[str, str] | None = None
    # engines left out, and why
    skipped: dict[str, str]
    error: str | None = None


class PromptFailure(ResponseModel):
    flow_id: str
    text: str
    voice: str | None
    # the TTS engine's error
    error: str


class PromptAudio(ResponseModel):
    """The published flows' text prompts rendered ahead of the calls (issue #18, "dead air")."""

    prompts: int
    rendered: int
    failed: list[PromptFailure]
    # still rendering (after a publish, or since the hub started)
    rendering: bool


class IvrStatus(ResponseModel):
    # voice (SIP) is on: the numbers routed to flows answer calls
    voice_enabled: bool
    # the SIP (UDP) port calls come in on; None while voice is off
    sip_port: int | None
    prompt_audio: PromptAudio


class NumberRoute(ResponseModel):
    number: str
    flow_id: str
    flow_name: str


class NumberRoutes(ResponseModel):
    numbers: list[NumberRoute]


class NumberSet(ResponseModel):
    number: str
    flow_id: str
