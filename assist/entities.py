"""Entity extraction for the agent and for tickets (ASSIST-1): emails, phone numbers, account
numbers, addresses, dates and amounts, in English and Chinese, with character spans.

Pure: regular expressions and a few rules, no model, no clock (relative dates such as
"tomorrow" / "明天" are resolved against the ``today`` the caller passes). Overlaps are resolved
by kind priority, then by length: an email's digits are not also a phone number, "GC-100231" is
an account number and not a phone number, "2026-11-23" is a date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("email", "account", "date", "amount", "phone", "address")
_PRIORITY = {k: i for i, k in enumerate(KINDS)}

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_WEEKDAYS_EN = {d: i for i, d in enumerate(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_CURRENCY_SIGNS = {"$": "USD", "US$": "USD", "¥": "CNY", "￥": "CNY", "€": "EUR", "£": "GBP",
                   "HK$": "HKD"}
_CURRENCY_WORDS = {"usd": "USD", "dollars": "USD", "dollar": "USD", "rmb": "CNY", "cny": "CNY",
                   "yuan": "CNY", "元": "CNY", "块": "CNY", "块钱": "CNY", "人民币": "CNY",
                   "eur": "EUR", "euros": "EUR", "euro": "EUR", "gbp": "GBP", "pounds": "GBP",
                   "hkd": "HKD", "美元": "USD", "欧元": "EUR", "英镑": "GBP", "港币": "HKD"}


@dataclass(frozen=True, slots=True)
class Entity:
    kind: str
    text: str  # exactly text[start:end] of the input
    value: str  # normalised: digits for phones, ISO date, "123.45 CNY", lower-case email …
    start: int
    end: int

    def public(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- patterns
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_ACCOUNT_KEYWORD = re.compile(
    r"(?:(?:account|acct|customer|contract|meter)\s*(?:number|no\.?|num(?:ber)?|#|id)?"
    r"|户号|账号|帐号|账户号?|帐户号?|用户号|用户编号|客户编号|客户号|表号|合同号)"
    r"\s*(?:is|:|：|=|为|是)?\s*"
    r"(?P<id>[A-Za-z]{0,4}[-]?\d[\dA-Za-z-]{3,23})", re.IGNORECASE)
# an id shaped like a customer/account reference: letters, a dash, digits (GC-100231, AC-2024-77)
_ACCOUNT_SHAPE = re.compile(r"(?<![\w-])[A-Z]{2,4}-\d{4,12}(?:-\d{1,6})?(?![\w-])")

_PHONE = re.compile(
    r"(?<![A-Za-z0-9+])(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){1,4}"  # +86 138 0000 1111
    r"|\(\d{2,4}\)\s?\d{3,4}[\s.-]?\d{3,4}"  # (555) 010-0100
    r"|1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"  # 13800001111 / 138-0000-1111
    r"|0\d{2,3}[\s-]\d{7,8}"  # 010-12345678
    r"|\d{3}[\s.-]\d{3}[\s.-]\d{4}"  # 555-010-0100
    r"|400[\s-]?\d{3}[\s-]?\d{4}"  # 400 service numbers
    r")(?![A-Za-z0-9])")

_EN_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
             r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)")),
    ("zh_ymd", re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")),
    ("zh_md", re.compile(r"(?<![\d年])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")),
    ("dmy", re.compile(r"(?<![\d/])(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})(?![\d/])")),
    ("en_md", re.compile(rf"\b(?P<mon>{_EN_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?"
                         rf"(?:,?\s+(?P<y>\d{{4}}))?\b", re.IGNORECASE)),
    ("en_dm", re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{_EN_MONTH})"
                         rf"(?:,?\s+(?P<y>\d{{4}}))?\b", re.IGNORECASE)),
    ("en_rel", re.compile(r"\b(?P<rel>today|tomorrow|yesterday|day after tomorrow)\b",
                          re.IGNORECASE)),
    ("en_wd", re.compile(r"\b(?:(?P<next>next|this|on)\s+)?(?P<wd>monday|tuesday|wednesday|"
                         r"thursday|friday|saturday|sunday)\b", re.IGNORECASE)),
    ("zh_rel", re.compile(r"(?P<rel>大后天|后天|明天|今天|昨天|前天)")),
    ("zh_wd", re.compile(r"(?P<next>下|本|这)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])")),
]
_REL_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2,
             "今天": 0, "明天": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2}

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<sign>US\$|HK\$|[$¥￥€£])\s?(?P<n1>{_NUMBER})"
    rf"|(?P<code>USD|RMB|CNY|EUR|GBP|HKD)\s?(?P<n2>{_NUMBER})"
    rf"|(?<![A-Za-z0-9.])(?P<n3>{_NUMBER})\s?(?P<word>dollars?|yuan|euros?|pounds|USD|RMB|CNY|EUR|GBP|HKD"
    rf"|块钱|元|块|人民币|美元|欧元|英镑|港币)",
    re.IGNORECASE)

_EN_STREET = (r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct"
              r"|place|pl|terrace|close|crescent|square|sq|highway|hwy|parkway|pkwy)")
_EN_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]+\s+){{1,4}}(?i:{_EN_STREET})\b\.?"
    r"(?:,?\s+(?:apt|apartment|unit|suite|flat|floor)\.?\s*#?\s*[\w-]+)?"
    r"(?:,\s*[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)*){0,3}"
    r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?|,?\s+\d{5,6})?")
_ZH = "\u4e00-\u9fff"
_ZH_NUM = r"[\d一二三四五六七八九十百零〇两]+"
_ZH_ADDRESS = re.compile(
    rf"(?:[{_ZH}]{{2,6}}?(?:省|自治区))?(?:[{_ZH}]{{2,6}}?市)?(?:[{_ZH}]{{1,6}}?(?:区|县|镇|乡))?"
    rf"[{_ZH}\d]{{1,12}}?(?:路|街|大道|大街|巷|弄|胡同|道)(?:{_ZH_NUM}(?:号|弄))+"
    rf"(?:(?:{_ZH_NUM}|[A-Za-z])(?:栋|幢|号楼|座|单元|楼|层|室|号|户))*")
# a Chinese address ending in a residential compound: 阳光小区3栋2单元501室
_ZH_COMPOUND = re.compile(
    rf"(?:[{_ZH}]{{2,6}}?市)?(?:[{_ZH}]{{1,6}}?(?:区|县))?[{_ZH}]{{2,10}}?(?:小区|花园|公寓|新村|大厦)"
    rf"(?:(?:{_ZH_NUM}|[A-Za-z])(?:栋|幢|号楼|座|单元|楼|层|室|号|户))+")
# leading words that are not part of an address ("我住在", "地址是", "I live at")
_ZH_ADDRESS_PREFIX = re.compile(r"^(?:.*?(?:住在|住址是|地址是|地址：|地址:|位于|在))")


# --------------------------------------------------------------------------- helpers
def _cn_number(text: str) -> int | None:
    """Small Chinese numerals (一 .. 九十九) or Arabic digits."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGITS.get(tens, 1) if tens else 1
        o = _CN_DIGITS.get(ones, 0) if ones else 0
        return t * 10 + o
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def _digits(text: str) -> str:
    lead = "+" if text.strip().startswith("+") else ""
    return lead + re.sub(r"\D", "", text)


