"""The IVR engine's wire with its driver: events in, actions out (frozen dataclasses).

The call service (``voice/calls``) drives an :class:`voice.ivr.engine.IvrSession`: it feeds the
events below with the current time and performs the actions it gets back, in order. Nothing here
touches a socket or the clock. See ``voice/ivr/README.md`` for the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

DTMF_KEYS = frozenset("0123456789*#ABCD")


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True, slots=True)
class Prompt:
    """One piece of audio to play.

    ``kind == "file"``: ``value`` is the id of a prompt uploaded to the flow; ``path`` is the
    converted 8 kHz mono 16-bit WAV when the flow store resolved it.
    ``kind == "builtin"``: ``value`` is ``moh`` (generated music on hold); ``path`` is
    ``builtin:moh`` (what ``voice.media.prompts.PromptCache.get`` accepts).
    ``kind == "tts"``: ``value`` is the text (variables already filled in); ``path`` is a
    pre-rendered WAV when the text was static and rendered on save, else ``None`` and the driver
    synthesises it (``voice/tts`` with its cache) using ``voice`` (``None`` = default voice).
    """

    kind: Literal["file", "tts", "builtin"]
    value: str
    path: str | None = None
    voice: str | None = None


# --------------------------------------------------------------------------- events (driver → engine)


@dataclass(frozen=True, slots=True)
class Dtmf:
    """A key pressed by the caller (RFC 4733 or SIP INFO): one of ``0-9 * # A-D``."""

    digit: str

    def __post_init__(self) -> None:
        if self.digit not in DTMF_KEYS:
            raise ValueError(f"DTMF digit {self.digit!r} is not one of 0-9 * # A-D")


@dataclass(frozen=True, slots=True)
class PromptFinished:
    """The prompt started by ``Play(play_id)`` played to its end (not sent after ``StopPlay``)."""

    play_id: str


@dataclass(frozen=True, slots=True)
class Timeout:
    """A timer started by ``StartTimer(timer_id, at)`` is due (stale ids are ignored)."""

    timer_id: str


@dataclass(frozen=True, slots=True)
class SpeechResult:
    """The final recognition of a ``Listen``; empty text means nothing was understood."""

    text: str
    confidence: float = 1.0
    listen_id: str | None = None


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The answer of a ``Lookup(name, args)`` hook; ``error`` set when the hook failed."""

    name: str
    value: Any = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """The caller's place in the ACD queue (send whenever it changes; cheap to repeat)."""

    position: int
    expected_wait_s: float | None = None


@dataclass(frozen=True, slots=True)
class QueueLeft:
    """The ACD took the caller out of the queue itself (its own max wait / overflow / closed)."""

    reason: str = "overflow"


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """An agent accepted the queued call: the engine stops all audio and goes idle."""

    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    """A ``RecordVoicemail`` ended (max length, ``StopRecording`` or silence)."""

    duration_s: float = 0.0
    recording_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    pass


Event = (
    Dtmf | PromptFinished | Timeout | SpeechResult | LookupResult | QueueStatus | QueueLeft
    | AgentAnswered | RecordingFinished | CallerHungUp
)


# --------------------------------------------------------------------------- actions (engine → driver)


@dataclass(frozen=True, slots=True)
class Play:
    """Play ``prompts`` one after the other; ``loop`` repeats them until ``StopPlay`` (music on
    hold). When ``barge_in`` is true a key press stops it (the engine sends ``StopPlay`` first)."""

    play_id: str
    prompts: tuple[Prompt, ...]
    barge_in: bool = True
    loop: bool = False


@dataclass(frozen=True, slots=True)
class StopPlay:
    """Stop the prompt now (drop queued audio); no ``PromptFinished`` is expected for it."""

    play_id: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Send ``Timeout(timer_id)`` at ``at`` (same time base as ``now``), unless cancelled."""

    timer_id: str
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Put the call in an ACD queue. ``enqueued_at`` is set when the caller comes back to a
    person after an IVR branch: the ACD keeps their original age (``ContactRequest.enqueued_at``)."""

    queue_id: str
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    enqueued_at: float | None = None


@dataclass(frozen=True, slots=True)
class LeaveQueue:
    """Take the call out of the ACD queue: ``reason`` is ``caller_choice``, ``max_wait``,
    ``abandoned`` (hang-up while waiting) or ``agent_branch``."""

    queue_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Beep (when ``beep``), then record the caller into ``mailbox`` for at most ``max_s``; send
    ``RecordingFinished`` when it ends."""

    mailbox: str
    max_s: float
    beep: bool = True
    variables: dict[str, Any] = field(default_factory=dict)
    queue_id: str | None = None  # where the message is delivered (None: mailbox / call's queue)
    agent_id: str | None = None  # a personal mailbox: offered to this agent first
    silence_s: float = 0.0  # end after this much silence (0: never)
    notify_email: tuple[str, ...] = ()
    notify_sms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StopRecording:
    """The caller pressed the end key (or the engine's safety timer fired): end the recording."""

    mailbox: str


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Register a callback request to ``number`` (the caller's number unless they entered one)."""

    number: str
    queue_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


class TransferKind(StrEnum):
    QUEUE = "queue"
    AGENT = "agent"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the call over (blind) to a queue, an agent or an external number; the session ends."""

    kind: TransferKind
    target: str
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Listen:
    """Start speech recognition on the caller's leg with ``phrases`` as hints; answer with
    ``SpeechResult(listen_id=...)``."""

    listen_id: str
    phrases: tuple[str, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class StopListen:
    listen_id: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Call the named data hook (account balance, open repair order, FAQ match …) with ``args``;
    answer with ``LookupResult(name, value)`` or ``LookupResult(name, error=...)``."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetVariable:
    """A call variable changed (for the call record / screen pop; no effect required)."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class Hangup:
    reason: str = "normal"


Action = (
    Play | StopPlay | StartTimer | CancelTimer | Enqueue | LeaveQueue | RecordVoicemail
    | StopRecording | RequestCallback | Transfer | Listen | StopListen | Lookup | SetVariable
    | Hangup
)


class SessionState(StrEnum):
    """Where the session is, coarsely (for the driver, logs and tests)."""

    NEW = "new"
    RUNNING = "running"  # in the flow, talking to the IVR
    QUEUED = "queued"  # waiting in an ACD queue with the queue experience
    CONNECTED = "connected"  # an agent answered; the engine is idle until ``enter``
    RECORDING = "recording"  # leaving a voicemail
    TRANSFERRED = "transferred"  # handed over; the session is over
    ENDED = "ended"  # hung up (either side)
