"""The root of the voice package's errors: a stable ``code`` (part of the API, never renamed),
a message and ``details``. Each engine port (ASR, TTS) subclasses it with its own root."""

from __future__ import annotations

from typing import Any


class VoiceError(Exception):
    code: str = "voice_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"