# --------------------------------------------------------------------------- finders
def _emails(text: str) -> list[Entity]:
    return [Entity("email", m.group(), m.group().lower(), m.start(), m.end())
            for m in _EMAIL.finditer(text)]


def _accounts(text: str) -> list[Entity]:
    out = []
    for m in _ACCOUNT_KEYWORD.finditer(text):
        ident = m.group("id").rstrip("-")
        if sum(c.isdigit() for c in ident) < 4:
            continue
        start = m.start("id")
        out.append(Entity("account", ident, ident.upper(), start, start + len(ident)))
    for m in _ACCOUNT_SHAPE.finditer(text):
        out.append(Entity("account", m.group(), m.group().upper(), m.start(), m.end()))
    return out


def _phones(text: str) -> list[Entity]:
    out = []
    for m in _PHONE.finditer(text):
        value = _digits(m.group())
        n = len(value.lstrip("+"))
        if 7 <= n <= 15:
            out.append(Entity("phone", m.group(), value, m.start(), m.end()))
    return out


def _dates(text: str, today: dt.date | None) -> list[Entity]:
    out = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            g = m.groupdict()
            value: str | None = None
            if kind in ("iso", "zh_ymd", "dmy"):
                value = _iso(int(g["y"]), int(g["m"]), int(g["d"]))
            elif kind == "zh_md":
                year = today.year if today else 2000
                value = _iso(year, int(g["m"]), int(g["d"]))
                if value and today is None:
                    value = value[5:]  # "--MM-DD" style without a year
                    value = f"--{value}"
            elif kind in ("en_md", "en_dm"):
                month = _MONTHS[g["mon"][:3].lower()]
                given = int(g["y"]) if g.get("y") else (today.year if today else None)
                if given is None:
                    value = f"--{month:02d}-{int(g['d']):02d}" if 1 <= int(g["d"]) <= 31 else None
                else:
                    value = _iso(given, month, int(g["d"]))
            elif kind in ("en_rel", "zh_rel"):
                offset = _REL_DAYS[g["rel"].lower()]
                value = (today + dt.timedelta(days=offset)).isoformat() if today else g["rel"].lower()
            elif kind in ("en_wd", "zh_wd"):
                wd = (_WEEKDAYS_EN.get(g["wd"].lower()) if kind == "en_wd"
                      else _WEEKDAYS_ZH[g["wd"]])
                nxt = (g.get("next") or "").lower()
                if today is None or wd is None:
                    value = g["wd"].lower()
                else:
                    ahead = (wd - today.weekday()) % 7
                    if nxt in ("next", "下"):
                        ahead = ahead + 7 if ahead else 7
                    value = (today + dt.timedelta(days=ahead)).isoformat()
            if value is not None:
                out.append(Entity("date", m.group(), value, m.start(), m.end()))
    return out


