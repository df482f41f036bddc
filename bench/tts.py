"""Piper TTS benchmark with the packaged joe-us voice.

Run from the repository root: ``python bench/tts.py``. Prints one JSON line and writes it to
``bench/results/tts.json``.

- ``rtf``: synthesis wall time / audio duration over a set of IVR-style prompts (voice loaded,
  one warm-up), output resampled to 8 kHz as a call needs it.
- ``first_audio_ms``: median time from the call to the first 8 kHz PCM piece of a multi-sentence
  prompt (piper yields one piece per sentence).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from voice.audio import duration_s  # noqa: E402
from voice.tts.piper import PiperEngine  # noqa: E402

RATE = 8000
PROMPTS = [
    "Thank you for calling. An agent will be with you shortly.",
    "Your call is important to us. Please stay on the line.",
    "For sales, press one. For support, press two. To leave a message, press three.",
    "All of our agents are busy right now. Your estimated waiting time is four minutes.",
    "Please say in a few words what you are calling about.",
]
ROUNDS = 3


def main() -> dict[str, object]:
    t = time.perf_counter()
    engine = PiperEngine()
    engine.load()
    load_s = time.perf_counter() - t
    engine.synthesize("Warming up.", rate_hz=RATE)

    synth_s = 0.0
    audio_s = 0.0
    for _ in range(ROUNDS):
        for text in PROMPTS:
            t = time.perf_counter()
            pcm = engine.synthesize(text, rate_hz=RATE)
            synth_s += time.perf_counter() - t
            audio_s += duration_s(pcm, RATE)

    firsts = []
    for _ in range(ROUNDS):
        for text in PROMPTS:
            t = time.perf_counter()
            stream = engine.synthesize_stream(text, rate_hz=RATE)
            next(stream)
            firsts.append((time.perf_counter() - t) * 1000.0)
            stream.close()

    return {
        "bench": "tts",
        "engine": "piper",
        "rtf": round(synth_s / audio_s, 4),
        "first_audio_ms": round(statistics.median(firsts), 1),
        "voice": engine.default_voice,
        "rate_hz": RATE,
        "audio_s": round(audio_s, 2),
        "voice_load_s": round(load_s, 2),
        "cores": os.cpu_count(),
    }


if __name__ == "__main__":
    res = main()
    line = json.dumps(res)
    print(line)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tts.json").write_text(line + "\n")
