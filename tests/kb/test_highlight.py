"""In-memory highlights (kb/search/highlight.py): what BM25 matched is marked, HTML stays inert."""

from __future__ import annotations

from kb.search.highlight import highlight, snippet
from kb.search.lexical import fts_tokens
from kb.search.text import query_terms, segment_for_fts


def phrases(query: str) -> list[list[str]]:
    return [fts_tokens(t) for t in query_terms(query)]


def test_terms_and_phrases_are_marked_case_and_accent_insensitively() -> None:
    text = "Why can't I pay at the Café? I can pay by card."
    out = highlight(text, phrases("cafe can't card"))
    assert out == ("Why <mark>can't</mark> I pay at the <mark>Café</mark>? "
                   "I can pay by <mark>card</mark>.")
    # "can't" is the phrase can + t: a lone "can" is not a match
    assert highlight("I can pay", phrases("can't")) == ""


def test_markup_in_the_text_is_escaped() -> None:
    out = highlight("Open <b>Settings</b> & tap <script>x</script>", phrases("settings"))
    assert out == "Open &lt;b&gt;<mark>Settings</mark>&lt;/b&gt; &amp; tap &lt;script&gt;x&lt;/script&gt;"


def test_snippet_keeps_a_window_around_the_most_distinct_terms() -> None:
    words = [f"w{i}" for i in range(60)]
    words[5], words[40], words[42] = "refund", "refund", "card"
    out = snippet(" ".join(words), phrases("refund card"), max_tokens=10)
    assert out.startswith("…") and out.endswith("…")
    assert "<mark>refund</mark>" in out and "<mark>card</mark>" in out  # both terms: 40-42
    assert "w5 " not in out and len(out.split()) == 10
    assert snippet("short text with refund", phrases("refund")) == "short text with <mark>refund</mark>"
    assert snippet("nothing here", phrases("refund")) == ""


def test_chinese_words_are_marked_without_the_segmentation_marks() -> None:
    out = snippet(segment_for_fts("忘记登录密码怎么办？"), phrases("我忘记了密码"))
    assert "<mark>密码</mark>" in out and "\u200b" not in out
