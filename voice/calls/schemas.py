"""The call service's response models (``/api/voice/*``: calls, SIP accounts, recordings,
transcripts, callbacks)."""

from __future__ import annotations

from typing import Literal

from hub.api.schemas import Epoch, ResponseModel

CallStateName = Literal["setup", "answered", "queued", "bridged", "ended"]


class ConsultInfo(ResponseModel):
    """A consultation the agent started on a call (voice/calls/consult.py)."""

    consult_id: str
    call_id: str
    kind: Literal["agent", "queue", "external"]
    target: str
    label: str
    state: Literal["ringing", "talking", "conference", "ended"]
    party_agent_id: str | None


class CallInfo(ResponseModel):
    """An active call (``Call.public``)."""

    id: str
    state: CallStateName
    caller: str
    caller_name: str | None
    callee: str
    # trunk | phone
    source: str
    conversation_id: str | None
    queue_id: str | None
    agent_id: str | None
    # the number it was transferred to through the trunk
    external: str | None
    started_at: Epoch
    answered_at: Epoch | None
    connected_at: Epoch | None
    # agents being rung
    ringing: list[str]
    on_hold: bool
    rx_packets: int
    tx_packets: int
    consult: ConsultInfo | None


class LegQuality(ResponseModel):
    """Receive quality of an RTP leg (RFC 3550 loss and jitter)."""

    packets: int
    expected: int
    lost: int
    loss_pct: float
    jitter_ms: float


class CallQuality(ResponseModel):
    # None: the leg received no RTP (a browser leg carries its audio over WebRTC)
    caller: LegQuality | None
    agent: LegQuality | None


class ActiveCall(CallInfo):
    quality: CallQuality


class CallSegment(ResponseModel):
    """One step of a call's per-leg history (voice/calls/history.py), in order."""

    kind: Literal["ivr", "queued", "talk", "hold", "consult", "conference", "external", "voicemail"]
    agent_id: str | None
    agent_name: str | None
    queue_id: str | None
    queue_name: str | None
    # the consulted party (an agent's name, a queue's name, a number) / the external number
    party: str | None
    # why it began: blind_transfer, consult_transfer, desk_transfer, transfer_failed, caller_hold,
    # agent_hold, consult_<outcome>
    reason: str | None
    started_at: Epoch
    ended_at: Epoch | None
    duration_s: float


class CallAgent(ResponseModel):
    id: str
    name: str | None


class CallRecord(ResponseModel):
    """A call detail record (``voice_calls``) with its per-leg history and its recording, if any."""

    id: str
    conversation_id: str | None
    sip_call_id: str
    direction: str
    source: str
    caller: str
    callee: str
    queue_id: str | None
    agent_id: str | None
    started_at: Epoch
    answered_at: Epoch | None
    queued_at: Epoch | None
    connected_at: Epoch | None
    ended_at: Epoch | None
    end_reason: str | None
    # seconds queued (every time), talking (agents, conference, external number), on hold or
    # waiting while the agent consulted: sums over ``segments``
    wait_s: float | None
    talk_s: float | None
    hold_s: float | None
    recording_id: str | None
    recording_duration_s: float | None
    recording_attachment_id: str | None
    # the voice_recordings id (GET /api/voice/recordings/{id}), if the call was recorded
    recording_row_id: str | None
    queue_name: str | None
    agent_name: str | None
    # every agent the caller talked to, in order (the last one is agent_id)
    agents: list[CallAgent]
    segments: list[CallSegment]


class SipRegistration(ResponseModel):
    username: str
    kind: Literal["phone", "trunk"]
    user_id: str | None
    registered: bool
    contact: str | None
    # host:port the registration came from
    source: str | None
    expires_in: int | None


class OutboundTrunk(ResponseModel):
    configured: bool
    uri: str | None


class Registrations(ResponseModel):
    accounts: list[SipRegistration]
    outbound_trunk: OutboundTrunk


class VoiceCalls(ResponseModel):
    active: list[ActiveCall]
    # a page of call records, newest first (limit/offset of the query; total: all that match)
    records: list[CallRecord]
    total: int
    limit: int
    offset: int
    # counters of the call service
    stats: dict[str, int]
    registrations: Registrations


class Recording(ResponseModel):
    id: str
    call_id: str
    conversation_id: str | None
    attachment_id: str | None
    duration_s: float
    channels: int
    sample_rate: int
    created_at: Epoch
    # the WAV file's size and name (None once the file is gone)
    size: int | None
    filename: str | None
    caller: str
    callee: str
    direction: str
    source: str
    queue_id: str | None
    queue_name: str | None
    agent_id: str | None
    agent_name: str | None
    started_at: Epoch
    connected_at: Epoch | None
    ended_at: Epoch | None
    end_reason: str | None
    wait_s: float | None
    talk_s: float | None
    audio_url: str


class RecordingPage(ResponseModel):
    items: list[Recording]
    total: int
    limit: int
    offset: int


class QueueRecordingSetting(ResponseModel):
    queue_id: str
    name: str
    # True/False: chosen for the queue; None: the default
    record: bool | None
    effective: bool


class QueueRecordingSettings(ResponseModel):
    default: bool
    queues: list[QueueRecordingSetting]


class TranscriptWord(ResponseModel):
    text: str
    # seconds since the call was answered
    start_s: float
    end_s: float
    conf: float


class TranscriptSegment(ResponseModel):
    """A stored final utterance of one call leg (times: seconds since the call was answered)."""

    id: str
    conversation_id: str
    call_id: str
    leg: Literal["caller", "agent"]
    speaker: str
    agent_id: str | None
    text: str
    start_s: float
    end_s: float
    started_at: Epoch
    ended_at: Epoch
    confidence: float | None
    words: list[TranscriptWord]
    # recognised after the call had moved on (the recogniser fell behind)
    late: bool


class CallTranscription(ResponseModel):
    """Whether a call answered by a person was transcribed; ``reason`` ``capacity``: every
    transcription stream (``voice_asr_max_streams``) was in use."""

    call_id: str
    conversation_id: str
    status: Literal["transcribed", "not_transcribed"]
    reason: Literal["capacity"] | None
    at: Epoch


class Transcript(ResponseModel):
    conversation_id: str
    segments: list[TranscriptSegment]
    calls: list[CallTranscription]


class TranscriptionStatus(ResponseModel):
    """Live transcription now: the stream cap, what runs, what was shed since the start."""

    enabled: bool
    model: str | None
    error: str | None
    max_streams: int | None
    realtime_factor: float | None
    active_streams: int
    reserved_streams: int
    decoding_streams: int
    idle_recognizers: int | None
    streams: int
    segments: int
    partials: int
    failed_streams: int
    transcribed_calls: int
    shed_calls: int
    shed_listens: int


class CallbackDialling(ResponseModel):
    conversation_id: str
    number: str
    status: Literal["dialling"]


class SipAccount(ResponseModel):
    """A SIP account of a desk phone or trunk (the digest HA1 is stored, never shown)."""

    id: str
    username: str
    user_id: str | None
    kind: Literal["phone", "trunk"]
    realm: str
    created_at: Epoch
    updated_at: Epoch


class SipAccounts(ResponseModel):
    accounts: list[SipAccount]


class Binding(ResponseModel):
    """A desk phone's current registration."""

    username: str
    contact: str
    # host:port it registered from, over udp or tcp
    source: str
    transport: str
    expires_in: int
    user_id: str | None


class Bindings(ResponseModel):
    registrations: list[Binding]
