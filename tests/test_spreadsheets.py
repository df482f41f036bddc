"""The one CSV/XLSX writer of every export (issue #16, item 8): OWASP's formula triggers are
escaped, numbers stay numbers, XLSX text cells are strings, our imports undo the escape."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from hub.services.spreadsheets import XlsxBook, csv_text, escape_cell, unescape_cell


@pytest.mark.parametrize("text", ["=1+1", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1",
                                  "-", "+", "=", "@"])
def test_text_starting_like_a_formula_gets_a_quote(text: str) -> None:
    assert escape_cell(text) == "'" + text
    assert unescape_cell(escape_cell(text)) == text


@pytest.mark.parametrize("text", ["", "plain", "-12.5", "+8613800000000", "42", "1e5", " =1 ",
                                  "'hello", "a=b", "'-5"])
def test_plain_text_and_numbers_are_left_alone(text: str) -> None:
    assert escape_cell(text) == text
    assert unescape_cell(text) == text


@pytest.mark.parametrize("text", ["'=1", "''=1", "'@x"])
def test_text_with_quotes_before_a_trigger_round_trips(text: str) -> None:
    assert escape_cell(text) == "'" + text
    assert unescape_cell(escape_cell(text)) == text


def test_csv_keeps_numbers_and_escapes_text() -> None:
    text = csv_text(["name", "amount", "note"], [["=A1", -3.5, "-4"], ["@x", 0, None], [True, 7, "ok"]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "amount", "note"], ["'=A1", "-3.5", "-4"], ["'@x", "0", ""], ["yes", "7", "ok"]]


def test_xlsx_text_is_never_a_formula_and_numbers_are_numbers() -> None:
    book = XlsxBook()
    ws = book.sheet("S")
    book.append(ws, ["=HYPERLINK(\"http://x\",\"y\")", -12.5, "@SUM(1)", "bell\x07", None, "-4"])
    sheet = load_workbook(io.BytesIO(book.to_bytes())).active
    assert sheet is not None
    a, b, c, d, _, f = sheet[1]
    assert (a.value, a.data_type, a.quotePrefix) == ("=HYPERLINK(\"http://x\",\"y\")", "s", True)
    assert (b.value, b.data_type) == (-12.5, "n")
    assert (c.value, c.data_type, c.quotePrefix) == ("@SUM(1)", "s", True)
    assert (d.value, d.data_type) == ("bell", "s")  # characters XLSX cannot hold are dropped
    assert (f.value, f.data_type, f.quotePrefix) == ("-4", "s", False)
