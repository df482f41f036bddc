"""Entity extraction for the agent and for tickets (ASSIST-1): emails, phone numbers, account
numbers, addresses, dates and times of day, and amounts, in English and Chinese, with character
spans. Chinese as customers say it and speech recognition writes it: addresses from 省/市/区/路/号
down to 单元/室 (compounds such as 望京西园四区, villages such as 东关村三组), spoken digit runs
(幺三八… → 138…), Chinese numerals in amounts (一百零五块五毛), times of day after a date or alone
(明天下午三点 → ``2026-11-24T15:00``; 明天上午 → ``2026-11-24T08:00/12:00``; 两点到四点, a range).

Pure: regular expressions and a few rules, no model, no clock (relative dates such as
"tomorrow" / "明天" are resolved against the ``today`` the caller passes). Overlaps are resolved
by kind priority, then by length: an email's digits are not also a phone number, "GC-100231" is
an account number and not a phone number, "2026-11-23" is a date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

KINDS = ("email", "account", "date", "amount", "phone", "address")
_PRIORITY = {k: i for i, k in enumerate(KINDS)}

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_SPOKEN_DIGITS = {**_CN_DIGITS, "幺": 1}
_CN_DIGIT_RUN = re.compile(r"[零〇一二三四五六七八九幺两]{7,}")
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
    r"|户号|账号|帐号|账户号?|帐户号?|用户号|用户编号|客户编号|客户号|表号|合同号|(?:燃气|IC|气)?卡号|缴费号)"
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
    ("en_rel", re.compile(r"\b(?P<rel>today|tomorrow|yesterday|day after tomorrow|tonight)\b",
                          re.IGNORECASE)),
    ("en_wd", re.compile(r"\b(?:(?P<next>next|this|on)\s+)?(?P<wd>monday|tuesday|wednesday|"
                         r"thursday|friday|saturday|sunday)\b", re.IGNORECASE)),
    ("zh_rel", re.compile(r"(?P<rel>大后天|后天|明天|今天|昨天|前天)")),
    ("zh_wd", re.compile(r"(?P<next>下个?|本|这个?)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])")),
]
# a time of day after a date, or alone: 下午三点半, 上午10:30, 晚上8点, 明天上午 (a part of the day),
# 3pm, 10:30 am, tomorrow morning
_ZH_PERIODS = {"凌晨": (0, 6), "清晨": (5, 8), "早上": (6, 9), "早晨": (6, 9), "上午": (8, 12),
               "中午": (11, 13), "下午": (13, 18), "傍晚": (17, 19), "晚上": (18, 22), "夜里": (21, 24),
               "夜间": (21, 24)}
_EN_PERIODS = {"morning": (8, 12), "noon": (11, 13), "afternoon": (13, 18), "evening": (18, 22),
               "tonight": (18, 22), "night": (21, 24)}
_PM_PERIODS = {"下午", "傍晚", "晚上", "夜里", "夜间", "afternoon", "evening", "tonight", "night"}
_ZH_HOUR = r"(?:2[0-3]|[01]?\d|二十[一二三]?|十[一二]?|[一二两三四五六七八九])"
_ZH_MINUTE = (r"(?:半|一刻|三刻|[0-5]?\d分?|[零〇][一二三四五六七八九]分?"
              r"|[二三四五]?十[一二三四五六七八九]?分|[一二三四五六七八九]分)")
_ZH_TIME = re.compile(
    rf"(?P<period>{'|'.join(_ZH_PERIODS)})?\s*"
    rf"(?:(?P<h>{_ZH_HOUR})\s*(?:点钟?|时|[:：](?=\d))\s*(?P<min>{_ZH_MINUTE})?)?")
_EN_TIME = re.compile(
    r"(?:\s*,?\s*(?:at|around|by|from|in the)?\s*)"
    r"(?:(?P<h>1[0-2]|0?[1-9])(?::(?P<min>[0-5]\d))?\s*(?P<ap>[ap])\.?m\b\.?"
    r"|(?P<h24>[01]?\d|2[0-3]):(?P<min24>[0-5]\d)\b"
    r"|(?P<period>morning|noon|afternoon|evening|night))", re.IGNORECASE)
_EN_TIME_LEAD = re.compile(r"(?:at|around|by|from|in the)\s+", re.IGNORECASE)
_MINUTE_WORDS = {"半": 30, "一刻": 15, "三刻": 45}
_RANGE_TO = re.compile(r"\s*(?:到|至|～|~|-|–|—|to|until)\s*", re.IGNORECASE)
_REL_DAYS = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "day after tomorrow": 2,
             "今天": 0, "明天": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2}

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?P<sign>US\$|HK\$|[$¥￥€£])\s?(?P<n1>{_NUMBER})"
    rf"|(?P<code>USD|RMB|CNY|EUR|GBP|HKD)\s?(?P<n2>{_NUMBER})"
    rf"|(?<![A-Za-z0-9.])(?P<n3>{_NUMBER})\s?(?P<word>dollars?|yuan|euros?|pounds|USD|RMB|CNY|EUR|GBP|HKD"
    rf"|块钱|元|块|人民币|美元|欧元|英镑|港币)",
    re.IGNORECASE)

# 三百五十元, 两千块钱, 一百零五块; 块 alone only when not 一块儿 ("together")
_ZH_AMOUNT = re.compile(r"(?P<n>[零一二两三四五六七八九十百千万]+)(?:点(?P<dec>[零一二三四五六七八九]{1,2}))?"
                        r"(?P<word>块钱|元钱|元|块(?!儿))(?:(?P<jiao>[一二三四五六七八九])毛)?")
_EN_STREET = (r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct"
              r"|place|pl|terrace|close|crescent|square|sq|highway|hwy|parkway|pkwy)")
_EN_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]+\s+){{1,4}}(?i:{_EN_STREET})\b\.?"
    r"(?:,?\s+(?:apt|apartment|unit|suite|flat|floor)\.?\s*#?\s*[\w-]+)?"
    r"(?:,\s*[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+)*){0,3}"
    r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?|,?\s+\d{5,6})?")
_ZH = "\u4e00-\u9fff"
_ZH_NUM = r"[\d一二三四五六七八九十百零〇两]+"
# the units after a street number or a compound: 3栋2单元501室, 2号楼1503, B座12层
_ZH_UNITS = (rf"(?:(?:{_ZH_NUM}|[A-Za-z])(?:栋|幢|号楼|座|单元|楼|层|室|号|户))*"
             r"(?:(?<=[栋幢楼座元层])-?\d{2,5}(?![\d号]))?")
_ZH_COMPOUND_NAMES = r"(?:小区|花园|公寓|新村|大厦|广场|家园|苑|府|里|庄|园|城)"
_ZH_ADDRESS = re.compile(
    rf"(?:[{_ZH}]{{2,6}}?(?:省|自治区))?(?:[{_ZH}]{{2,6}}?市)?(?:[{_ZH}]{{1,6}}?(?:区|县|镇|乡))?"
    rf"[{_ZH}\d]{{1,12}}?(?:路|街|大道|大街|巷|弄|胡同|道)(?:{_ZH_NUM}段)?(?:{_ZH_NUM}(?:号|弄))+"
    rf"(?:[A-Za-z{_ZH}]{{2,10}}?{_ZH_COMPOUND_NAMES}(?=[\dA-Za-z一二三四五六七八九十]))?{_ZH_UNITS}")
# a Chinese address ending in a residential compound: 阳光小区3栋2单元501室
_ZH_COMPOUND = re.compile(
    rf"(?:[{_ZH}]{{2,6}}?市)?(?:[{_ZH}]{{1,6}}?(?:区|县))?[{_ZH}]{{2,10}}?(?:小区|花园|公寓|新村|大厦|家园|[园苑里]{_ZH_NUM}区)"
    rf"(?:(?:{_ZH_NUM}|[A-Za-z])(?:栋|幢|号楼|座|单元|楼|层|室|号|户))+"
    r"(?:(?<=[栋幢楼座元层])-?\d{2,5}(?![\d号]))?")
# a village address: 城关镇东关村三组15号
_ZH_VILLAGE = re.compile(
    rf"(?:[{_ZH}]{{2,6}}?(?:县|市))?(?:[{_ZH}]{{1,6}}?(?:镇|乡))?[{_ZH}]{{1,6}}?村(?:{_ZH_NUM}(?:组|队|号))+")
# leading words that are not part of an address ("我住在", "地址是", "I live at")
_ZH_ADDRESS_PREFIX = re.compile(r"^(?:.*?(?:住在|住址是|地址是|地址：|地址:|位于|在|到|去))")


# --------------------------------------------------------------------------- helpers
def _cn_number(text: str) -> int | None:
    """A Chinese numeral (一百零五, 两千三百, 十五, 一万二千) or Arabic digits; None if it is not one."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c not in _CN_UNITS and c != "万" for c in text):
        return None
    total, section, digit = 0, 0, None
    for c in text:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * _CN_UNITS[c]
            digit = None
    return total + section + (digit or 0)


