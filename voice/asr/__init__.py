"""Offline speech recognition (VOICE-6): the port in ``base``, streaming in ``stream``, the vosk
adapter in ``vosk`` (which imports the ``vosk`` package only when a pool is created)."""

from voice.asr.base import (
    AsrError,
    AsrResult,
    Final,
    Leg,
    Partial,
    Recognizer,
    RecognizerPool,
    Word,
)
from voice.asr.stream import StreamStats, Transcriber, TranscriptionStream

__all__ = [
    "AsrError",
    "AsrResult",
    "Final",
    "Leg",
    "Partial",
    "Recognizer",
    "RecognizerPool",
    "StreamStats",
    "Transcriber",
    "TranscriptionStream",
    "Word",
]
