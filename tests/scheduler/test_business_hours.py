"""Business-time arithmetic for SLA deadlines and reminders over a queue calendar: weekends,
holidays, special hours and daylight-saving changes, and "no calendar" meaning 24/7."""

from __future__ import annotations

import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.acd import Calendar
from hub.services.business_hours import (
    NeverOpen,
    add_business_seconds,
    before,
    business_seconds_between,
    open_intervals,
)

H = 3600.0
BERLIN = "Europe/Berlin"
WEEKDAYS_9_TO_17 = {d: [("09:00", "17:00")] for d in range(5)}


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: str = BERLIN) -> float:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp()


def local(t: float, tz: str = BERLIN) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


def office(**kw) -> Calendar:  # type: ignore[no-untyped-def]
    return Calendar(tz=kw.pop("tz", BERLIN), weekly=kw.pop("weekly", WEEKDAYS_9_TO_17), **kw)


def test_no_calendar_is_open_around_the_clock() -> None:
    start = at(2026, 3, 27, 16)
    assert add_business_seconds(None, start, 5 * H) == start + 5 * H
    assert business_seconds_between(None, start, start + 80 * H) == 80 * H
    assert before(None, start, 2 * H) == start - 2 * H


def test_deadline_skips_the_weekend_and_the_spring_dst_change() -> None:
    cal = office()
    friday_4pm = at(2026, 3, 27, 16)  # Friday; clocks go forward on Sunday 29 March in Berlin
    deadline = add_business_seconds(cal, friday_4pm, 2 * H)
    assert local(deadline) == "Mon 2026-03-30 10:00"
    # one hour on Friday, one on Monday; the weekend between is an hour short (23 h Sunday)
    assert deadline - friday_4pm == 2 * H + 64 * H - H
    assert business_seconds_between(cal, friday_4pm, deadline) == 2 * H
    assert business_seconds_between(cal, deadline, friday_4pm) == -2 * H


def test_a_holiday_counts_as_closed() -> None:
    cal = office(holidays=frozenset({date(2026, 5, 6)}))  # a Wednesday
    tuesday_4pm = at(2026, 5, 5, 16)
    deadline = add_business_seconds(cal, tuesday_4pm, 4 * H)
    assert local(deadline) == "Thu 2026-05-07 12:00"
    assert business_seconds_between(cal, tuesday_4pm, deadline) == 4 * H
    # without the holiday the same deadline would be Wednesday noon
    assert local(add_business_seconds(office(), tuesday_4pm, 4 * H)) == "Wed 2026-05-06 12:00"


def test_special_hours_open_a_saturday_and_shorten_a_weekday() -> None:
    cal = office(special={date(2026, 5, 9): [("10:00", "12:00")],   # Saturday morning
                          date(2026, 5, 11): [("09:00", "10:00")]})  # short Monday
    friday_4pm = at(2026, 5, 8, 16)
    assert local(add_business_seconds(cal, friday_4pm, 2 * H)) == "Sat 2026-05-09 11:00"
    assert local(add_business_seconds(cal, friday_4pm, 4 * H)) == "Mon 2026-05-11 10:00"
    assert local(add_business_seconds(cal, friday_4pm, 4.5 * H)) == "Tue 2026-05-12 09:30"
    assert business_seconds_between(cal, friday_4pm, at(2026, 5, 12, 9)) == 4 * H


def test_special_hours_override_a_holiday() -> None:
    day = date(2026, 5, 6)
    cal = office(holidays=frozenset({day}), special={day: [("12:00", "14:00")]})
    assert local(add_business_seconds(cal, at(2026, 5, 6, 8), 3 * H)) == "Thu 2026-05-07 10:00"


def test_start_in_closed_time_counts_from_the_next_opening() -> None:
    cal = office()
    saturday = at(2026, 5, 9, 13)
    assert local(add_business_seconds(cal, saturday, 30 * 60)) == "Mon 2026-05-11 09:30"
    assert add_business_seconds(cal, saturday, 0) == saturday


def test_an_amount_that_fills_the_day_ends_at_closing_time() -> None:
    cal = office()
    assert local(add_business_seconds(cal, at(2026, 5, 11, 9), 8 * H)) == "Mon 2026-05-11 17:00"
    assert local(add_business_seconds(cal, at(2026, 5, 11, 9), 8 * H + 1)) == "Tue 2026-05-12 09:00"


