"""The languages the hub speaks to customers, and a small offline guess of a text's language.

Pure: text in, a language tag (or None) out. The guess is by script, good enough to tell the two
languages the hub ships apart: Han characters (CJK ideographs) say ``zh-CN``, Latin letters
(full-width ones too, after NFKC) say ``en``; a text with neither (digits, emoji, punctuation, an
empty message) says nothing, so a later message can still decide. Mixed text goes to the
script with more weight, one and a half Han characters counting as a word of Latin letters
(``我的 meter 坏了`` is Chinese; ``My account 12345 at 北京路`` is English)."""

from __future__ import annotations

import re
import unicodedata

#: the languages of the shipped templates (docs/CONFIGURATION.md ``default_language``)
LANGUAGES = ("zh-CN", "en")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
#: Han characters per word when the two scripts are weighed against each other
HAN_PER_WORD = 1.5
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_ALIASES = {"zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "zh-hans-cn": "zh-CN", "zh-sg": "zh-CN",
            "cmn": "zh-CN", "en": "en"}


def normalise_language(tag: str | None) -> str | None:
    """A supported language for a tag a browser or a caller sends (``zh``, ``zh-Hans``, ``en-US``
    …); None for anything else (then the caller's default applies)."""
    if not tag or not isinstance(tag, str):
        return None
    t = tag.strip().replace("_", "-").lower()
    if t in _ALIASES:
        return _ALIASES[t]
    primary = t.split("-", 1)[0]
    if primary == "en":
        return "en"
    if primary == "zh":  # Traditional Chinese readers read Simplified too (as the web UI's matchLocale)
        return "zh-CN"
    return None


def detect_language(text: str | None) -> str | None:
    """``zh-CN`` or ``en`` from the script of ``text``; None when it has no letters of either."""
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    han = len(_HAN.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if not han and not latin_words:
        return None
    # a Chinese word is about one and a half characters; a tie goes to Chinese
    return "zh-CN" if han / HAN_PER_WORD >= latin_words else "en"
