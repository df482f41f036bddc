"""Extractive summaries of a conversation for wrap-up and tickets (ASSIST-1).

Pure: sentences are split on English and Chinese punctuation, words come from the knowledge
base's tokenizer (jieba for Chinese runs), and each sentence is scored by how central its words
are to the whole conversation (term frequency without stopwords, normalised by the square root
of the sentence length) plus a bonus for each identifying entity (account, phone, address,
email) and for being the customer's opening request. The best sentences are returned in their
original order, each with who said it."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from assist.entities import extract
from kb.search.text import QUERY_STOPWORDS, tokenize

_SPLIT = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
_ZH_STOP = frozenset("的 了 是 我 你 他 她 它 们 在 有 和 就 都 也 很 吗 呢 吧 啊 呀 这 那 个 一 不 要 会 能 "
                     "请 您 好 谢谢 一下 什么 怎么 可以 没有 已经 还 又 给 把 被 让 到".split())
_FILLER = frozenset("hi hello thanks thank ok okay yes no sure please bye 好的 谢谢 您好 你好 再见".split())


@dataclass(frozen=True, slots=True)
class Sentence:
    sender: str
    text: str
    index: int  # position in the conversation
    score: float


def sentences(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in messages:
        if m.get("kind", "message") != "message" or not m.get("body"):
            continue
        for part in _SPLIT.split(m["body"]):
            part = part.strip()
            if part:
                out.append((m.get("sender") or "customer", part))
    return out


def _words(text: str) -> list[str]:
    return [w for w in tokenize(text)
            if w not in QUERY_STOPWORDS and w not in _ZH_STOP and (len(w) > 1 or not w.isascii())]


def summarise(messages: list[dict[str, Any]], max_sentences: int = 3) -> list[Sentence]:
    """The ``max_sentences`` most central sentences (customer and agent), in order."""
    sents = sentences(messages)
    if not sents:
        return []
    words = [_words(text) for _, text in sents]
    tf = Counter(w for ws in words for w in set(ws))
    scored: list[Sentence] = []
    first_customer = next((i for i, (who, _) in enumerate(sents) if who == "customer"), None)
    for i, ((sender, text), ws) in enumerate(zip(sents, words, strict=True)):
        if not ws or text.lower().strip(" .!?。！？") in _FILLER:
            score = 0.0
        else:
            score = sum(tf[w] for w in set(ws)) / math.sqrt(len(ws) + 1)
            # what a ticket needs (who, where, which account) outweighs centrality
            score += 1.5 * sum(1 for e in extract(text)
                               if e.kind in ("account", "phone", "address", "email"))
            if i == first_customer:
                score *= 1.3
            if sender == "bot":
                score *= 0.5
        scored.append(Sentence(sender, text, i, round(score, 4)))
    n = max(1, min(max_sentences, len(scored)))
    best = sorted(scored, key=lambda s: (-s.score, s.index))[:n]
    return sorted((s for s in best if s.score > 0 or len(scored) == 1), key=lambda s: s.index)


def as_text(summary: list[Sentence]) -> str:
    labels = {"customer": "Customer", "agent": "Agent", "bot": "Bot"}
    return "\n".join(f"{labels.get(s.sender, s.sender.title())}: {s.text}" for s in summary)
