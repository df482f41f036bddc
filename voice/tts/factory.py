"""Choose the TTS engine from configuration, with fallback and language routing.

Engines are tried in the configured order (default piper → coqui → espeak-ng); one that is absent
(package not installed, model missing, not configured) is skipped and the reason kept in
:attr:`TtsRouter.skipped`. Text in a script the primary voice does not speak (Chinese, Korean,
Japanese) goes to the voice configured for that language, else to espeak-ng for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from voice.tts.base import (
    EngineMissing,
    TtsEngine,
    TtsError,
    UnknownVoice,
    VoiceInfo,
    check_rate,
    check_text,
)
from voice.tts.cache import CachedTtsEngine, PromptCache

_LOGGER = logging.getLogger(__name__)

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ENGINE_ALIASES = {"espeak": "espeak-ng"}
# espeak-ng voice per detected language (espeak resolves "zh" to Mandarin, "cmn")
_ESPEAK_LANG = {"zh": "zh", "ko": "ko", "ja": "ja", "en": "en-us"}


def detect_language(text: str) -> str | None:
    """The script-level language of ``text``: ``ko``, ``ja``, ``zh`` or None (Latin/other)."""
    if _HANGUL.search(text):
        return "ko"
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    return None


class TtsSettingsLike(Protocol):
    """What ``TtsConfig.from_settings`` reads: ``voice.ivr.settings.TtsSettings`` (the hub's
    ``voice_tts_*`` keys); this package imports nothing of the hub."""

    @property
    def engines(self) -> tuple[str, ...]: ...
    @property
    def piper_voices(self) -> tuple[str, ...]: ...
    @property
    def coqui_model(self) -> str: ...
    @property
    def coqui_language(self) -> str: ...
    @property
    def language_voices(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class TtsConfig:
    """``engines``: preference order. ``piper_voices`` None → the packaged joe-us voice.
    ``coqui_model_path`` None → coqui is not configured (skipped). ``language_voices`` maps a
    language (``zh``, ``ko``, ``en``) to ``(engine, voice)``. ``cache_dir`` enables the prompt cache."""

    engines: tuple[str, ...] = ("piper", "coqui", "espeak-ng")
    piper_voices: Mapping[str, Path] | None = None
    piper_default_voice: str | None = None
    coqui_model_path: Path | None = None
    coqui_config_path: Path | None = None
    coqui_language: str = "und"
    espeak_binary: str = "espeak-ng"
    espeak_default_voice: str = "en-us"
    language_voices: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    cache_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: TtsSettingsLike, *, cache_dir: Path | None = None) -> TtsConfig:
        """The ``voice_tts_*`` settings (``voice.ivr.settings.TtsSettings``; their format is
        checked when the settings load)."""
        piper = dict(_pairs(settings.piper_voices))
        return cls(
            engines=tuple(settings.engines),
            piper_voices={vid: Path(path) for vid, path in piper.items()} or None,
            coqui_model_path=Path(settings.coqui_model) if settings.coqui_model else None,
            coqui_language=settings.coqui_language,
            language_voices={
                lang: (engine.strip(), vid.strip())
                for lang, target in _pairs(settings.language_voices)
                for engine, _, vid in [target.partition(":")]
            },
            cache_dir=cache_dir,
        )


def _pairs(items: Iterable[str]) -> Iterator[tuple[str, str]]:
    for item in items:
        key, _, value = item.partition("=")
        yield key.strip(), value.strip()


def _build_piper(config: TtsConfig) -> TtsEngine:
    from voice.tts.piper import PiperEngine

    return PiperEngine(config.piper_voices, config.piper_default_voice)


def _build_coqui(config: TtsConfig) -> TtsEngine:
    if config.coqui_model_path is None:
        raise EngineMissing("no coqui model folder configured (TtsConfig.coqui_model_path)")
    from voice.tts.coqui import CoquiEngine

    return CoquiEngine(
        config.coqui_model_path, config.coqui_config_path, language=config.coqui_language
    )


def _build_espeak(config: TtsConfig) -> TtsEngine:
    from voice.tts.espeak import EspeakEngine

    return EspeakEngine(config.espeak_binary, config.espeak_default_voice)


BUILDERS: dict[str, Callable[[TtsConfig], TtsEngine]] = {
    "piper": _build_piper,
    "coqui": _build_coqui,
    "espeak-ng": _build_espeak,
}


class TtsRouter(TtsEngine):
    """The engine the rest of the system uses: the primary engine plus language routing."""

    def __init__(
        self,
        engines: dict[str, TtsEngine],
        *,
        language_voices: Mapping[str, tuple[str, str]] | None = None,
        skipped: Mapping[str, str] | None = None,
    ) -> None:
        if not engines:
            raise EngineMissing("no TTS engine is available", details={"skipped": dict(skipped or {})})
        self.engines = engines  # in preference order
        self.primary = next(iter(engines.values()))
        self.name = self.primary.name
        self.language_voices = dict(language_voices or {})
        self.skipped = dict(skipped or {})

    def voices(self) -> list[VoiceInfo]:
        return [v for e in self.engines.values() for v in e.voices()]

    @property
    def default_voice(self) -> str:
        return self.primary.default_voice

    def _find(self, voice: str) -> tuple[TtsEngine, str]:
        if ":" in voice:
            engine_name, _, vid = voice.partition(":")
            engine = self.engines.get(_ENGINE_ALIASES.get(engine_name, engine_name))
            if engine is not None:
                return engine, engine.resolve_voice(vid)
        for engine in self.engines.values():
            if voice in {v.id for v in engine.voices()}:
                return engine, voice
        raise UnknownVoice(
            f"no configured TTS engine has voice {voice!r}",
            details={"voice": voice, "engines": list(self.engines)},
        )

    def route(self, text: str, voice: str | None = None) -> tuple[TtsEngine, str]:
        """Which engine and voice will speak ``text``."""
        if voice is not None:
            return self._find(voice)
        lang = detect_language(text)
        primary_lang = next(
            (v.language for v in self.primary.voices() if v.id == self.primary.default_voice), ""
        ).lower()
        if lang is None:  # Latin script: the primary voice, or the English one when it speaks another
            if "en" not in self.language_voices or primary_lang.startswith("en"):
                return self.primary, self.primary.default_voice
            lang = "en"
        if lang in self.language_voices:
            engine_name, vid = self.language_voices[lang]
            engine = self.engines.get(_ENGINE_ALIASES.get(engine_name, engine_name))
            if engine is not None:
                return engine, engine.resolve_voice(vid)
            _LOGGER.warning("voice for %s is on engine %s, which is unavailable", lang, engine_name)
        if primary_lang.startswith(lang):
            return self.primary, self.primary.default_voice
        espeak = self.engines.get("espeak-ng")
        if espeak is not None:
            return espeak, espeak.resolve_voice(_ESPEAK_LANG.get(lang, lang))
        _LOGGER.warning("no voice speaks %s and espeak-ng is absent: using the primary voice", lang)
        return self.primary, self.primary.default_voice

    def resolve_voice(self, voice: str | None) -> str:
        if voice is None:
            return self.primary.default_voice
        return self._find(voice)[1]

    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        engine, vid = self._find(voice)
        return engine._synthesize_native(text, vid)  # noqa: SLF001 - same port

    def synthesize_stream(
        self, text: str, voice: str | None = None, rate_hz: int = 8000
    ) -> Iterator[bytes]:
        text = check_text(text)
        check_rate(rate_hz)
        engine, vid = self.route(text, voice)
        return engine.synthesize_stream(text, vid, rate_hz)

    def synthesize(self, text: str, voice: str | None = None, rate_hz: int = 8000) -> bytes:
        text = check_text(text)
        check_rate(rate_hz)
        engine, vid = self.route(text, voice)
        return engine.synthesize(text, vid, rate_hz)


def create_tts(config: TtsConfig | None = None) -> TtsRouter:
    """Build the engines named in ``config.engines`` that are available, in order."""
    config = config or TtsConfig()
    cache = PromptCache(config.cache_dir) if config.cache_dir is not None else None
    engines: dict[str, TtsEngine] = {}
    skipped: dict[str, str] = {}
    wanted = [_ENGINE_ALIASES.get(n, n) for n in config.engines]
    # espeak-ng is also the language fallback, so build it when it is listed anywhere
    for name in wanted:
        builder = BUILDERS.get(name)
        if builder is None:
            skipped[name] = "unknown engine name"
            continue
        try:
            engine = builder(config)
        except TtsError as err:
            skipped[name] = err.message
            _LOGGER.info("TTS engine %s unavailable: %s", name, err.message)
            continue
        engines[name] = CachedTtsEngine(engine, cache) if cache is not None else engine
    if not engines:
        raise EngineMissing(
            "no TTS engine is available: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()),
            details={"skipped": skipped},
        )
    return TtsRouter(engines, language_voices=config.language_voices, skipped=skipped)
