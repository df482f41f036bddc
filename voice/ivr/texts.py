"""The prompts the IVR speaks on its own (a flow that does not give its own text), per language:
templates ``zh-CN`` and ``en`` chosen by the call's language — the variable ``language`` (set by
the IVR entry the caller chose, e.g. a ``set`` node behind "for English press 9") or else the flow's
``settings.language``; a flow without one speaks English, as before there were templates.

Pure data and lookups: the engine asks :func:`builtin_prompt` and fills in ``{variables}`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voice.ivr.flow import PromptRef

DEFAULT_LANGUAGE = "en"

TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "en": {
        # a queue node's periodic announcement (``announce`` without a ``prompt``)
        "queue_position": "You are number {position} in the queue. "
                          "Your expected wait is about {wait_min} minutes.",
        # a callback node's confirmation (``confirm`` not given)
        "callback_confirm": "Thank you. We will call you back at {number_digits}.",
    },
    "zh-CN": {
        "queue_position": "您现在排在第 {position} 位。预计还需等待约 {wait_min} 分钟。",
        "callback_confirm": "好的，我们稍后会回电到 {number_digits}，请保持电话畅通。",
    },
}


def template_language(language: Any) -> str:
    """The template set for a language tag: any Chinese tag (``zh``, ``zh-CN``, ``cmn``) is
    ``zh-CN``; everything else, or none, is English."""
    tag = str(language or "").strip().lower().replace("_", "-")
    if tag.startswith(("zh", "cmn")):
        return "zh-CN"
    return DEFAULT_LANGUAGE


def builtin_text(key: str, language: Any) -> str:
    """The template ``key`` in ``language`` (see :func:`template_language`)."""
    return TEMPLATES[template_language(language)][key]


def builtin_prompt(given: list[PromptRef] | None, key: str, language: Any) -> list[PromptRef]:
    """``given`` when the flow set it (an empty list stays silent), else the built-in template."""
    if given is not None:
        return given
    return [PromptRef(text=builtin_text(key, language))]
