"""Time-of-day / holiday routing on a fixed clock, and flow validation errors."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.acd.model import Calendar
from tests.voice.ivr.helpers import flow, text
from voice.ivr import Flow, FlowDefinition, IvrSession, check_flow, validation_problems
from voice.ivr.model import Hangup

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = Calendar(tz="Asia/Shanghai", weekly={d: [("08:00", "20:00")] for d in range(6)},
                  holidays=frozenset({date(2027, 1, 1), date(2027, 2, 17)}))

ROUTING = flow({
    "hours": {"type": "condition", "rules": [
        {"when": [{"type": "holiday", "calendar": "Office hours"}], "next": "holiday"},
        {"when": [{"type": "calendar_open", "calendar": "Office hours"}], "next": "open"},
        {"when": [{"type": "time", "start": "20:00", "end": "22:00", "days": [0, 1, 2, 3, 4]}],
         "next": "evening"}],
        "default": "closed"},
    "holiday": {"type": "hangup", "reason": "holiday"},
    "open": {"type": "hangup", "reason": "open"},
    "evening": {"type": "hangup", "reason": "evening"},
    "closed": {"type": "hangup", "reason": "closed"},
}, timezone="Asia/Shanghai")


def _route(local: datetime) -> str:
    f = Flow(FlowDefinition.model_validate(ROUTING), calendars={"Office hours": OFFICE})
    now = local.replace(tzinfo=SHANGHAI).timestamp()
    actions = IvrSession(f, now=now).start(now)
    assert isinstance(actions[-1], Hangup)
    return actions[-1].reason


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 11, 23, 9, 30), "open"),        # Monday morning
    (datetime(2026, 11, 23, 7, 59, 59), "closed"),  # one second before opening
    (datetime(2026, 11, 23, 8, 0), "open"),         # opening instant
    (datetime(2026, 11, 23, 20, 0), "evening"),     # closing instant (half-open interval)
    (datetime(2026, 11, 28, 12, 0), "open"),        # Saturday is a working day
    (datetime(2026, 11, 28, 21, 0), "closed"),      # Saturday evening: no evening line
    (datetime(2026, 11, 29, 12, 0), "closed"),      # Sunday
    (datetime(2027, 1, 1, 10, 0), "holiday"),       # New Year (a Friday) in the calendar
    (datetime(2027, 2, 17, 23, 59), "holiday"),     # holiday late at night, local date
])
def test_business_hours_and_holidays_on_a_fixed_clock(local: datetime, expected: str) -> None:
    assert _route(local) == expected


def test_the_calendars_time_zone_decides_not_utc() -> None:
    # 2027-01-01 00:30 in Shanghai is still 2026-12-31 in UTC: already the holiday
    local = datetime(2027, 1, 1, 0, 30)
    assert datetime.fromtimestamp(local.replace(tzinfo=SHANGHAI).timestamp(),
                                  ZoneInfo("UTC")).date() == date(2026, 12, 31)
    assert _route(local) == "holiday"


def test_time_test_uses_its_own_time_zone_and_inline_holiday_dates() -> None:
    f = flow({
        "c": {"type": "condition", "rules": [
            {"when": [{"type": "holiday", "dates": ["2026-12-25"], "tz": "Europe/London"}],
             "next": "xmas"},
            {"when": [{"type": "time", "tz": "Europe/London", "start": "09:00", "end": "17:00"}],
             "next": "uk_open"}], "default": "closed"},
        "xmas": {"type": "hangup", "reason": "xmas"},
        "uk_open": {"type": "hangup", "reason": "uk_open"},
        "closed": {"type": "hangup", "reason": "closed"},
    }, timezone="Asia/Shanghai")
    london = ZoneInfo("Europe/London")
    for local, expected in [(datetime(2026, 12, 24, 10, 0), "uk_open"),
                            (datetime(2026, 12, 25, 10, 0), "xmas"),
                            (datetime(2026, 12, 24, 17, 0), "closed")]:
        now = local.replace(tzinfo=london).timestamp()
        assert IvrSession(f, now=now).start(now)[-1] == Hangup(expected)


# --------------------------------------------------------------------------- validation


def _problems(data: dict, **kw: object) -> list[str]:
    parsed, problems = validation_problems(data, **kw)
    return [str(p) for p in problems]


def test_a_good_flow_has_no_problems() -> None:
    f = FlowDefinition.model_validate(ROUTING)
    assert check_flow(f, calendars=["Office hours"]) == []


def test_every_structural_problem_is_listed() -> None:
    data = flow({
        "start": {"type": "menu", "prompt": [], "options": {"1": "nowhere", "2": "a"}},
        "a": {"type": "goto", "target": "b"},
        "b": {"type": "set", "variables": {"x": 1}, "next": "a"},
        "orphan": {"type": "play", "prompts": [{"file": "missing_file"}]},
        "cal": {"type": "condition", "rules": [
            {"when": [{"type": "calendar_open", "calendar": "No such"}], "next": "a"}],
            "default": "a"},
    })
    problems = _problems(data, prompt_files=["welcome"], calendars=["Office hours"])
    assert "node 'start' options.1: refers to unknown node 'nowhere'" in problems
    assert "node 'start' prompt: a menu node needs a prompt" in problems
    assert "node 'orphan' : is unreachable from the start node" in problems
    assert "node 'orphan' prompts.0: prompt file 'missing_file' is not uploaded" in problems
    assert "node 'cal' rules.0.when.0: unknown calendar 'No such'" in problems
    assert any("loops without waiting for the caller" in p and "'a'" in p and "'b'" in p
               for p in problems)
    assert len(problems) == 7  # + 'cal' unreachable


def test_a_loop_through_a_menu_is_fine() -> None:
    data = flow({
        "m": {"type": "menu", "prompt": text("Again?"), "options": {"1": "p"}},
        "p": {"type": "play", "prompts": text("Once more"), "next": "m"},
    })
    assert _problems(data) == []


def test_unknown_start_and_agent_entries_and_time_zone() -> None:
    data = {"name": "x", "start": "nope", "settings": {"timezone": "Mars/Base",
                                                       "agent_entries": ["ghost"]},
            "nodes": {"h": {"type": "hangup"}}}
    problems = _problems(data)
    assert "flow start: start node 'nope' does not exist" in problems
    assert "flow settings.timezone: unknown time zone 'Mars/Base'" in problems
    assert "flow settings.agent_entries: agent entry 'ghost' does not exist" in problems


def test_shape_errors_name_the_node_and_field() -> None:
    data = flow({
        "m": {"type": "menu", "prompt": text("x"), "options": {"11": "m"}},
        "c": {"type": "collect", "prompt": text("x"), "store": "v", "min_digits": 5,
              "max_digits": 2},
        "w": {"type": "warp"},
        "p": {"type": "play", "prompts": [{"text": "a", "file": "b"}]},
    })
    parsed, problems = validation_problems(data)
    assert parsed is None
    where = {(p.node, p.field) for p in problems}
    assert ("m", "options") in where
    assert ("c", "") in where
    assert any(node == "w" for node, _ in where)
    assert ("p", "prompts.0") in where
    assert all(p.message for p in problems)


def test_speech_menu_with_nothing_to_match_and_offer_without_keys() -> None:
    data = flow({
        "s": {"type": "speech_menu", "prompt": text("Say it"),
              "branches": [{"key": "a", "next": "q"}]},
        "q": {"type": "queue", "queue_id": "general",
              "offer": {"every_s": 60, "prompt": text("Press 1")}},
    })
    problems = _problems(data)
    assert "node 's' branches: no keywords and no matching hook: nothing can match" in problems
    assert "node 'q' keys: the offer has no keys the caller could press" in problems
