"""Highlights for the embedded backend, made in memory from the articles' stored text.

The marked terms are exactly the ones BM25 matched: the text is tokenised like the in-memory
index (:func:`~kb.search.lexical.fts_tokens`: FTS5's ``unicode61 remove_diacritics 2`` rules,
CJK pre-segmented by :func:`~kb.search.text.segment_for_fts`) and a query term of several tokens
(``"can't"``) is marked only where its tokens are adjacent, as a phrase. Output is HTML-safe:
every piece of text is escaped and only ``<mark>`` tags are added.

:func:`snippet` keeps a window of at most ``max_tokens`` tokens around the matches (the window
with the most distinct query terms, then the most matches, centred on them), with ``…`` where
text was cut, like FTS5's ``snippet()``. These used to be FTS5 ``snippet()``/``highlight()``
calls, one ``MATCH`` per result: ~0.3 ms per article at 100,000 articles (each reads the
query terms' doclists), a sixth of the whole search; this costs a few microseconds per article.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from kb.search.lexical import TOKEN_RE, fold_token
from kb.search.text import unsegment

ELLIPSIS = "…"


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """``(folded token, start, end)`` of every token of ``text``."""
    if text.isascii():  # lower-casing keeps every offset; nothing else to fold
        return [(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text.lower())]
    out = []
    for m in TOKEN_RE.finditer(text):
        token = fold_token(m.group())
        if token:
            out.append((token, m.start(), m.end()))
    return out


def _matches(tokens: list[tuple[str, int, int]], phrases: Sequence[Sequence[str]]
             ) -> list[tuple[int, int, int]]:
    """``(first token, last token + 1, phrase number)`` of every phrase occurrence, in order."""
    by_first: dict[str, list[tuple[int, Sequence[str]]]] = {}
    for n, phrase in enumerate(phrases):
        if phrase:
            by_first.setdefault(phrase[0], []).append((n, phrase))
    out = []
    words = [t[0] for t in tokens]
    for i, word in enumerate(words):
        for n, phrase in by_first.get(word, ()):
            if words[i: i + len(phrase)] == list(phrase):
                out.append((i, i + len(phrase), n))
    return out


def _render(text: str, tokens: list[tuple[str, int, int]], spans: list[tuple[int, int, int]],
            start: int, stop: int) -> str:
    """Tokens ``start:stop`` of ``text`` (with the text before/after when the window reaches
    an end) escaped, matches inside ``<mark>``, ``…`` where cut."""
    begin = 0 if start == 0 else tokens[start][1]
    end = len(text) if stop >= len(tokens) else tokens[stop - 1][2]
    pieces = [ELLIPSIS] if start > 0 else []
    at = begin
    last_end = -1
    for first, after, _ in spans:
        if first < start or after > stop or first < last_end:
            continue  # outside the window, or overlapping a match already marked
        a, b = tokens[first][1], tokens[after - 1][2]
        pieces.append(html.escape(unsegment(text[at:a]), quote=False))
        pieces.append("<mark>" + html.escape(unsegment(text[a:b]), quote=False) + "</mark>")
        at, last_end = b, after
    pieces.append(html.escape(unsegment(text[at:end]), quote=False))
    if stop < len(tokens):
        pieces.append(ELLIPSIS)
    return "".join(pieces)


def highlight(text: str, phrases: Sequence[Sequence[str]]) -> str:
    """All of ``text`` with every match marked; ``""`` when nothing matches."""
    tokens = _tokens(text)
    spans = _matches(tokens, phrases)
    return _render(text, tokens, spans, 0, len(tokens)) if spans else ""


def snippet(text: str, phrases: Sequence[Sequence[str]], max_tokens: int = 24) -> str:
    """The best window of at most ``max_tokens`` tokens with its matches marked; ``""`` when
    nothing matches."""
    tokens = _tokens(text)
    spans = _matches(tokens, phrases)
    if not spans:
        return ""
    if len(tokens) <= max_tokens:
        return _render(text, tokens, spans, 0, len(tokens))
    best: tuple[int, int, int] | None = None  # (score, -first, first)
    for i, (first, _, _) in enumerate(spans):
        inside = [s for s in spans[i:] if s[1] <= first + max_tokens]
        score = 1000 * len({s[2] for s in inside}) + len(inside)
        if best is None or score > best[0]:
            best = (score, -first, first)
    assert best is not None
    first = best[2]
    inside = [s for s in spans if s[0] >= first and s[1] <= first + max_tokens]
    last = max(s[1] for s in inside)
    start = max(0, first - (max_tokens - (last - first)) // 2)
    start = min(start, len(tokens) - max_tokens)
    return _render(text, tokens, spans, start, start + max_tokens)
