"""Keyword self-service (SMS-1): which configured keyword an inbound text is, and the answer.

Pure: rules and the looked-up values come in, the decision goes out. A keyword is the whole
message (``BAL``, ``余额``) or its first word (``STOP please``), case-insensitively, ignoring
surrounding punctuation and full-width spaces."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

ACTIONS = ("reply", "balance", "stop", "start")
KEYWORD_RE = re.compile(r"^[0-9A-Z\u3400-\u9fff]{1,32}$")
_PUNCT = "!?.,;:。！？，；：、\"'()（）[]【】"

#: the keywords of a new install: keyword, action, the text of its answer and of its fallback
#: (``channels/sms/texts.py``) and the language they are written in
DEFAULT_KEYWORDS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("BAL", "balance", "sms.keyword.balance", "sms.keyword.balance_unknown", "en"),
    ("余额", "balance", "sms.keyword.balance", "sms.keyword.balance_unknown", "zh-CN"),
    ("STOP", "stop", "sms.keyword.stop", None, "en"),
    ("TD", "stop", "sms.keyword.stop", None, "zh-CN"),
    ("退订", "stop", "sms.keyword.stop", None, "zh-CN"),
    ("START", "start", "sms.keyword.start", None, "en"),
    ("HELP", "reply", "sms.keyword.help", None, "en"),
    ("帮助", "reply", "sms.keyword.help", None, "zh-CN"),
)


@dataclass(frozen=True)
class KeywordRule:
    keyword: str
    action: str
    reply: str
    fallback: str | None = None
    enabled: bool = True


def normalise_keyword(word: str) -> str:
    return unicodedata.normalize("NFKC", word).strip().strip(_PUNCT).upper()


def valid_keyword(word: str) -> bool:
    return bool(KEYWORD_RE.match(normalise_keyword(word)))


def match(text: str, rules: Mapping[str, KeywordRule]) -> KeywordRule | None:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        return None
    candidates = [normalise_keyword(cleaned)]
    first = cleaned.split()[0]
    if first != cleaned:
        candidates.append(normalise_keyword(first))
    for cand in candidates:
        rule = rules.get(cand)
        if rule is not None and rule.enabled:
            return rule
    return None


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def answer(rule: KeywordRule, *, phone: str, name: str | None, balance: str | None,
           no_account: str) -> str:
    """The reply text for a matched rule (``balance`` is the hook's answer, ``None`` when the
    number has no account; then the rule's fallback, else ``no_account``: a template in the
    customer's language)."""
    values = _Blank(phone=phone, name=name or "", balance=balance or "")
    template = rule.reply
    if rule.action == "balance" and balance is None:
        template = rule.fallback or no_account
    return template.format_map(values).strip()
