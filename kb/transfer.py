"""Bulk import/export formats of FAQ articles: CSV, JSON and a Markdown folder (zip).

Parsing is pure: :func:`parse_import` turns an upload into numbered rows (each a dict of article
fields) and per-row errors for rows that cannot even be read; a file that is not of its format at
all raises :class:`ImportFileError`. Field validation happens per row when the rows are saved.

* CSV: a header row; ``question`` is required; other columns: ``id``, ``alternatives`` (one per
  line in the cell, or separated by `` | ``), ``answer`` (HTML or plain text), ``category``,
  ``product``, ``keywords`` (separated by ``,`` or ``;``), ``language``, ``status``. Rows are
  numbered like a spreadsheet (the header is row 1).
* JSON: a list of article objects (or ``{"articles": [...]}``), numbered from 1.
* Markdown: a zip of ``.md`` files, each with YAML front matter (``question``, ``alternatives``,
  ``category`` …) and the answer as the body (Markdown, or HTML with ``answer_format: html``);
  without ``question`` the first ``# heading`` is the question. Rows are named by file path.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from hub.services.spreadsheets import csv_text, unescape_cell
from kb.content import markdown_to_html

COLUMNS = ("id", "question", "alternatives", "answer", "category", "product", "keywords",
           "language", "status")
FIELDS = ("id", "question", "alternatives", "answer_html", "category", "product", "keywords",
          "language", "status")
MAX_ROWS = 20_000
MAX_ZIP_ENTRIES = 5_000
MAX_MD_FILE = 1024 * 1024
MAX_UNZIPPED = 64 * 1024 * 1024
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class ImportFileError(ValueError):
    """The upload as a whole is unreadable (wrong format, bad encoding, no header...)."""


@dataclass
class Row:
    row: int | str  # spreadsheet row number, JSON position, or file path in the zip
    data: dict[str, Any]


def detect_format(filename: str, declared: str | None = None) -> str:
    if declared:
        if declared not in ("csv", "json", "markdown"):
            raise ImportFileError("format must be csv, json or markdown")
        return declared
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".zip"):
        return "markdown"
    raise ImportFileError("cannot tell the format from the file name: upload a .csv, .json or "
                          ".zip (Markdown folder), or give format=csv|json|markdown")


def _split_list(value: Any, seps: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value)
    if "\n" in text:
        parts = text.splitlines()
    else:
        parts = re.split(seps, text)
    return [p.strip() for p in parts if p.strip()]


def _article_fields(raw: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in ("id", "question", "category", "product", "language", "status"):
        if raw.get(key) not in (None, ""):
            data[key] = raw[key] if not isinstance(raw[key], str) else raw[key].strip()
    answer = raw.get("answer_html", raw.get("answer"))
    if answer not in (None, ""):
        data["answer_html"] = answer
    if "alternatives" in raw:
        data["alternatives"] = _split_list(raw["alternatives"], r"\s+\|\s+|\|")
    if "keywords" in raw:
        data["keywords"] = _split_list(raw["keywords"], r"[,;，；]")
    return data


def parse_csv(raw: bytes) -> tuple[list[Row], list[dict[str, Any]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ImportFileError("the CSV must be UTF-8") from err
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as err:
        raise ImportFileError("the CSV has no header row") from err
    if "question" not in header:
        raise ImportFileError("the CSV needs a header row with a 'question' column "
                              f"(known columns: {', '.join(COLUMNS)})")
    unknown = [h for h in header if h not in COLUMNS and h != "answer_html"]
    if unknown:
        raise ImportFileError(f"unknown CSV column(s) {', '.join(unknown)}; known: "
                              f"{', '.join(COLUMNS)}")
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    n = 1  # spreadsheet row of the header; a blank line is a row, a multi-line cell is not
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            raise ImportFileError(f"the CSV is malformed after row {n}: {err}") from err
        n += 1
        if n - 1 > MAX_ROWS:
            raise ImportFileError(f"at most {MAX_ROWS} rows per import")
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) > len(header):
            errors.append({"row": n, "reason": "the row has more cells than the header"})
            continue
        cells = [unescape_cell(c) for c in cells]  # what export_csv escaped against formulas
        record = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
        rows.append(Row(n, _article_fields(record)))
    return rows, errors


def parse_json(raw: bytes) -> tuple[list[Row], list[dict[str, Any]]]:
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ImportFileError(f"the file is not valid JSON: {err}") from err
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        raise ImportFileError('the JSON must be a list of articles or {"articles": [...]}')
    if len(data) > MAX_ROWS:
        raise ImportFileError(f"at most {MAX_ROWS} articles per import")
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            errors.append({"row": n, "reason": "not an object"})
            continue
        unknown = sorted(k for k in item if k not in FIELDS and k not in COLUMNS
                         and k not in ("owner_id", "version", "created_at", "updated_at",
                                       "published_at", "answer_text", "updated_by", "stats"))
        if unknown:
            errors.append({"row": n, "reason": f"unknown field(s) {', '.join(unknown)}"})
            continue
        bad = [k for k in ("alternatives", "keywords") if k in item
               and not isinstance(item[k], list | str)]
        if bad:
            errors.append({"row": n, "reason": f"{bad[0]} must be a list of strings"})
            continue
        rows.append(Row(n, _article_fields(item)))
    return rows, errors


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def parse_markdown_file(text: str) -> dict[str, Any]:
    """One Markdown article: YAML front matter + body. Raises ``ValueError`` with a reason."""
    import yaml

    meta: dict[str, Any] = {}
    body = text
    m = _FRONT.match(text)
    if m:
        try:
            loaded = yaml.safe_load(m.group(1))
        except yaml.YAMLError as err:
            raise ValueError(f"the front matter is not valid YAML: {err}") from err
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError("the front matter must be a mapping of fields")
        meta = {str(k).lower(): v for k, v in (loaded or {}).items()}
        body = text[m.end():]
    unknown = sorted(k for k in meta if k not in COLUMNS and k != "answer_format")
    if unknown:
        raise ValueError(f"unknown front-matter field(s) {', '.join(unknown)}")
    if not meta.get("question"):
        heading = re.search(r"^#\s+(.+)$", body, re.M)
        if heading:
            meta["question"] = heading.group(1).strip()
            body = body[:heading.start()] + body[heading.end():]
    fmt = str(meta.pop("answer_format", "markdown")).lower()
    if fmt not in ("markdown", "html"):
        raise ValueError("answer_format must be markdown or html")
    body = body.strip()
    meta["answer"] = body if fmt == "html" else (markdown_to_html(body) if body else "")
    for key in ("id", "category", "product", "language", "status", "question"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            meta[key] = str(meta[key])
    return _article_fields(meta)


def parse_markdown_zip(raw: bytes) -> tuple[list[Row], list[dict[str, Any]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as err:
        raise ImportFileError("a Markdown import is a .zip of .md files; this is not a zip") from err
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()
                 and not i.filename.startswith("__MACOSX/")
                 and not i.filename.rsplit("/", 1)[-1].startswith(".")]
        if len(infos) > MAX_ZIP_ENTRIES:
            raise ImportFileError(f"at most {MAX_ZIP_ENTRIES} files per zip")
        if sum(i.file_size for i in infos) > MAX_UNZIPPED:
            raise ImportFileError("the zip unpacks to more than 64 MiB")
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            if not name.lower().endswith((".md", ".markdown")):
                errors.append({"row": name, "reason": "not a Markdown (.md) file"})
                continue
            if info.file_size > MAX_MD_FILE:
                errors.append({"row": name, "reason": "larger than 1 MiB"})
                continue
            try:
                text = archive.read(info).decode("utf-8-sig")
            except UnicodeDecodeError:
                errors.append({"row": name, "reason": "not UTF-8 text"})
                continue
            except (zipfile.BadZipFile, OSError, RuntimeError) as err:
                errors.append({"row": name, "reason": f"cannot unpack: {err}"})
                continue
            try:
                rows.append(Row(name, parse_markdown_file(text)))
            except ValueError as err:
                errors.append({"row": name, "reason": str(err)})
    if not rows and not errors:
        raise ImportFileError("the zip holds no .md files")
    return rows, errors


def parse_import(raw: bytes, fmt: str) -> tuple[list[Row], list[dict[str, Any]]]:
    if not raw.strip():
        raise ImportFileError("the file is empty")
    return {"csv": parse_csv, "json": parse_json, "markdown": parse_markdown_zip}[fmt](raw)


# ---------------------------------------------------------------------------------- export


def _export_record(a: dict[str, Any]) -> dict[str, Any]:
    return {"id": a["id"], "question": a["question"], "alternatives": a["alternatives"],
            "answer_html": a["answer_html"], "category": a["category"], "product": a["product"],
            "keywords": a["keywords"], "language": a["language"], "status": a["status"]}


def export_json(articles: list[dict[str, Any]]) -> bytes:
    return json.dumps({"articles": [_export_record(a) for a in articles]}, ensure_ascii=False,
                      indent=1).encode()


def export_csv(articles: list[dict[str, Any]]) -> bytes:
    """The articles as CSV; cells a spreadsheet would run as formulas are escaped
    (hub/services/spreadsheets.py) and :func:`parse_csv` takes them back as they were."""
    text = csv_text(COLUMNS, ([a["id"], a["question"], "\n".join(a["alternatives"]), a["answer_html"],
                               a["category"], a["product"], ", ".join(a["keywords"]), a["language"],
                               a["status"]] for a in articles))
    return ("\ufeff" + text).encode()  # BOM: spreadsheets open it as UTF-8


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.U).strip("-")
    return slug[:50] or "article"


def export_markdown_zip(articles: list[dict[str, Any]]) -> bytes:
    import yaml

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for a in articles:
            meta = _export_record(a)
            body = meta.pop("answer_html")
            meta["answer_format"] = "html"
            front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
            archive.writestr(f"faq/{_slug(a['question'])}-{a['id']}.md",
                             f"---\n{front}---\n\n{body}\n")
    return buf.getvalue()
