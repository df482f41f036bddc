"""Recipient lists in CSV, shared by bulk SMS, bulk email and bulk fax (:func:`read_csv`).

The bytes become rows: UTF-8 (with or without BOM) or GB18030 (Excel in a Chinese locale); comma,
semicolon or tab separated (sniffed); a header row names the columns (aliases, case and spaces do
not matter; Chinese names are understood). Problems of the whole file (empty, not text, no header
with the required column, only a header, too many rows) raise ``ValidationFailed``. Problems of
single rows (bytes that are not text, the required value missing, a value that is too long) are
reported per row and the other rows are kept, so the caller can list every bad row at once. Rows
are numbered as a spreadsheet user counts recipients: row 1 is the first row after the header
(blank lines are not counted). The upload itself is read by :func:`hub.api.uploads.read_form_file`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ValidationFailed
from hub.services.spreadsheets import unescape_cell

MAX_VALUE_CHARS = 1000
SNIFF_CHARS = 4096
BAD_TEXT = "\ufffd"


@dataclass(frozen=True)
class CsvColumn:
    """A column the caller understands: ``key`` in the rows, found under any of ``aliases``."""

    key: str
    aliases: tuple[str, ...]
    required: bool = False
    label: str = ""  # "phone number": for "no phone number" in a row error

    def matches(self, header: str) -> bool:
        return header == self.key or header in self.aliases


@dataclass(frozen=True)
class CsvRow:
    number: int  # 1 = the first row after the header
    values: dict[str, str]


@dataclass
class CsvTable:
    header: list[str]
    rows: list[CsvRow] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", <required key>, "msg"}

    @property
    def total(self) -> int:
        """Every data row of the file, good or bad."""
        return len(self.rows) + len(self.errors)


def _decode(data: bytes) -> tuple[str, bool]:
    """The text and whether some bytes were not text (replaced by U+FFFD, reported per row)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        pass
    # A file with no valid UTF-8 beyond ASCII is a GB18030 export (Excel in a Chinese locale);
    # one with valid UTF-8 lines and a few broken ones is UTF-8 with broken rows.
    lines = data.splitlines()
    utf8_lines = 0
    for line in lines:
        if not line.isascii():
            try:
                line.decode("utf-8")
                utf8_lines += 1
            except UnicodeDecodeError:
                pass
    if not utf8_lines:
        try:
            return data.decode("gb18030"), False
        except UnicodeDecodeError:
            pass
    return data.decode("utf-8-sig", errors="replace"), True


def _norm(header: str) -> str:
    return header.strip().lower().replace(" ", "_")


def _cell(text: str) -> str:
    """A value as written; a cell our exports escaped against formula injection (``'=…``,
    hub/services/spreadsheets.py) comes back as it was."""
    return unescape_cell(text.strip())


def read_csv(data: bytes, columns: Sequence[CsvColumn], *, other_columns: bool = False,
             max_rows: int | None = None) -> CsvTable:
    """Rows of a CSV file with the given columns (and every other column too when
    ``other_columns``: its normalised header is its key)."""
    if not data.strip():
        raise ValidationFailed("the CSV file is empty")
    text, broken = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:SNIFF_CHARS], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    except csv.Error as err:
        raise ValidationFailed(f"the CSV file cannot be read: {err}") from err
    if not rows:
        raise ValidationFailed("the CSV file has no rows")
    header = [_norm(h) for h in rows[0]]
    if broken and any(BAD_TEXT in h for h in header):
        raise ValidationFailed("the CSV file is neither UTF-8 nor GB18030 text")
    where = {c.key: next((i for i, h in enumerate(header) if c.matches(h)), None) for c in columns}
    for c in columns:
        if c.required and where[c.key] is None:
            raise ValidationFailed(f"the CSV file needs a header row with a '{c.key}' column",
                                   details={"columns": header})
    body = rows[1:]
    if not body:
        raise ValidationFailed("the CSV file has a header but no recipients")
    if max_rows is not None and len(body) > max_rows:
        raise ValidationFailed(f"the CSV file has {len(body)} rows; at most {max_rows} per job")
    required = next((c for c in columns if c.required), None)
    table = CsvTable(header=header)
    for number, r in enumerate(body, start=1):
        values: dict[str, str] = {}
        if other_columns:
            values = {h: (_cell(r[i]) if i < len(r) else "") for i, h in enumerate(header) if h}
        for c in columns:
            i = where[c.key]
            values[c.key] = _cell(r[i]) if i is not None and i < len(r) else ""
        problem = None
        if broken and any(BAD_TEXT in cell for cell in r):
            problem = "the row is not UTF-8 text (save the file as UTF-8 CSV)"
        elif required is not None and not values[required.key]:
            problem = f"no {required.label or required.key}"
        elif any(len(cell) > MAX_VALUE_CHARS for cell in r):
            problem = f"a value is longer than {MAX_VALUE_CHARS} characters"
        if problem is None:
            table.rows.append(CsvRow(number, values))
        else:
            row_err: dict[str, Any] = {"row": number, "msg": problem}
            if required is not None:
                row_err[required.key] = values[required.key][:100]
            table.errors.append(row_err)
    return table
