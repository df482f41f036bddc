"""Coqui's synthesis path for real, with a tiny two-speaker VITS model built from coqui's own
config classes (random weights: the audio is noise, but every step of coqui's inference runs).

coqui-tts 0.28 needs torchaudio, whose last release (2.11) is built for torch 2.11; the hub's
environment keeps torch 2.13 (CPU) for the knowledge base. So ``make test`` builds a second
environment, ``.venv-coqui`` (torch/torchaudio 2.11, coqui-tts 0.28), and this test runs
``coqui_child.py`` there against the repository's ``voice.tts`` package: the factory, the coqui
adapter, resampling to the call's rate, the prompt cache and the language routing are the code
the hub runs. The child reports; the assertions are here (audio measured with sox).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.audio import sox_stat

from .conftest import need

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("coqui_child.py")


def coqui_python() -> Path:
    python = Path(os.environ.get("HUB_COQUI_PYTHON") or ROOT / ".venv-coqui" / "bin" / "python")
    if not python.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{python} is missing: `make test` builds .venv-coqui (make coqui)")
        pytest.skip(f"{python} is missing: run `make coqui` for coqui-tts and the torch it needs")
    return python


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("coqui")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(coqui_python()), str(CHILD), str(work)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_coqui_model_folder_is_the_primary_engine_with_its_speakers_as_voices(report: dict) -> None:
    assert report["coqui_tts"] == "0.28.0"
    assert report["engine"] == "coqui" and report["skipped"] == {}
    assert report["voices"] == [["anna", "en", "coqui", 22050], ["ben", "en", "coqui", 22050]]
    assert report["default_voice"] == "anna" and report["default_route"] == ["coqui", "anna"]
    assert report["model"]["parameters"] < 1_000_000  # tiny: built from VitsConfig, not downloaded


def test_coqui_speaks_a_prompt_resampled_to_the_call_rate(report: dict, tmp_path: Path) -> None:
    need("sox")
    native = report["prompts"]["coqui:anna@22050"]
    call = report["prompts"]["coqui:anna@8000"]
    # the same utterance, resampled from coqui's 22.05 kHz to the call's 8 kHz
    assert abs(call["samples"] - native["samples"] * 8000 / 22050) <= 2
    for key in ("coqui:anna@8000", "coqui:ben@8000"):
        prompt = report["prompts"][key]
        stats = sox_stat(Path(prompt["wav"]))
        assert stats["Samples read"] / stats["Length (seconds)"] == pytest.approx(8000)
        assert stats["Length (seconds)"] == pytest.approx(prompt["samples"] / 8000, abs=0.01)
        assert stats["Length (seconds)"] > 0.5
        assert stats["RMS amplitude"] > 0.01  # sound, not silence
        assert stats["Maximum amplitude"] <= 1.0
    anna = Path(report["prompts"]["coqui:anna@8000"]["wav"]).read_bytes()
    ben = Path(report["prompts"]["coqui:ben@8000"]["wav"]).read_bytes()
    assert anna != ben  # each speaker embedding gives its own audio


def test_a_repeated_coqui_prompt_comes_from_the_cache(report: dict) -> None:
    for prompt in report["prompts"].values():
        assert prompt["same_on_hit"] is True
        assert prompt["cache_hit_ms"] < 5.0, prompt


def test_coqui_bad_input_gives_clear_errors_and_other_scripts_go_to_espeak(report: dict) -> None:
    assert report["errors"] == {"unknown_voice": "unknown_voice", "empty_text": "empty_text",
                                "bad_rate": "unsupported_rate", "no_checkpoint": "engine_missing"}
    assert report["korean_route"] == ["espeak-ng", "ko"]
