"""Local text-to-speech (VOICE-7): the port in ``base``, engines in ``piper``, ``coqui`` and
``espeak`` (each imports its library only when built), the prompt cache and the factory."""

from voice.tts.base import TtsEngine, TtsError, VoiceInfo
from voice.tts.cache import CachedTtsEngine, PromptCache
from voice.tts.factory import TtsConfig, TtsRouter, create_tts, detect_language

__all__ = [
    "CachedTtsEngine",
    "PromptCache",
    "TtsConfig",
    "TtsEngine",
    "TtsError",
    "TtsRouter",
    "VoiceInfo",
    "create_tts",
    "detect_language",
]
