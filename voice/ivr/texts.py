"""The prompts the IVR speaks on its own (a flow that does not give its own text: the queue
announcement, the callback confirmation, "not one of the choices", "did not hear your choice" …),
per language: templates ``zh-CN`` and ``en`` chosen by the call's language — the variable
``language`` (set by the IVR entry the caller chose, e.g. a ``set`` node behind "for English press
9") or else the flow's ``settings.language``; a flow without one speaks English.

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
        # before a menu, digit entry or speech menu is asked again (``invalid_prompt`` /
        # ``timeout_prompt`` / ``no_match_prompt`` not given)
        "menu_invalid": "Sorry, that is not one of the choices.",
        "menu_no_input": "Sorry, I did not hear your choice.",
        "collect_invalid": "Sorry, that number is not valid.",
        "collect_no_input": "Sorry, I did not get a number.",
        "speech_no_match": "Sorry, I did not catch that.",
    },
    "zh-CN": {
        "queue_position": "您现在排在第 {position} 位。预计还需等待约 {wait_min} 分钟。",
        "callback_confirm": "好的，我们稍后会回电到 {number_digits}，请保持电话畅通。",
        "menu_invalid": "对不起，您的输入有误。",
        "menu_no_input": "对不起，没有听到您的选择。",
        "collect_invalid": "对不起，您输入的号码有误。",
        "collect_no_input": "对不起，没有收到您的输入。",
        "speech_no_match": "对不起，我没有听清楚。",
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
