"""Evaluation of ``condition`` node tests: pure functions of the call context and ``now``."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.acd.model import Calendar
from voice.ivr.flow import (
    CalendarTest,
    CallerTest,
    HolidayTest,
    Rule,
    Test,
    TimeTest,
    VarTest,
    VipTest,
)

_MISSING = object()
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


class ConditionError(ValueError):
    """A test refers to something the flow does not have (unknown calendar or time zone)."""


@dataclass(frozen=True)
class Context:
    now: float
    caller: str
    vip: bool
    variables: Mapping[str, Any]
    calendars: Mapping[str, Calendar]
    timezone: str


def get_path(variables: Mapping[str, Any], path: str, default: Any = _MISSING) -> Any:
    """``a.b.c`` through nested dicts (and object attributes); ``default`` when absent."""
    cur: Any = variables
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, (list, tuple)) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Fill ``{name}`` / ``{a.b}`` placeholders; unknown names become empty."""

    def sub(m: re.Match[str]) -> str:
        value = get_path(variables, m[1], "")
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)

    return _PLACEHOLDER.sub(sub, text)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConditionError(f"unknown time zone {name!r}") from err


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _calendar(ctx: Context, name: str) -> Calendar:
    cal = ctx.calendars.get(name)
    if cal is None:
        raise ConditionError(f"unknown calendar {name!r}")
    return cal


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "exists":
        return left is not _MISSING and left is not None
    if op == "missing":
        return left is _MISSING or left is None
    if left is _MISSING:
        return False
    if op in ("eq", "ne"):
        ln, rn = _number(left), _number(right)
        same = (ln == rn) if (ln is not None and rn is not None) else (left == right or str(left) == str(right))
        return same if op == "eq" else not same
    if op in ("lt", "le", "gt", "ge"):
        ln, rn = _number(left), _number(right)
        if ln is None or rn is None:
            return False
        return {"lt": ln < rn, "le": ln <= rn, "gt": ln > rn, "ge": ln >= rn}[op]
    if op == "in":
        return isinstance(right, (list, tuple)) and any(_compare("eq", left, r) for r in right)
    if op == "contains":
        if isinstance(left, (list, tuple)):
            return any(_compare("eq", item, right) for item in left)
        return str(right).lower() in str(left).lower()
    if op == "matches":
        try:
            return re.search(str(right), str(left)) is not None
        except re.error:
            return False
    raise ConditionError(f"unknown operator {op!r}")


def evaluate_test(test: Test, ctx: Context) -> bool:
    if isinstance(test, TimeTest):
        local = datetime.fromtimestamp(ctx.now, _zone(test.tz or ctx.timezone))
        if local.weekday() not in test.days:
            return False
        minute = local.hour * 60 + local.minute + local.second / 60.0
        return _minutes(test.start) <= minute < _minutes(test.end)
    if isinstance(test, CalendarTest):
        return _calendar(ctx, test.calendar).is_open(ctx.now)
    if isinstance(test, HolidayTest):
        holidays: set[date] = {date.fromisoformat(d) for d in test.dates}
        tz = test.tz or ctx.timezone
        if test.calendar is not None:
            cal = _calendar(ctx, test.calendar)
            holidays |= set(cal.holidays)
            tz = test.tz or cal.tz
        return datetime.fromtimestamp(ctx.now, _zone(tz)).date() in holidays
    if isinstance(test, CallerTest):
        for pattern in test.patterns:
            if pattern.startswith("re:"):
                if re.fullmatch(pattern[3:], ctx.caller):
                    return True
            elif fnmatch.fnmatchcase(ctx.caller, pattern):
                return True
        return False
    if isinstance(test, VipTest):
        return ctx.vip == test.is_vip
    if isinstance(test, VarTest):
        return _compare(test.op, get_path(ctx.variables, test.var), test.value)
    raise ConditionError(f"unknown test {test!r}")


def rule_matches(rule: Rule, ctx: Context) -> bool:
    result = all(evaluate_test(t, ctx) for t in rule.when)
    return not result if rule.negate else result