def _amounts(text: str) -> list[Entity]:
    out = []
    for m in _AMOUNT.finditer(text):
        g = m.groupdict()
        number = (g["n1"] or g["n2"] or g["n3"]).replace(",", "")
        if g["sign"]:
            cur = _CURRENCY_SIGNS[g["sign"].upper() if g["sign"][0].isalpha() else g["sign"]]
        elif g["code"]:
            cur = _CURRENCY_WORDS[g["code"].lower()]
        else:
            cur = _CURRENCY_WORDS[g["word"].lower()]
        out.append(Entity("amount", m.group(), f"{float(number):.2f} {cur}", m.start(), m.end()))
    return out


def _addresses(text: str) -> list[Entity]:
    out = []
    for m in _EN_ADDRESS.finditer(text):
        span = m.group().rstrip(" ,.")
        out.append(Entity("address", span, " ".join(span.split()), m.start(), m.start() + len(span)))
    for pattern in (_ZH_ADDRESS, _ZH_COMPOUND):
        for m in pattern.finditer(text):
            span, start = m.group(), m.start()
            prefix = _ZH_ADDRESS_PREFIX.match(span)
            if prefix and prefix.end() < len(span):
                start += prefix.end()
                span = span[prefix.end():]
            out.append(Entity("address", span, span, start, start + len(span)))
    return out


def extract(text: str, today: dt.date | None = None) -> list[Entity]:
    """Every entity in ``text``, in reading order, without overlaps."""
    if not text:
        return []
    found = (_emails(text) + _accounts(text) + _dates(text, today) + _amounts(text)
             + _phones(text) + _addresses(text))
    found.sort(key=lambda e: (_PRIORITY[e.kind], -(e.end - e.start), e.start))
    taken: list[Entity] = []
    for e in found:
        if any(e.start < o.end and o.start < e.end for o in taken):
            continue
        taken.append(e)
    taken.sort(key=lambda e: (e.start, e.end))
    return taken


def dedupe(entities: list[Entity]) -> list[Entity]:
    """One entity per (kind, value), the first occurrence kept."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in entities:
        if (e.kind, e.value) not in seen:
            seen.add((e.kind, e.value))
            out.append(e)
    return out
