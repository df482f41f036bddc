"""Prompt audio: WAV files (or generated tones) cut into 20 ms G.711 frames, cached per codec.

Prompts are read and encoded once (off the event loop by the caller when it matters) and then
played from memory: a frame is a 160-byte ``bytes`` object sent as is.
"""

from __future__ import annotations

import math
import os
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.audio import array_to_pcm, pcm_to_array, resample
from voice.media.g711 import SILENCE, encode

__all__ = ["FRAME_SAMPLES", "Prompt", "PromptCache", "load_wav_pcm", "music_on_hold_pcm"]

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz


class PromptError(ValueError):
    code = "prompt_unreadable"


@dataclass(frozen=True)
class Prompt:
    """A prompt encoded for one codec: a tuple of 160-byte frames."""

    name: str
    codec: str
    frames: tuple[bytes, ...]

    @property
    def duration_s(self) -> float:
        return len(self.frames) * FRAME_SAMPLES / RATE


def load_wav_pcm(path: str | os.PathLike[str]) -> bytes:
    """A PCM WAV file (8/16-bit, mono or stereo, any rate) → 8 kHz 16-bit mono PCM."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as err:
        raise PromptError(f"cannot read prompt {path}: {err}") from err
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    elif width == 2:
        samples = pcm_to_array(raw)
    else:
        raise PromptError(f"prompt {path} has {8 * width}-bit samples; use 16-bit PCM")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    pcm = array_to_pcm(samples)
    return resample(pcm, rate, RATE) if rate != RATE else pcm


def music_on_hold_pcm(seconds: float = 8.0) -> bytes:
    """A soft generated melody (used when no music-on-hold file is configured)."""
    notes = [523.25, 659.25, 783.99, 659.25, 587.33, 698.46, 880.0, 698.46]
    per = int(RATE * seconds / len(notes))
    t = np.arange(per) / RATE
    env = np.minimum(1.0, np.minimum(t / 0.03, (per / RATE - t) / 0.08))
    parts = [0.18 * 32767 * env * (np.sin(2 * math.pi * f * t) + 0.3 * np.sin(4 * math.pi * f * t)) / 1.3
             for f in notes]
    return array_to_pcm(np.concatenate(parts))


def frames_of(pcm: bytes, codec: str) -> tuple[bytes, ...]:
    data = encode(pcm, codec)
    step = FRAME_SAMPLES
    rem = len(data) % step
    if rem:
        data += bytes([SILENCE[codec]]) * (step - rem)
    return tuple(data[i : i + step] for i in range(0, len(data), step))


class PromptCache:
    """Encoded prompts by (source, codec). Files are re-read when their mtime changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Prompt]] = {}

    def peek(self, source: str | Path, codec: str) -> Prompt | None:
        """The prompt when it is in memory and its file unchanged (one ``stat``, nothing read),
        else None: load it with :meth:`get` off the event loop."""
        key = (str(source), codec)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            return None
        if not key[0].startswith("builtin:"):
            try:
                if os.stat(source).st_mtime != hit[0]:
                    return None
            except OSError:
                return None
        return hit[1]

    def get(self, source: str | Path, codec: str) -> Prompt:
        """``source`` is a WAV path or ``builtin:moh`` (the generated music on hold)."""
        key = (str(source), codec)
        mtime = 0.0 if str(source).startswith("builtin:") else os.stat(source).st_mtime
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == mtime:
                return hit[1]
        if str(source) == "builtin:moh":
            pcm = music_on_hold_pcm()
        elif str(source).startswith("builtin:"):
            raise PromptError(f"unknown built-in prompt {source}")
        else:
            pcm = load_wav_pcm(source)
        prompt = Prompt(Path(str(source)).name, codec, frames_of(pcm, codec))
        with self._lock:
            self._cache[key] = (mtime, prompt)
        return prompt
