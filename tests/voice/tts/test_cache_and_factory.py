"""The prompt cache and the factory's fallback and language routing, with real engines."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

import pytest

from voice.audio import duration_s
from voice.tts.base import TtsError
from voice.tts.cache import CachedTtsEngine, PromptCache, cache_key
from voice.tts.factory import TtsConfig, create_tts, detect_language
from voice.tts.piper import PiperEngine

from .conftest import need


def test_cache_hit_costs_under_5_ms_and_returns_the_same_audio(
    piper: PiperEngine, tmp_path: Path
) -> None:
    cached = CachedTtsEngine(piper, PromptCache(tmp_path / "prompts"))
    first = cached.synthesize("Your call is important to us.", rate_hz=8000)
    assert cached.cache.misses == 1
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        again = cached.synthesize("Your call is important to us.", rate_hz=8000)
        timings.append(time.perf_counter() - started)
        assert again == first
    assert cached.cache.hits == 20
    assert statistics.median(timings) < 0.005, timings


def test_cache_key_separates_engine_voice_rate_and_text(
    steady_piper: PiperEngine, tmp_path: Path
) -> None:
    keys = {
        cache_key("piper", "a", 8000, "hello"),
        cache_key("piper", "a", 16000, "hello"),
        cache_key("piper", "b", 8000, "hello"),
        cache_key("espeak-ng", "a", 8000, "hello"),
        cache_key("piper", "a", 8000, "hello!"),
    }
    assert len(keys) == 5
    cached = CachedTtsEngine(steady_piper, PromptCache(tmp_path))
    narrow = cached.synthesize("Goodbye.", rate_hz=8000)
    wide = cached.synthesize("Goodbye.", rate_hz=16000)
    assert len(wide) == pytest.approx(2 * len(narrow), rel=0.01)
    # a new process (new cache object, same folder) finds the prompts on disk
    reopened = CachedTtsEngine(steady_piper, PromptCache(tmp_path))
    assert reopened.synthesize("Goodbye.", rate_hz=8000) == narrow
    assert reopened.cache.hits == 1 and reopened.cache.misses == 0


def test_prerendered_ivr_prompts_are_hits_later(piper: PiperEngine, tmp_path: Path) -> None:
    cached = CachedTtsEngine(piper, PromptCache(tmp_path))
    keys = cached.prerender(["Press one for sales.", "Press two for support."])
    assert all(k in cached.cache for k in keys)
    cached.synthesize("Press two for support.")
    assert cached.cache.hits == 1


def test_factory_prefers_piper_and_skips_unconfigured_coqui() -> None:
    need("espeak-ng")
    tts = create_tts()
    assert tts.name == "piper"
    assert list(tts.engines) == ["piper", "espeak-ng"]
    assert "coqui" in tts.skipped


def test_factory_falls_back_to_espeak_when_piper_is_unavailable(tmp_path: Path) -> None:
    need("espeak-ng")
    config = TtsConfig(
        piper_voices={"missing": tmp_path / "missing.onnx"},
        coqui_model_path=tmp_path / "no-coqui-model",
    )
    tts = create_tts(config)
    assert tts.name == "espeak-ng"
    assert set(tts.skipped) == {"piper", "coqui"}
    pcm = tts.synthesize("Please hold while we connect you.", rate_hz=8000)
    assert duration_s(pcm, 8000) > 1.0


def test_factory_with_no_engine_at_all_is_engine_missing(tmp_path: Path) -> None:
    config = TtsConfig(
        engines=("piper", "espeak-ng"),
        piper_voices={"missing": tmp_path / "missing.onnx"},
        espeak_binary=str(tmp_path / "no-espeak"),
    )
    with pytest.raises(TtsError) as info:
        create_tts(config)
    assert info.value.code == "engine_missing"
    assert set(info.value.details["skipped"]) == {"piper", "espeak-ng"}


@pytest.mark.parametrize(
    ("text", "language"),
    [("您好，欢迎致电", "zh"), ("안녕하세요", "ko"), ("こんにちは", "ja"), ("Hello there", None)],
)
def test_language_is_detected_from_the_script(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_chinese_text_goes_to_espeak_zh_when_no_chinese_voice_is_configured() -> None:
    need("espeak-ng")
    tts = create_tts()
    engine, voice = tts.route("您好，欢迎致电客服中心。")
    assert (engine.name, voice) == ("espeak-ng", "zh")
    engine, voice = tts.route("Welcome to the help desk.")
    assert (engine.name, voice) == ("piper", "en_US-joe-medium")
    assert duration_s(tts.synthesize("您好，欢迎致电客服中心。", rate_hz=8000), 8000) > 1.0


def test_chinese_text_goes_to_the_configured_chinese_voice() -> None:
    need("espeak-ng")
    tts = create_tts(TtsConfig(language_voices={"zh": ("espeak", "yue")}))
    engine, voice = tts.route("您好")
    assert (engine.name, voice) == ("espeak-ng", "yue")


def test_english_text_goes_to_the_english_voice_when_the_primary_speaks_chinese() -> None:
    need("espeak-ng")
    chinese_first = TtsConfig(engines=("espeak-ng",), espeak_default_voice="cmn")
    tts = create_tts(chinese_first)
    assert tts.route("Your call is important to us.") == (tts.primary, "cmn")  # no English voice set
    tts = create_tts(replace(chinese_first, language_voices={"en": ("espeak-ng", "en-us")}))
    assert tts.route("Your call is important to us.")[1] == "en-us"
    assert tts.route("您好")[1] in ("cmn", "zh")  # espeak-ng: zh is an alias of cmn
    english_first = create_tts(TtsConfig(language_voices={"en": ("espeak-ng", "en-gb")}))
    assert english_first.route("Hello")[0].name == "piper"  # the primary speaks English already


def test_router_finds_voices_across_engines_and_rejects_unknown_ones() -> None:
    need("espeak-ng")
    tts = create_tts()
    assert tts.route("hi", "ko")[0].name == "espeak-ng"
    assert tts.route("hi", "espeak-ng:en-us")[1] == "en-us"
    assert tts.route("hi", "en_US-joe-medium")[0].name == "piper"
    for bad in ("nobody", "piper:nobody"):
        with pytest.raises(TtsError) as info:
            tts.synthesize("hi", voice=bad)
        assert info.value.code == "unknown_voice"
    with pytest.raises(TtsError) as info:
        tts.synthesize("  ")
    assert info.value.code == "empty_text"


def test_factory_cache_dir_puts_every_engine_behind_the_cache(tmp_path: Path) -> None:
    need("espeak-ng")
    tts = create_tts(TtsConfig(cache_dir=tmp_path))
    first = tts.synthesize("您好")
    assert tts.synthesize("您好") == first
    assert any(tmp_path.rglob("*.pcm"))
