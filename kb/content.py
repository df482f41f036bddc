"""Article content rules: sanitised answer HTML, its plain text, normalised fields, Markdown.

Pure functions (no database): the service, the importer and the tests share them.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from kb.search.text import has_cjk

STATUSES = ("draft", "published", "archived")
MAX_QUESTION = 500
MAX_ALTERNATIVES = 50
MAX_ANSWER_HTML = 100_000
MAX_KEYWORDS = 50
MAX_LABEL = 100

_TAGS = {"p", "br", "b", "strong", "i", "em", "u", "s", "ul", "ol", "li", "a", "h3", "h4",
         "blockquote", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "hr", "span"}
_ATTRS = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_BLOCK = {"p", "br", "li", "h3", "h4", "blockquote", "pre", "tr", "hr", "ul", "ol", "table"}


def sanitise_html(raw: str) -> str:
    """Only formatting tags and http(s)/mailto/tel links survive; scripts, styles, event
    handlers and every other attribute are removed (nh3, the Rust ammonia sanitiser)."""
    import nh3

    return nh3.clean(raw, tags=_TAGS, attributes=_ATTRS,
                     url_schemes={"http", "https", "mailto", "tel"},
                     link_rel="noopener noreferrer nofollow").strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Readable plain text of sanitised HTML (for the index, the bot and SMS-like channels)."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def text_to_html(text: str) -> str:
    """Plain text (e.g. a CSV cell without tags) → paragraphs."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paras)


def looks_like_html(text: str) -> bool:
    return re.search(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>", text) is not None


def markdown_to_html(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def _clean_list(value: Any, field: str, max_items: int, max_len: int,
                errors: list[dict[str, Any]]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append({"loc": ["body", field], "msg": f"{field} must be a list of strings"})
        return []
    out = list(dict.fromkeys(v.strip() for v in value if v and v.strip()))
    if len(out) > max_items:
        errors.append({"loc": ["body", field], "msg": f"at most {max_items} {field}"})
    for v in out:
        if len(v) > max_len:
            errors.append({"loc": ["body", field], "msg": f"each of {field} is at most {max_len} "
                                                         "characters"})
            break
    return out


def normalise(data: dict[str, Any], *, partial: bool = False) -> tuple[dict[str, Any],
                                                                       list[dict[str, Any]]]:
    """Validate and clean article fields. Returns ``(values, errors)``; ``values`` has only the
    keys present in ``data`` (all of them when not ``partial``) plus ``answer_text``."""
    errors: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    if "question" in data or not partial:
        q = data.get("question")
        q = q.strip() if isinstance(q, str) else ""
        if not q:
            errors.append({"loc": ["body", "question"], "msg": "question is required"})
        elif len(q) > MAX_QUESTION:
            errors.append({"loc": ["body", "question"],
                           "msg": f"question is at most {MAX_QUESTION} characters"})
        out["question"] = q
    if "alternatives" in data or not partial:
        out["alternatives"] = _clean_list(data.get("alternatives"), "alternatives",
                                          MAX_ALTERNATIVES, MAX_QUESTION, errors)
    if "keywords" in data or not partial:
        out["keywords"] = _clean_list(data.get("keywords"), "keywords", MAX_KEYWORDS, 64, errors)
    if "answer_html" in data or not partial:
        raw = data.get("answer_html") or ""
        if not isinstance(raw, str):
            errors.append({"loc": ["body", "answer_html"], "msg": "answer_html must be a string"})
            raw = ""
        if len(raw) > MAX_ANSWER_HTML:
            errors.append({"loc": ["body", "answer_html"],
                           "msg": f"the answer is at most {MAX_ANSWER_HTML} characters"})
            raw = ""
        clean = sanitise_html(raw if looks_like_html(raw) else text_to_html(raw))
        out["answer_html"] = clean
        out["answer_text"] = html_to_text(clean)
    for key in ("category", "product"):
        if key in data or not partial:
            v = data.get(key) or ""
            if not isinstance(v, str) or len(v.strip()) > MAX_LABEL:
                errors.append({"loc": ["body", key],
                               "msg": f"{key} must be text of at most {MAX_LABEL} characters"})
                v = ""
            out[key] = v.strip()
    if "language" in data or not partial:
        lang = data.get("language") or ""
        if not isinstance(lang, str) or len(lang) > 16 or (lang and not re.fullmatch(
                r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang)):
            errors.append({"loc": ["body", "language"], "msg": "language must be a code like en "
                                                               "or zh-CN"})
            lang = ""
        out["language"] = lang or ("zh" if has_cjk(out.get("question", "")) else "en")
    if "status" in data:
        if data["status"] not in STATUSES:
            errors.append({"loc": ["body", "status"],
                           "msg": f"status must be one of {', '.join(STATUSES)}"})
        else:
            out["status"] = data["status"]
    return out, errors
