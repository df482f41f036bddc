"""The text-to-speech port: one small abstract class, voice descriptions, errors with codes.

Every engine returns 16-bit mono PCM at the rate the caller asks for (the call's codec rate),
resampling from its native rate with :func:`voice.audio.resample`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from voice.audio import resample
from voice.errors import VoiceError

SUPPORTED_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice an engine can speak with. ``language`` is a BCP-47-ish code (``en-US``, ``ko``)."""

    id: str
    language: str
    engine: str
    native_rate: int


class TtsError(VoiceError):
    """Root of every text-to-speech error. ``code`` is part of the API: never renamed."""

    code: str = "tts_error"


class EmptyText(TtsError):
    code = "empty_text"


class UnknownVoice(TtsError):
    code = "unknown_voice"


class EngineMissing(TtsError):
    code = "engine_missing"


class UnsupportedRate(TtsError):
    code = "unsupported_rate"


class SynthesisFailed(TtsError):
    code = "synthesis_failed"


def check_text(text: str) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise EmptyText("nothing to say: the text is empty")
    return cleaned


def check_rate(rate_hz: int) -> int:
    if rate_hz not in SUPPORTED_RATES:
        raise UnsupportedRate(
            f"unsupported output rate {rate_hz} Hz (use one of {SUPPORTED_RATES})",
            details={"rate_hz": rate_hz},
        )
    return rate_hz


class TtsEngine(ABC):
    """A speech synthesiser. Calls are blocking and CPU-bound: from asyncio use
    :meth:`synthesize_async` (a worker thread)."""

    name: str

    @abstractmethod
    def voices(self) -> list[VoiceInfo]:
        """The voices this engine can use."""

    @property
    @abstractmethod
    def default_voice(self) -> str:
        """The voice id used when none is given."""

    @abstractmethod
    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        """Yield (PCM, native rate) pieces, e.g. one per sentence. ``text`` is non-empty and
        ``voice`` is a known voice id."""

    def resolve_voice(self, voice: str | None) -> str:
        if voice is None:
            return self.default_voice
        if voice not in {v.id for v in self.voices()}:
            raise UnknownVoice(
                f"{self.name} has no voice {voice!r}",
                details={"engine": self.name, "voice": voice},
            )
        return voice

    def synthesize_stream(
        self, text: str, voice: str | None = None, rate_hz: int = 8000
    ) -> Iterator[bytes]:
        """PCM pieces at ``rate_hz`` as soon as each is ready (first audio early)."""
        text = check_text(text)
        check_rate(rate_hz)
        voice_id = self.resolve_voice(voice)
        for pcm, native in self._synthesize_native(text, voice_id):
            yield resample(pcm, native, rate_hz)

    def synthesize(self, text: str, voice: str | None = None, rate_hz: int = 8000) -> bytes:
        """The whole utterance as 16-bit mono PCM at ``rate_hz``."""
        return b"".join(self.synthesize_stream(text, voice, rate_hz))

    async def synthesize_async(
        self, text: str, voice: str | None = None, rate_hz: int = 8000
    ) -> bytes:
        return await asyncio.to_thread(self.synthesize, text, voice, rate_hz)