def _cn_digit_runs(text: str) -> str:
    """``text`` with every run of seven or more spoken digits (一三八幺二…, as speech recognition
    writes phone and account numbers) as Arabic digits, one for one: spans stay those of ``text``."""
    return _CN_DIGIT_RUN.sub(lambda m: "".join(str(_SPOKEN_DIGITS[c]) for c in m.group()), text)


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def _clock(period: str | None, hour: int, minute: int) -> str | None:
    """"HH:MM" of an hour said with a part of the day (下午三点 → 15:00, 中午一点 → 13:00)."""
    if period in _PM_PERIODS and hour < 12 or period in ("中午", "noon") and hour < 6:
        hour += 12
    if hour > 24 or minute > 59:
        return None
    return f"{hour % 24:02d}:{minute:02d}"


def _zh_time(m: re.Match[str]) -> str | None:
    """"HH:MM", or "HH:MM/HH:MM" for a part of the day without an hour; None if nothing matched."""
    period, h = m.group("period"), m.group("h")
    if h is None:
        if period is None:
            return None
        lo, hi = _ZH_PERIODS[period]
        return f"{lo:02d}:00/{hi:02d}:00"
    return _zh_time_in(m, period)


def _en_time(m: re.Match[str]) -> str | None:
    if m.group("period"):
        lo, hi = _EN_PERIODS[m.group("period").lower()]
        return f"{lo:02d}:00/{hi:02d}:00"
    if m.group("h24"):
        return _clock(None, int(m.group("h24")), int(m.group("min24")))
    hour = int(m.group("h")) % 12 + (12 if m.group("ap").lower() == "p" else 0)
    return _clock(None, hour, int(m.group("min") or 0))