def test_reminder_lead_time_reaches_back_over_the_weekend_and_a_holiday() -> None:
    cal = office(holidays=frozenset({date(2026, 5, 8)}))  # Friday off
    monday_930 = at(2026, 5, 11, 9, 30)
    assert local(before(cal, monday_930, H)) == "Thu 2026-05-07 16:30"
    assert local(before(cal, monday_930, 20 * 60)) == "Mon 2026-05-11 09:10"
    assert local(before(office(), monday_930, H)) == "Fri 2026-05-08 16:30"


def test_reminder_lead_longer_than_any_open_time_is_at_once() -> None:
    cal = Calendar(tz=BERLIN, weekly={}, special={date(2026, 5, 11): [("09:00", "10:00")]})
    deadline = at(2026, 5, 11, 10)
    assert before(cal, deadline, H) == at(2026, 5, 11, 9)
    assert before(cal, deadline, 2 * H) < at(2026, 5, 11, 9)


def test_24_7_calendar_over_both_dst_changes_counts_real_hours() -> None:
    always = Calendar(tz=BERLIN, weekly={d: [("00:00", "24:00")] for d in range(7)})
    assert business_seconds_between(always, at(2026, 3, 28), at(2026, 3, 30)) == 47 * H
    assert business_seconds_between(always, at(2026, 10, 24), at(2026, 10, 26)) == 49 * H
    sundays = Calendar(tz=BERLIN, weekly={6: [("00:00", "24:00")]})
    # the autumn Sunday has 25 hours: 24 open hours end at 23:00 local time
    assert local(add_business_seconds(sundays, at(2026, 10, 25), 24 * H)) == "Sun 2026-10-25 23:00"


def test_dst_in_new_york_shifts_nothing_in_local_business_hours() -> None:
    ny = "America/New_York"
    cal = office(tz=ny)
    friday = at(2026, 3, 6, 15, tz=ny)  # US clocks go forward on Sunday 8 March 2026
    deadline = add_business_seconds(cal, friday, 11 * H)
    assert local(deadline, ny) == "Tue 2026-03-10 10:00"
    assert business_seconds_between(cal, friday, deadline) == 11 * H
    assert deadline - friday == 91 * H - H  # Fri 15:00 -> Tue 10:00 is 91 wall-clock hours, one skipped


def test_arithmetic_round_trips_on_random_instants() -> None:
    cal = office(holidays=frozenset({date(2026, 5, 6), date(2026, 12, 25)}),
                 special={date(2026, 5, 9): [("10:00", "12:00")]})
    rng = random.Random(7)
    base = at(2026, 1, 1)
    for _ in range(200):
        start = base + rng.uniform(0, 360 * 86400)
        amount = rng.choice([0.0, 60.0, rng.uniform(0, 3 * 86400), rng.uniform(0, 40 * H)])
        deadline = add_business_seconds(cal, start, amount)
        assert deadline >= start
        assert business_seconds_between(cal, start, deadline) == pytest.approx(amount, abs=1e-3)
        if amount > 0:
            assert cal.is_open(deadline - 1e-3)
            reminder = before(cal, deadline, amount)
            assert business_seconds_between(cal, reminder, deadline) == pytest.approx(amount, abs=1e-3)
            assert reminder >= start - 1e-6


def test_open_intervals_are_clipped_and_ordered() -> None:
    cal = office()
    got = list(open_intervals(cal, at(2026, 5, 8, 12), at(2026, 5, 11, 10)))
    assert got == [(at(2026, 5, 8, 12), at(2026, 5, 8, 17)), (at(2026, 5, 11, 9), at(2026, 5, 11, 10))]


def test_a_calendar_that_never_opens_has_no_deadline() -> None:
    with pytest.raises(NeverOpen):
        add_business_seconds(Calendar(tz=BERLIN, weekly={}), at(2026, 5, 8), H)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), True])
def test_bad_amounts_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        add_business_seconds(office(), at(2026, 5, 8), bad)
    with pytest.raises(ValueError):
        before(office(), at(2026, 5, 8), bad)
