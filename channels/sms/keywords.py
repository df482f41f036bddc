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

DEFAULT_RULES: tuple[tuple[str, str, str, str | None], ...] = (
    ("BAL", "balance", "Your gas account balance is {balance}.",
     "No gas account is registered for {phone}. Reply HELP for help."),
    ("余额", "balance", "您的燃气账户余额为 {balance}。", "未找到与 {phone} 关联的燃气账户。"),
    ("STOP", "stop", "You will receive no more messages from us. Reply START to subscribe again.", None),
    ("TD", "stop", "退订成功，您将不再收到我们的短信。回复 START 可重新订阅。", None),
    ("退订", "stop", "退订成功，您将不再收到我们的短信。回复 START 可重新订阅。", None),
    ("START", "start", "You are subscribed again.", None),
    ("HELP", "reply", "Reply BAL for your balance, STOP to unsubscribe. Call 95007 for help.", None),
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


def answer(rule: KeywordRule, *, phone: str, name: str | None, balance: str | None) -> str:
    """The reply text for a matched rule (``balance`` is the hook's answer, ``None`` when the
    number has no account)."""
    values = _Blank(phone=phone, name=name or "", balance=balance or "")
    template = rule.reply
    if rule.action == "balance" and balance is None:
        template = rule.fallback or "No account is registered for {phone}."
    return template.format_map(values).strip()
