"""The IVR's settings sections (docs/CONFIGURATION.md, "IVR" and "Voice: text-to-speech"):
``IvrSettings`` (keys ``ivr_*``) and ``TtsSettings`` (keys ``voice_tts_*``), the engines the IVR
speaks its prompts with. The IVR is their only user; ``voice/tts`` is a library that must not
import the hub, so its section is declared here and handed to ``TtsConfig.from_settings``."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Section
from hub.errors import ConfigError

TTS_ENGINES = frozenset({"piper", "coqui", "espeak-ng", "espeak"})
TTS_LANGUAGES = frozenset({"zh", "ko", "ja", "en"})


@dataclass(frozen=True)
class IvrSettings(Section):
    prefix = "ivr_"

    # render a flow's text prompts when it is saved or published, and every published flow's
    # when the hub starts with voice on (calls then play them from memory)
    prerender_tts: bool = True
    tts_cache_dir: str = ""  # the rendered prompts (keyed by text, engine, voice); empty: <data_dir>/ivr/tts


@dataclass(frozen=True)
class TtsSettings(Section):
    prefix = "voice_tts_"

    engines: tuple[str, ...] = ("piper", "coqui", "espeak-ng")  # preference order; absent ones skipped
    piper_voices: tuple[str, ...] = ()  # "<voice id>=<model .onnx>"; empty: the packaged joe-us voice
    coqui_model: str = ""  # Coqui model folder (.pth + config.json); empty: coqui not used
    coqui_language: str = "und"  # language the coqui voices speak (en, zh, ...)
    language_voices: tuple[str, ...] = ()  # "<zh|ko|ja|en>=<engine>:<voice>"

    def validate(self) -> None:
        if not self.engines or not set(self.engines) <= TTS_ENGINES:
            raise ConfigError("setting 'voice_tts_engines' must list engines among piper, coqui, espeak-ng, "
                              f"got {list(self.engines)}")
        for item in self.piper_voices:
            voice, sep, path = item.partition("=")
            if not sep or not voice.strip() or not path.strip().endswith(".onnx"):
                raise ConfigError(f"setting 'voice_tts_piper_voices' entry {item!r} is not "
                                  "'<voice id>=<model .onnx>'")
        for item in self.language_voices:
            language, sep, target = item.partition("=")
            engine, colon, voice = target.partition(":")
            if not sep or language.strip() not in TTS_LANGUAGES or engine.strip() not in TTS_ENGINES \
                    or not colon or not voice.strip():
                raise ConfigError(f"setting 'voice_tts_language_voices' entry {item!r} is not "
                                  "'<zh|ko|ja|en>=<engine>:<voice>' (engine: piper, coqui or espeak-ng)")
