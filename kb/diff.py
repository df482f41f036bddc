"""Differences between two article versions, for people: word-level for text, item-level for
lists. Pure functions."""

from __future__ import annotations

import difflib
import re
from typing import Any

TEXT_FIELDS = ("question", "answer_text", "category", "product", "language", "status")
LIST_FIELDS = ("alternatives", "keywords")

# words with their trailing space, or single CJK characters, or single other characters
_PIECE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+\s*|\s+|[^\w\s]\s*")


def _pieces(text: str) -> list[str]:
    return _PIECE.findall(text) if text else []


def text_ops(before: str, after: str) -> list[list[str]]:
    """``[["equal"|"delete"|"insert", text], ...]`` turning ``before`` into ``after``."""
    a, b = _pieces(before or ""), _pieces(after or "")
    ops: list[list[str]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(["equal", "".join(a[i1:i2])])
            continue
        if tag in ("delete", "replace"):
            ops.append(["delete", "".join(a[i1:i2])])
        if tag in ("insert", "replace"):
            ops.append(["insert", "".join(b[j1:j2])])
    return ops


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Only the fields that changed, each with before/after and the operations to show."""
    out: list[dict[str, Any]] = []
    for name in TEXT_FIELDS:
        a, b = old.get(name) or "", new.get(name) or ""
        if a != b:
            out.append({"field": name, "before": a, "after": b, "ops": text_ops(a, b)})
    if (old.get("answer_html") or "") != (new.get("answer_html") or "") and not any(
            c["field"] == "answer_text" for c in out):
        out.append({"field": "answer_html", "before": old.get("answer_html") or "",
                    "after": new.get("answer_html") or "",
                    "ops": text_ops(old.get("answer_html") or "", new.get("answer_html") or "")})
    for name in LIST_FIELDS:
        a_items, b_items = list(old.get(name) or []), list(new.get(name) or [])
        if a_items != b_items:
            out.append({"field": name, "before": a_items, "after": b_items,
                        "removed": [x for x in a_items if x not in b_items],
                        "added": [x for x in b_items if x not in a_items]})
    return out
