"""Text prompts rendered ahead of the calls (issue #18, "dead air"): every published flow's text
prompts, in every language the flow speaks, become 8 kHz WAV files before a caller reaches them.

A rendering is cached on disk under the text, the TTS engine and the voice that speak it (the
``voice_tts_*`` settings decide both: :meth:`voice.tts.TtsRouter.route`), so a changed engine or
voice renders again and one text is synthesised once however many flows use it. The component
renders at publish and when the hub starts with voice on; a call plays what is ready from memory
and falls back to rendering at play time (``IvrComponent.audio_for``) for what is not: text with
``{variables}``, or a prompt whose rendering failed, which :meth:`PromptRenderer.report` lists.

Blocking methods (``render``, ``engine``) run in a worker thread; nothing here imports the hub.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voice.ivr.audio_files import write_wav
from voice.ivr.flow import PromptRef, audio_key
from voice.ivr.store import static_tts
from voice.ivr.texts import TEMPLATES, template_language

__all__ = ["FlowPrompt", "PromptRenderer", "flow_languages", "flow_prompts"]


@dataclass(frozen=True)
class FlowPrompt:
    """One text a flow speaks: ``key`` is its :func:`audio_key` in ``Flow.audio``; ``voice`` the
    voice it is spoken with (the prompt's, else the flow's; None: the engine's choice)."""

    key: str
    text: str
    voice: str | None


def flow_languages(definition: dict[str, Any]) -> set[str]:
    """The template languages (``en``, ``zh-CN``) a flow's calls can be in: the flow's own, any a
    ``set`` node switches the call to, any a speech menu listens in."""
    found = {template_language((definition.get("settings") or {}).get("language"))}
    for node in (definition.get("nodes") or {}).values():
        if node.get("type") == "set" and "language" in (node.get("variables") or {}):
            found.add(template_language(node["variables"]["language"]))
        elif node.get("type") == "speech_menu" and node.get("language"):
            found.add(template_language(node["language"]))
    return found


def flow_prompts(definition: dict[str, Any]) -> list[FlowPrompt]:
    """What can be rendered ahead: the flow's text prompts without ``{placeholders}`` and the
    built-in prompts (voice/ivr/texts.py) without them, in each of :func:`flow_languages`."""
    voice = (definition.get("settings") or {}).get("voice")
    refs = list(static_tts(definition))
    for language in sorted(flow_languages(definition)):
        refs += [PromptRef(text=text) for text in TEMPLATES[language].values() if "{" not in text]
    out: dict[str, FlowPrompt] = {}
    for ref in refs:
        key = audio_key(ref, voice)
        out.setdefault(key, FlowPrompt(key, ref.text or "", ref.voice or voice))
    return list(out.values())


@dataclass
class _FlowReport:
    prompts: int = 0
    rendered: int = 0
    failed: list[dict[str, str | None]] = field(default_factory=list)


class PromptRenderer:
    """Renders prompt texts into ``directory`` with the engine ``build_engine()`` returns (built on
    first use: loading voices takes a while) and remembers where each flow-level key's audio is."""

    def __init__(self, directory: Path, build_engine: Callable[[], Any]) -> None:
        self.directory = Path(directory)
        self._build_engine = build_engine
        self._engine: Any = None
        self._lock = threading.Lock()  # one synthesis at a time (engines are not thread-safe)
        self.paths: dict[str, str] = {}  # audio_key -> rendered WAV (what calls play)
        self._reports: dict[str, _FlowReport] = {}
        self.pending = 0  # flows waiting to be rendered

    def engine(self) -> Any:
        """The TTS router (blocking on first use)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._build_engine()
            return self._engine

    def path_for(self, text: str, voice: str | None) -> Path:
        """Where ``text`` spoken by ``voice`` is cached: a hash of the engine, voice and text."""
        engine, voice_id = self.engine().route(text, voice)
        key = f"{engine.name}\n{voice_id}\n{' '.join(text.split())}"
        return self.directory / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.wav"

    def render(self, text: str, voice: str | None) -> Path:
        """The cached rendering of ``text``, synthesised now if missing (blocking)."""
        path = self.path_for(text, voice)
        if path.is_file():
            return path
        with self._lock:
            if not path.is_file():
                write_wav(path, self._engine.synthesize(text, voice, 8000))
        return path

    def render_prompt(self, prompt: FlowPrompt) -> str:
        path = str(self.render(prompt.text, prompt.voice))
        self.paths[prompt.key] = path
        return path

    def started(self, flow_id: str, total: int) -> None:
        self._reports[flow_id] = _FlowReport(prompts=total)

    def done(self, flow_id: str, prompt: FlowPrompt, error: str | None = None) -> None:
        report = self._reports.setdefault(flow_id, _FlowReport())
        if error is None:
            report.rendered += 1
        else:
            report.failed.append({"flow_id": flow_id, "text": prompt.text, "voice": prompt.voice,
                                  "error": error})

    def forget(self, keep: set[str]) -> None:
        """Drop the reports of flows no longer published."""
        for flow_id in set(self._reports) - keep:
            del self._reports[flow_id]

    def report(self, flow_id: str | None = None) -> dict[str, Any]:
        """``{prompts, rendered, failed: [{flow_id, text, voice, error}], rendering}`` of one flow, or of
        every published flow together."""
        reports = [self._reports[flow_id]] if flow_id in self._reports else (
            [] if flow_id is not None else list(self._reports.values()))
        return {"prompts": sum(r.prompts for r in reports),
                "rendered": sum(r.rendered for r in reports),
                "failed": [f for r in reports for f in r.failed],
                "rendering": self.pending > 0}
