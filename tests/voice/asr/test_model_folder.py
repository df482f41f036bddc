"""A vosk model from a configured folder (``voice_asr_model``), the way a Mandarin model is used
(issue #17: ``vosk-model-cn-0.22`` unpacked somewhere, docs/CONFIGURATION.md "Chinese speech"). No
Chinese model can be installed on this machine: the path is proven with the one real model here,
the Korean package's, unpacked into a folder of its own, and Korean speech from espeak-ng."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap import load_settings
from voice.asr.base import AsrError, Final, Leg
from voice.asr.stream import Transcriber
from voice.asr.vosk import VoskConfig, create_vosk_transcriber, default_model_path
from voice.calls.settings import VoiceSettings

from .conftest import Speech
from .test_vosk_stream import transcribe


def unpacked_model(folder: Path) -> Path:
    """A model folder laid out like a download from the vosk site (am/, conf/, graph/, ivector/):
    the Korean package's files, linked into ``folder``."""
    folder.mkdir(parents=True)
    for part in default_model_path().iterdir():
        (folder / part.name).symlink_to(part, target_is_directory=part.is_dir())
    return folder


async def test_a_model_folder_set_in_the_settings_is_loaded_and_transcribes(
        tmp_path: Path, korean_speech: dict[str, Speech]) -> None:
    folder = unpacked_model(tmp_path / "models" / "vosk-model-small-ko")
    settings = load_settings(environ={"HUB_VOICE_ASR_MODEL": str(folder)})
    configured = settings.section(VoiceSettings).asr_model
    assert configured == str(folder)
    # what the hub's call transcription and voicemail do with the setting
    with create_vosk_transcriber(VoskConfig(model_path=Path(configured))) as transcriber:
        assert isinstance(transcriber, Transcriber)
        assert transcriber.pool.model_path == folder  # type: ignore[attr-defined]
        speech = korean_speech["greeting"]
        stream = await transcriber.open_stream(Leg.CALLER, 8000)
        results, _ = await transcribe(stream, speech.pcm8k, 320)
    heard = " ".join(r.text for r in results if isinstance(r, Final))
    assert heard.strip(), "nothing recognised with the configured model folder"


def test_an_incomplete_model_folder_says_what_to_install(tmp_path: Path) -> None:
    folder = unpacked_model(tmp_path / "vosk-model-cn-0.22")
    (folder / "am").unlink()  # a link to the package's folder: the package stays whole
    with pytest.raises(AsrError) as info:
        create_vosk_transcriber(VoskConfig(model_path=folder))
    assert info.value.code == "model_missing"
    assert "vosk-model-cn" in str(info.value)  # the hint names the Mandarin model too
