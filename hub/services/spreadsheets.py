"""CSV and XLSX exports that a spreadsheet cannot run (issue #16, item 8: formula injection).

Every export of the hub and its components (contacts, work-order reports, FAQ articles) writes its
cells through this module:

* **Text** that a spreadsheet would read as a formula — it starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return (OWASP's list) — gets a single quote in front (``=HYPERLINK(…)`` →
  ``'=HYPERLINK(…)``). Text that already starts with quotes before such a character gets one more,
  so :func:`unescape_cell` (used by our CSV imports) gives back exactly what was exported.
* **Numbers stay numbers.** An ``int``/``float`` cell (a negative balance, a duration) is written as
  the number, and text that is exactly a decimal number (``-12.5``, ``+8613800000000``) is left as
  it is: a spreadsheet reads it as that number, never as a formula, so escaping it would only
  corrupt the value.
* **XLSX** cells holding text are always string cells (never ``data_type`` ``"f"``), and the risky
  ones carry Excel's "quote prefix" style, so the value is exact (no visible quote) and stays text
  even when someone edits the cell. Characters XLSX cannot hold (C0 controls) are dropped.

openpyxl is imported only when an XLSX is written (the ``workflows`` extra installs it).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Cell = str | int | float | None


def _risky(text: str) -> bool:
    """Text a spreadsheet would read as a formula (quotes in front already counted out)."""
    body = text.lstrip("'")
    return body[:1] in FORMULA_TRIGGERS and not _NUMBER.fullmatch(body)


def escape_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text (see the module doc)."""
    return "'" + text if _risky(text) else text


def unescape_cell(text: str) -> str:
    """The inverse of :func:`escape_cell`, for our own CSV imports of what we exported."""
    return text[1:] if text.startswith("'") and _risky(text[1:]) else text


def _csv_value(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python; exporters write yes/no themselves
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    return escape_cell(str(value))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A whole CSV document (header row first), every cell through :func:`escape_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_csv_value(h) for h in header])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buf.getvalue()


class XlsxBook:
    """An XLSX workbook whose text cells are strings, never formulas::

        book = XlsxBook()
        sheet = book.sheet("Contacts")
        book.append(sheet, ["name", "balance"])
        book.append(sheet, ["=HYPERLINK(…)", -12.5])
        data = book.to_bytes()
    """

    def __init__(self) -> None:
        try:
            from openpyxl import Workbook
        except ImportError as err:  # pragma: no cover - installed with the workflows extra
            raise RuntimeError("XLSX export needs openpyxl (pip install openpyxl, or the "
                               "'workflows' extra)") from err
        self._wb = Workbook()
        self._fresh = True  # the workbook's first sheet is still unused

    def sheet(self, title: str) -> Any:
        if self._fresh:
            self._fresh = False
            ws = self._wb.active
            assert ws is not None  # a new workbook has its first sheet
            ws.title = title
            return ws
        return self._wb.create_sheet(title)

    def append(self, ws: Any, row: Sequence[Cell]) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells: list[Any] = []
        for v in row:
            if isinstance(v, bool):
                v = "yes" if v else "no"
            if v is None or isinstance(v, int | float):
                cells.append(v)
                continue
            text = _XLSX_ILLEGAL.sub("", str(v))
            cell = WriteOnlyCell(ws, value=text)
            cell.data_type = "s"  # openpyxl makes "=…" a formula: text it is
            if _risky(text):
                cell.quotePrefix = True
            cells.append(cell)
        ws.append(cells)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self._wb.save(buf)
        return buf.getvalue()


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