def _time_after(text: str, pos: int, chinese: bool) -> tuple[int, str] | None:
    """A time of day right after position ``pos`` (after a date): its end and "HH:MM", or
    "HH:MM/HH:MM" for a part of the day or a range (上午九点到十一点, 2-4pm)."""
    pattern, read = (_ZH_TIME, _zh_time) if chinese else (_EN_TIME, _en_time)
    m = pattern.match(text, pos)
    if m is None or m.end() == pos:
        return None
    value = read(m)
    if not value:
        return None
    to = _RANGE_TO.match(text, m.end())
    if to is not None and "/" not in value:
        m2 = pattern.match(text, to.end())
        if m2 is not None and m2.end() > to.end() and (not chinese or m2.group("h")):
            # the second hour keeps the first one's part of the day: 下午两点到四点 → 14:00/16:00
            end_value = (_zh_time_in(m2, m2.group("period") or m.group("period")) if chinese
                         else read(m2))
            if end_value and "/" not in end_value:
                return m2.end(), f"{value}/{end_value}"
    return m.end(), value


def _zh_time_in(m: re.Match[str], period: str | None) -> str | None:
    hour = _cn_number(m.group("h"))
    mins = m.group("min")
    minute = _MINUTE_WORDS.get(mins, -1) if mins else 0
    if minute < 0:
        minute = _cn_number(mins.rstrip("分").lstrip("零〇") or "0") or 0
    return _clock(period, hour, minute) if hour is not None else None


def _times(text: str, today: dt.date | None) -> list[Entity]:
    """Times of day said without a date (下午三点, 3:30pm, 两点到四点): today's, when ``today``
    is known."""
    out = []
    for chinese, pattern in ((True, _ZH_TIME), (False, _EN_TIME)):
        for m in pattern.finditer(text):
            if m.end() == m.start() or (m.group("h") is None if chinese else m.group("period")):
                continue  # a part of the day alone ("上午", "morning") is not a time
            timed = _time_after(text, m.start(), chinese)
            if timed is None:
                continue
            end, value = timed
            start = m.start() + len(m.group()) - len(m.group().lstrip(" ,"))
            lead = _EN_TIME_LEAD.match(text, start) if not chinese else None
            if lead is not None:
                start = lead.end()
            out.append(Entity("date", text[start:end], (today.isoformat() if today else "") + "T" + value,
                              start, end))
    return out


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
                    if nxt in ("next", "下", "下个"):
                        ahead = ahead + 7 if ahead else 7
                    value = (today + dt.timedelta(days=ahead)).isoformat()
            if value is None:
                continue
            end = m.end()
            if len(value) == 10:  # a full date: with the time of day said after it
                timed = _time_after(text, end, kind.startswith(("zh", "iso")))
                if timed is not None:
                    end, clock = timed
                    value = f"{value}T{clock}"
            out.append(Entity("date", text[m.start():end], value, m.start(), end))
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


def _zh_amounts(text: str) -> list[Entity]:
    out = []
    for m in _ZH_AMOUNT.finditer(text):
        n = _cn_number(m.group("n"))
        if n is None or (n == 1 and m.group("word") == "块" and not m.group("jiao")):
            continue  # 一块 is as often "together" as "one yuan"
        cents = 0
        if m.group("dec"):
            cents = int("".join(str(_CN_DIGITS[c]) for c in m.group("dec")).ljust(2, "0"))
        elif m.group("jiao"):
            cents = _CN_DIGITS[m.group("jiao")] * 10
        out.append(Entity("amount", m.group(), f"{n}.{cents:02d} CNY", m.start(), m.end()))
    return out


def _addresses(text: str) -> list[Entity]:
    out = []
    for m in _EN_ADDRESS.finditer(text):
        span = m.group().rstrip(" ,.")
        out.append(Entity("address", span, " ".join(span.split()), m.start(), m.start() + len(span)))
    for pattern in (_ZH_ADDRESS, _ZH_COMPOUND, _ZH_VILLAGE):
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
    spoken = _cn_digit_runs(text)  # 幺三八… as digits, for phones and account numbers
    found = (_emails(text) + _accounts(spoken) + _dates(text, today) + _times(text, today)
             + _amounts(text) + _zh_amounts(text) + _phones(spoken) + _addresses(text))
    found = [e if text[e.start:e.end] == e.text else replace(e, text=text[e.start:e.end]) for e in found]
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
