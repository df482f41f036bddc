"""Prompt uploads: check a WAV file and convert it to 8 kHz mono 16-bit PCM WAV (the call rate).

PCM WAV (8/16/24/32-bit, any rate, mono or stereo) is read with the ``wave`` module and converted
with :mod:`voice.audio`; other WAV encodings (µ-law, A-law, IMA ADPCM, float) go through ``sox``.
Anything that is not a RIFF/WAVE file is refused before it is decoded.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from voice.audio import array_to_pcm, resample
from voice.ivr.errors import IvrError

RATE = 8000
MAX_PROMPT_S = 600.0


class PromptUnsupported(IvrError):
    """Not a WAV file at all (HTTP 415)."""

    code = "ivr_prompt_unsupported"


class PromptInvalid(IvrError):
    """A WAV file that cannot be decoded or is empty/too long (HTTP 422)."""

    code = "ivr_prompt_invalid"


def is_wav(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def _pcm_from_wave(data: bytes) -> tuple[bytes, int]:
    with wave.open(io.BytesIO(data), "rb") as w:
        channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(n)
    if channels < 1 or rate < 4000 or rate > 192000:
        raise PromptInvalid(f"the WAV file has an unusable format ({channels} channels, {rate} Hz)")
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 2:
        samples = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2").astype(np.int32)
    elif width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3)
        samples = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8)
                   | (b[:, 2].astype(np.int8).astype(np.int32) << 16)) >> 8
    elif width == 4:
        samples = np.frombuffer(raw[: len(raw) - len(raw) % 4], dtype="<i4") >> 16
    else:
        raise PromptInvalid(f"the WAV file has {8 * width}-bit samples")
    usable = len(samples) - len(samples) % channels
    if channels > 1:
        samples = samples[:usable].reshape(-1, channels).mean(axis=1)
    pcm = array_to_pcm(np.asarray(samples, dtype=np.float64))
    return (resample(pcm, rate, RATE) if rate != RATE else pcm), RATE


def _pcm_with_sox(data: bytes) -> bytes:
    sox = shutil.which("sox")
    if sox is None:
        raise PromptInvalid("this WAV encoding needs sox to convert it; install sox or upload "
                            "16-bit PCM WAV")
    with tempfile.TemporaryDirectory(prefix="ivr-prompt-") as tmp:
        src = Path(tmp) / "in.wav"
        dst = Path(tmp) / "out.raw"
        src.write_bytes(data)
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                [sox, "-q", str(src), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                 "-t", "raw", str(dst)], capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired as err:
            raise PromptInvalid("converting the WAV file took too long") from err
        if proc.returncode != 0 or not dst.exists():
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise PromptInvalid("the WAV file cannot be decoded"
                                + (f": {msg[-1]}" if msg else ""))
        return dst.read_bytes()


def convert_prompt(data: bytes) -> tuple[bytes, float]:
    """WAV bytes → (8 kHz mono 16-bit PCM, duration in seconds). Raises ``PromptUnsupported``
    for non-WAV data and ``PromptInvalid`` for a WAV that cannot be used."""
    if not is_wav(data):
        raise PromptUnsupported("prompts must be WAV files (RIFF/WAVE)")
    try:
        pcm, _ = _pcm_from_wave(data)
    except (wave.Error, EOFError) as err:
        if "unknown format" not in str(err):
            raise PromptInvalid(f"the WAV file is damaged: {err}") from err
        pcm = _pcm_with_sox(data)
    duration = len(pcm) / 2 / RATE
    if duration < 0.05:
        raise PromptInvalid("the WAV file has no audio")
    if duration > MAX_PROMPT_S:
        raise PromptInvalid(f"the prompt is {duration:.0f} s long; the limit is {MAX_PROMPT_S:.0f} s")
    return pcm, duration


def write_wav(path: Path, pcm: bytes, rate: int = RATE) -> None:
    """Write 16-bit mono PCM as a WAV file atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
