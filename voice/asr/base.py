"""The speech-recognition port: typed results, errors with stable codes, and the two small
abstract classes an engine adapter implements (:class:`Recognizer`, :class:`RecognizerPool`).

An adapter (``voice/asr/vosk.py``) wraps one decoder instance as a :class:`Recognizer`; the
engine-neutral :class:`~voice.asr.stream.TranscriptionStream` drives it off the event loop and
turns its output into :class:`Partial` / :class:`Final` results attributed to a call leg.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from voice.errors import VoiceError

SUPPORTED_RATES: tuple[int, ...] = (8000, 16000)

# Han, kana and CJK punctuation / full-width forms: scripts written without spaces between words
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")


def join_cjk(text: str) -> str:
    """``text`` as Chinese (or Japanese) is written: vosk's Chinese models separate the words they
    recognise by spaces ("我 要 交 燃气 费"); a space between two CJK characters is dropped, every
    other space (Latin words, Korean, "E1 故障") is kept."""
    return _CJK_GAP.sub("", text)


class Leg(StrEnum):
    """Which side of a call a stream carries: the transcript is attributed per leg."""

    CALLER = "caller"
    AGENT = "agent"


class AsrResultType(StrEnum):
    PARTIAL = "partial"
    FINAL = "final"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; times are seconds from the start of the stream."""

    text: str
    start_s: float
    end_s: float
    conf: float


@dataclass(frozen=True, slots=True)
class Partial:
    """Hypothesis for the utterance in progress; replaced by later partials and the final."""

    text: str
    start_s: float
    leg: Leg
    late: bool = False
    type: AsrResultType = field(default=AsrResultType.PARTIAL, init=False)


@dataclass(frozen=True, slots=True)
class Final:
    """A finished utterance. ``late`` marks results produced while transcription lagged behind
    the audio (frames were dropped for transcription or the backlog exceeded the threshold)."""

    text: str
    start_s: float
    end_s: float
    leg: Leg
    words: tuple[Word, ...] = ()
    late: bool = False
    type: AsrResultType = field(default=AsrResultType.FINAL, init=False)


AsrResult = Partial | Final


# --------------------------------------------------------------------------- errors


class AsrError(VoiceError):
    """Root of every speech-recognition error. ``code`` is part of the API: never renamed."""

    code: str = "asr_error"


class EngineMissing(AsrError):
    code = "engine_missing"


class ModelMissing(AsrError):
    code = "model_missing"


class UnsupportedRate(AsrError):
    code = "unsupported_rate"


class UnsupportedEncoding(AsrError):
    code = "unsupported_encoding"


class GrammarUnsupported(AsrError):
    code = "grammar_unsupported"


class RecognitionFailed(AsrError):
    code = "recognition_failed"


def check_rate(sample_rate: int) -> int:
    if sample_rate not in SUPPORTED_RATES:
        raise UnsupportedRate(
            f"unsupported sample rate {sample_rate} Hz: streams take 16-bit mono PCM at "
            f"{' or '.join(str(r) for r in SUPPORTED_RATES)} Hz (resample with voice.audio.resample)",
            details={"sample_rate": sample_rate, "supported": list(SUPPORTED_RATES)},
        )
    return sample_rate


# --------------------------------------------------------------------------- the port


@dataclass(frozen=True, slots=True)
class RawWord:
    """A word as the decoder reports it: seconds since the recogniser's last reset."""

    text: str
    start_s: float
    end_s: float
    conf: float


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    words: tuple[RawWord, ...] = ()


class Recognizer(ABC):
    """One decoder instance. Not thread-safe: a stream owns it between acquire and release and
    calls it from one worker thread at a time. Blocking, CPU-bound calls."""

    sample_rate: int

    @abstractmethod
    def accept(self, pcm: bytes) -> bool:
        """Decode 16-bit mono PCM; True when an utterance ended (then call :meth:`result`)."""

    @abstractmethod
    def partial(self) -> Utterance:
        """The hypothesis for the utterance in progress (may be empty)."""

    @abstractmethod
    def result(self) -> Utterance:
        """The utterance that just ended (after :meth:`accept` returned True)."""

    @abstractmethod
    def flush(self) -> Utterance:
        """End of audio: the last utterance (may be empty)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget all state; word times restart at 0."""


class RecognizerPool(ABC):
    """Recognisers sharing one loaded model, reused across calls."""

    @abstractmethod
    def acquire(self, sample_rate: int, phrases: Sequence[str] | None = None) -> Recognizer:
        """A reset recogniser for this rate (and optional phrase list / grammar)."""

    @abstractmethod
    def release(self, recognizer: Recognizer) -> None:
        """Give a recogniser back after its stream: the pool frees or resets it (the vosk pool
        frees it and keeps a fresh one ready)."""

    def discard(self, recognizer: Recognizer) -> None:  # noqa: B027 - optional bookkeeping hook
        """A recogniser that must not be reused (its stream was cancelled while it decoded)."""
