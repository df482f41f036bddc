"""Coqui TTS adapter (optional extra) for users with Coqui / XTTS model folders.

``TTS`` (the coqui-tts package) and torch are imported only here. A missing or unusable install
(coqui-tts needs torch, torchaudio and, for torch >= 2.9, torchcodec built for the same torch)
fails with :class:`~voice.tts.base.EngineMissing` carrying an install hint.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from voice.tts.base import EngineMissing, SynthesisFailed, TtsEngine, VoiceInfo

# The set the test suite runs (``make coqui`` builds it in .venv-coqui): coqui-tts imports torchaudio,
# whose last release, 2.11, is built for torch 2.11; 0.28 also imports six without declaring it.
INSTALL_HINT = (
    "pip install torch==2.11.0 torchaudio==2.11.0 torchcodec==0.11.1 coqui-tts==0.28.0 six "
    "(coqui-tts needs a torchaudio built for the installed torch)"
)


def _import_synthesizer() -> Any:
    try:
        from TTS.utils.synthesizer import Synthesizer
    except ImportError as err:  # coqui raises ImportError for a missing torch/torchaudio too
        first_line = (str(err).strip().splitlines() or [""])[0] or repr(err)
        raise EngineMissing(
            f"coqui-tts is not usable here ({type(err).__name__}: {first_line}): "
            f"{INSTALL_HINT}",
            details={"install": "coqui-tts", "cause": str(err).strip()},
        ) from err
    return Synthesizer


class CoquiEngine(TtsEngine):
    """One Coqui model folder (``model.pth`` + ``config.json``); its speakers are the voices."""

    name = "coqui"

    def __init__(
        self,
        model_path: Path,
        config_path: Path | None = None,
        *,
        language: str = "und",
        default_voice: str | None = None,
    ) -> None:
        synthesizer_cls = _import_synthesizer()
        model_path = Path(model_path)
        if model_path.is_dir():
            folder = model_path
            candidates = sorted(folder.glob("*.pth"))
            if not candidates:
                raise EngineMissing(f"no .pth checkpoint in coqui model folder {folder}")
            model_path = candidates[0]
        config_path = Path(config_path) if config_path else model_path.parent / "config.json"
        if not model_path.is_file() or not config_path.is_file():
            raise EngineMissing(
                f"coqui model {model_path} or config {config_path} is missing",
                details={"model_path": str(model_path), "config_path": str(config_path)},
            )
        try:
            self._synth = synthesizer_cls(
                tts_checkpoint=str(model_path), tts_config_path=str(config_path), use_cuda=False
            )
        except Exception as err:
            raise SynthesisFailed(f"coqui could not load {model_path}: {err}") from err
        self._rate = int(self._synth.output_sample_rate)
        manager = getattr(self._synth.tts_model, "speaker_manager", None)
        speakers = list(manager.speaker_names) if manager is not None and manager.speaker_names else []
        ids = speakers or [model_path.parent.name or "default"]
        self._speakers = bool(speakers)
        self._infos = {v: VoiceInfo(v, language, self.name, self._rate) for v in ids}
        self._default = default_voice or ids[0]
        self._lock = threading.Lock()

    def voices(self) -> list[VoiceInfo]:
        return list(self._infos.values())

    @property
    def default_voice(self) -> str:
        return self._default

    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        try:
            with self._lock:
                wav = self._synth.tts(text, speaker_name=voice if self._speakers else None)
        except Exception as err:
            raise SynthesisFailed(f"coqui failed: {err}", details={"voice": voice}) from err
        samples = np.clip(np.asarray(wav, dtype=np.float64), -1.0, 1.0) * 32767.0
        yield np.rint(samples).astype("<i2").tobytes(), self._rate
