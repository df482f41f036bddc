"""Tokenisation shared by indexing and querying.

Latin (and any other space-delimited script) is lower-cased and split on anything that is not a
letter or digit; no stemming. Runs of CJK ideographs are segmented with jieba (imported lazily,
only when a text contains CJK). Mixed text such as ``"如何重置 PIN 码"`` works: each run is
handled by its own rule.

SQLite's ``unicode61`` tokenizer cannot segment Chinese, so the embedded backend stores CJK text
*pre-segmented*: :func:`segment_for_fts` inserts a zero-width space (a separator for unicode61,
invisible to people) between jieba words, and highlights strip it again.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

#: Inserted between CJK words in indexed text; unicode61 treats it as a separator.
WORD_JOINER = "\u200b"

_CJK = (
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\U00020000-\U0002ebef"  # Extensions B-F
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
# a "word" outside CJK runs: letters/digits (any script but CJK ideographs), apostrophes inside
_WORD = re.compile(rf"[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")

_jieba: Any = None
_jieba_lock = threading.Lock()


def _segmenter() -> Any:
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                try:
                    import jieba
                except ImportError as err:  # pragma: no cover - depends on the environment
                    raise ImportError(
                        "Chinese text needs jieba: pip install jieba") from err
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def has_cjk(text: str) -> bool:
    return _CJK_RUN.search(text) is not None


def _cjk_words(run: str) -> list[str]:
    return [w for w in _segmenter().lcut(run) if w.strip()]


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens in reading order; CJK runs segmented into words."""
    tokens: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        tokens.extend(t.lower() for t in _WORD.findall(text[pos:m.start()]))
        tokens.extend(_cjk_words(m.group()))
        pos = m.end()
    tokens.extend(t.lower() for t in _WORD.findall(text[pos:]))
    return tokens


def segment_for_fts(text: str) -> str:
    """``text`` unchanged except that CJK runs get :data:`WORD_JOINER` between their words."""
    if not has_cjk(text):
        return text
    # joiners also at both ends of a run, so "的PIN码" does not fuse into one FTS token
    return _CJK_RUN.sub(
        lambda m: WORD_JOINER + WORD_JOINER.join(_cjk_words(m.group())) + WORD_JOINER, text)


def unsegment(text: str) -> str:
    return text.replace(WORD_JOINER, "")


#: Very frequent English function words dropped from *lexical queries* only (never from the
#: index): they carry almost no BM25 weight but make FTS5 visit most rows of a large index.
QUERY_STOPWORDS = frozenset(
    "a an the and or of to in on at for from by with is are was be been it its this that "
    "i me my we our you your he she they them do does did can could would should will "
    "how what when where why which who whom".split())


def query_terms(text: str) -> list[str]:
    """Tokens for a lexical query: :func:`tokenize` less stopwords (all kept if all are)."""
    tokens = tokenize(text)
    kept = [t for t in tokens if t not in QUERY_STOPWORDS]
    return kept or tokens
