"""Article content rules and the import/export formats (pure functions)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from kb.content import html_to_text, normalise, sanitise_html
from kb.diff import diff_snapshots, text_ops
from kb.transfer import (
    ImportFileError,
    detect_format,
    export_csv,
    export_markdown_zip,
    parse_csv,
    parse_import,
    parse_json,
    parse_markdown_file,
    parse_markdown_zip,
)


def test_answer_html_keeps_formatting_and_drops_everything_active() -> None:
    dirty = ('<p style="color:red" onclick="x()">Hi <b>there</b><script>alert(1)</script>'
             '<img src=x onerror=alert(1)><a href="javascript:alert(1)">bad</a>'
             '<a href="https://example.com/x">good</a></p><iframe src="https://e"></iframe>')
    clean = sanitise_html(dirty)
    for gone in ("script", "onclick", "onerror", "style", "javascript", "iframe", "<img"):
        assert gone not in clean
    assert "<b>there</b>" in clean and 'href="https://example.com/x"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
    assert html_to_text("<p>One</p><ul><li>two</li><li>three</li></ul>") == "One\n\n• two\n• three"


def test_normalise_reports_every_bad_field_and_detects_chinese() -> None:
    values, errors = normalise({"question": "  ", "alternatives": "single", "keywords": [1],
                                "language": "not a code!", "status": "gone"})
    assert {tuple(e["loc"])[-1] for e in errors} == {"question", "keywords", "language", "status"}
    assert values["alternatives"] == ["single"]
    values, errors = normalise({"question": "燃气泄漏怎么办", "answer_html": "立即离开\n\n拨打 95007"})
    assert not errors and values["language"] == "zh"
    assert values["answer_html"] == "<p>立即离开</p><p>拨打 95007</p>"
    partial, errors = normalise({"category": "Billing"}, partial=True)
    assert partial == {"category": "Billing"} and not errors


def test_word_diff_marks_inserted_and_deleted_words_and_list_items() -> None:
    assert text_ops("pay by card", "pay by bank card") == [
        ["equal", "pay by "], ["insert", "bank "], ["equal", "card"]]
    changes = diff_snapshots({"question": "a", "alternatives": ["x", "y"]},
                             {"question": "a", "alternatives": ["y", "z"]})
    assert changes == [{"field": "alternatives", "before": ["x", "y"], "after": ["y", "z"],
                        "removed": ["x"], "added": ["z"]}]


def test_csv_rows_are_numbered_like_a_spreadsheet_and_lists_are_split() -> None:
    rows, errors = parse_csv(b"question,alternatives,keywords\n"
                             b"Q1,\"a | b\",\"x, y; z\"\n"
                             b"\n"
                             b"Q2,\"one\ntwo\",\n"
                             b"Q3,a,b,extra\n")
    assert [(r.row, r.data["alternatives"]) for r in rows] == [(2, ["a", "b"]), (4, ["one", "two"])]
    assert rows[0].data["keywords"] == ["x", "y", "z"]
    assert errors == [{"row": 5, "reason": "the row has more cells than the header"}]
    with pytest.raises(ImportFileError, match="unknown CSV column"):
        parse_csv(b"question,colour\nq,red\n")
    with pytest.raises(ImportFileError, match="UTF-8"):
        parse_csv("question\ncafé".encode("latin-1"))


def test_json_and_markdown_rows_report_bad_items_and_keep_good_ones() -> None:
    rows, errors = parse_json(json.dumps({"articles": [{"question": "a"}, [1], {"q": 2},
                                                       {"question": "b", "keywords": {"x": 1}}]}).encode())
    assert [r.row for r in rows] == [1]
    assert [e["row"] for e in errors] == [2, 3, 4]
    art = parse_markdown_file("---\nid: A-1\nkeywords: [x]\n---\n# The question?\n\n* one\n* two\n")
    assert art["question"] == "The question?" and art["id"] == "A-1"
    assert art["answer_html"].startswith("<ul>") and art["keywords"] == ["x"]
    with pytest.raises(ValueError, match="unknown front-matter"):
        parse_markdown_file("---\ncolour: red\n---\nbody")
    assert "<script>" not in parse_markdown_file("# Q\n<script>x</script>")["answer_html"]


def test_exports_read_back_as_the_same_articles() -> None:
    article = {"id": "a1", "question": "Q, with comma?", "alternatives": ["x", "y | z"],
               "answer_html": "<p>A</p>", "category": "C", "product": "", "keywords": ["k1", "k2"],
               "language": "en", "status": "published"}
    rows, errors = parse_import(export_csv([article]), "csv")
    assert not errors and rows[0].data["alternatives"] == ["x", "y | z"]
    assert rows[0].data["question"] == "Q, with comma?" and rows[0].data["keywords"] == ["k1", "k2"]
    rows, errors = parse_markdown_zip(export_markdown_zip([article]))
    assert not errors and rows[0].data["answer_html"] == "<p>A</p>" and rows[0].data["id"] == "a1"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.md", b"\xff\xfe bad")
    assert parse_markdown_zip(buf.getvalue())[1][0]["reason"] == "not UTF-8 text"


def test_format_comes_from_the_name_or_is_declared() -> None:
    assert detect_format("FAQ.CSV") == "csv" and detect_format("x.zip") == "markdown"
    assert detect_format("x.bin", "json") == "json"
    with pytest.raises(ImportFileError):
        detect_format("x.txt")
    with pytest.raises(ImportFileError, match="empty"):
        parse_import(b"  \n", "csv")


def test_csv_export_escapes_formulas_and_reads_them_back() -> None:
    """Issue #16, item 8: the CSV cannot run a formula in a spreadsheet, and our import undoes it."""
    article = {"id": "a2", "question": "=HYPERLINK(\"http://evil.example\",\"x\")",
               "alternatives": ["@SUM(1)", "ok"], "answer_html": "<p>A</p>", "category": "+cat",
               "product": "-1", "keywords": ["k"], "language": "en", "status": "draft"}
    text = export_csv([article]).decode("utf-8-sig")
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["question"] == "'" + article["question"]
    assert row["alternatives"] == "'@SUM(1)\nok" and row["category"] == "'+cat"
    assert row["product"] == "-1"  # a number is not a formula
    rows, errors = parse_import(export_csv([article]), "csv")
    assert not errors and rows[0].data["question"] == article["question"]
    assert rows[0].data["alternatives"] == ["@SUM(1)", "ok"] and rows[0].data["category"] == "+cat"
