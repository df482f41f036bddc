"""espeak-ng adapter (the last-resort engine): a subprocess per utterance, any language espeak has
(``ko``, ``zh``/``cmn``, ``en``...). Text goes in on stdin, so it can never be read as options."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Iterator
from functools import cached_property

from voice.tts.base import EngineMissing, SynthesisFailed, TtsEngine, VoiceInfo

INSTALL_HINT = "apt-get install espeak-ng"
NATIVE_RATE = 22050
_TIMEOUT_S = 60.0


def _wav_pcm(data: bytes) -> tuple[bytes, int]:
    """16-bit PCM and rate from a streamed RIFF/WAVE (espeak leaves the sizes unset on stdout)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SynthesisFailed("espeak-ng did not write a WAV stream")
    pos, rate = 12, NATIVE_RATE
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            _fmt, channels, rate, _br, _ba, bits = struct.unpack_from("<HHIIHH", data, body)
            if channels != 1 or bits != 16:
                raise SynthesisFailed(f"espeak-ng wrote {channels} ch / {bits} bit audio")
        elif cid == b"data":
            pcm = data[body : body + size] if body + size <= len(data) else data[body:]
            return pcm[: len(pcm) - len(pcm) % 2], rate
        pos = body + size + (size & 1)
    raise SynthesisFailed("espeak-ng's WAV stream has no data chunk")


class EspeakEngine(TtsEngine):
    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng", default_voice: str = "en-us") -> None:
        path = shutil.which(binary)
        if path is None:
            raise EngineMissing(
                f"espeak-ng is not installed ({binary!r} not found): {INSTALL_HINT}",
                details={"install": "espeak-ng", "binary": binary},
            )
        self.binary = path
        self._default = default_voice

    @cached_property
    def _voices(self) -> list[VoiceInfo]:
        out = subprocess.run(
            [self.binary, "--voices"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        ).stdout
        seen: dict[str, VoiceInfo] = {}
        for line in out.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 5:
                continue
            ids = [parts[1]]
            # aliases such as "(zh 5)" or "(en 3)": languages this voice also answers to
            rest = " ".join(parts[5:])
            ids += [a.strip("(").split()[0] for a in rest.split(")") if a.strip().startswith("(")]
            for vid in ids:
                seen.setdefault(vid, VoiceInfo(vid, parts[1], self.name, NATIVE_RATE))
        return list(seen.values())

    def voices(self) -> list[VoiceInfo]:
        return self._voices

    @property
    def default_voice(self) -> str:
        return self._default

    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        try:
            proc = subprocess.run(
                [self.binary, "-v", voice, "-b", "1", "--stdout"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SynthesisFailed(f"espeak-ng failed: {err}") from err
        if proc.returncode != 0:
            raise SynthesisFailed(
                f"espeak-ng exited with {proc.returncode}: {proc.stderr.decode(errors='replace')}",
                details={"voice": voice},
            )
        yield _wav_pcm(proc.stdout)
