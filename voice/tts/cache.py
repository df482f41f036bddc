"""On-disk prompt cache: a repeated prompt costs one file read.

Keyed by sha256 of (engine, voice, rate, text); files are raw 16-bit mono PCM written atomically
(temp file + rename), so a crash never leaves a half prompt behind and readers need no lock.
:class:`CachedTtsEngine` wraps any engine with the cache (IVR flows pre-render their prompts
with :meth:`CachedTtsEngine.prerender` when they are saved).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from voice.tts.base import TtsEngine, VoiceInfo, check_rate, check_text


def cache_key(engine: str, voice: str, rate_hz: int, text: str) -> str:
    payload = json.dumps([engine, voice, int(rate_hz), text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class PromptCache:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.pcm"

    def get(self, key: str) -> bytes | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put(self, key: str, pcm: bytes) -> Path:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pcm")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pcm)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()


class CachedTtsEngine(TtsEngine):
    """Any engine behind a :class:`PromptCache`. Same interface; hits skip synthesis."""

    def __init__(self, engine: TtsEngine, cache: PromptCache) -> None:
        self.engine = engine
        self.cache = cache
        self.name = engine.name

    def voices(self) -> list[VoiceInfo]:
        return self.engine.voices()

    @property
    def default_voice(self) -> str:
        return self.engine.default_voice

    def resolve_voice(self, voice: str | None) -> str:
        return self.engine.resolve_voice(voice)

    def _synthesize_native(self, text: str, voice: str) -> Iterator[tuple[bytes, int]]:
        return self.engine._synthesize_native(text, voice)  # noqa: SLF001 - same port

    def key(self, text: str, voice: str | None, rate_hz: int) -> str:
        return cache_key(self.name, self.resolve_voice(voice), rate_hz, check_text(text))

    def synthesize(self, text: str, voice: str | None = None, rate_hz: int = 8000) -> bytes:
        text = check_text(text)
        check_rate(rate_hz)
        voice_id = self.resolve_voice(voice)
        key = cache_key(self.name, voice_id, rate_hz, text)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        pcm = self.engine.synthesize(text, voice_id, rate_hz)
        self.cache.put(key, pcm)
        return pcm

    def synthesize_stream(
        self, text: str, voice: str | None = None, rate_hz: int = 8000
    ) -> Iterator[bytes]:
        yield self.synthesize(text, voice, rate_hz)

    def prerender(
        self, texts: Iterable[str], voice: str | None = None, rate_hz: int = 8000
    ) -> list[str]:
        """Render prompts ahead of time (e.g. when an IVR flow is saved); returns their keys."""
        keys = []
        for text in texts:
            self.synthesize(text, voice, rate_hz)
            keys.append(self.key(text, voice, rate_hz))
        return keys
