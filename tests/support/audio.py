"""sox's own measurement of audio in tests: ``sox <wav> -n [effects] stat``."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

_STAT_LINE = re.compile(r"^([A-Za-z ()]+?):\s+(-?[\d.]+)")


def sox_stat(path: Path, *effects: str) -> dict[str, float]:
    """The figures of ``sox stat`` by name ("Length (seconds)", "RMS amplitude", ...), spaces
    inside a name collapsed to one."""
    out = subprocess.run(["sox", str(path), "-n", *effects, "stat"], capture_output=True, text=True,
                         timeout=30, check=True).stderr
    stats = {}
    for line in out.splitlines():
        m = _STAT_LINE.match(line)
        if m:
            stats[" ".join(m.group(1).split())] = float(m.group(2))
    return stats


def write_wav(path: Path, pcm: bytes, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path
