"""Business-time arithmetic over a queue calendar (SLA deadlines, reminders before them).

Pure functions of a :class:`hub.acd.Calendar` (weekly hours, holidays, special hours, time zone:
its ``is_open`` / ``next_change`` are the one definition of "open") and epoch-second instants.
``None`` as the calendar means open around the clock (24/7). Times are absolute instants, so
daylight-saving changes need no special case: an open day that is 23 hours long counts 23 hours.

``add_business_seconds(cal, start, s)``  the instant when ``s`` seconds of open time have passed
                                         since ``start`` (a deadline);
``business_seconds_between(cal, a, b)``  open seconds in ``[a, b)`` (negative if ``b < a``);
``before(cal, deadline, lead)``          the instant ``lead`` open seconds before ``deadline``
                                         (when to remind).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hub.acd import Calendar

# How far to look for an opening: a calendar closed for longer than this is treated as never open.
HORIZON_S = 400 * 86400.0
_EPS = 1e-6


class NeverOpen(ValueError):
    """The calendar has no open time within the horizon, so no business deadline exists."""


def _check(seconds: float, what: str) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise ValueError(f"{what} must be a finite number of seconds, got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"{what} must not be negative, got {seconds!r}")


def open_intervals(calendar: Calendar | None, a: float, b: float) -> Iterator[tuple[float, float]]:
    """The open periods of the calendar inside ``[a, b)``, in order, clipped to it."""
    if b <= a:
        return
    if calendar is None:
        yield a, b
        return
    t = a
    while t < b:
        nxt = calendar.next_change(t)
        end = b if nxt is None else min(nxt, b)
        if calendar.is_open(t):
            yield t, end
        if nxt is None:
            return
        t = end


def add_business_seconds(calendar: Calendar | None, start: float, seconds: float) -> float:
    """The instant at which ``seconds`` of open time have elapsed since ``start``.

    Closed time (nights, weekends, holidays) does not count; a start in closed time counts from the
    next opening. Zero seconds is ``start`` itself. An amount that exactly fills an open period ends
    at its close (a deadline at 17:00, not the next morning)."""
    _check(seconds, "business seconds")
    if calendar is None:
        return start + seconds
    t, remaining = start, float(seconds)
    while remaining > 0:
        nxt = calendar.next_change(t)
        if calendar.is_open(t):
            if nxt is None or remaining <= nxt - t:
                return t + remaining
            remaining -= nxt - t
        elif nxt is None:
            raise NeverOpen(f"the calendar ({calendar.tz}) has no open hours within "
                            f"{HORIZON_S / 86400:.0f} days of {start}")
        t = nxt
    return t


def business_seconds_between(calendar: Calendar | None, a: float, b: float) -> float:
    """Open seconds between ``a`` and ``b`` (negative when ``b`` is before ``a``)."""
    if b < a:
        return -business_seconds_between(calendar, b, a)
    return sum(end - start for start, end in open_intervals(calendar, a, b))


def before(calendar: Calendar | None, deadline: float, lead_seconds: float) -> float:
    """The instant ``lead_seconds`` of open time before ``deadline`` (a reminder's due time).

    A reminder 1 hour before a deadline at Monday 09:30 (open 09:00-17:00, Monday to Friday) is
    Friday 16:30. When there is less open time than that before the deadline within the horizon,
    the result is the start of the horizon: the caller fires such a reminder at once."""
    _check(lead_seconds, "lead")
    if calendar is None or lead_seconds == 0:
        return deadline - lead_seconds
    span = max(86400.0, 2 * lead_seconds)
    while True:
        window_start = deadline - span
        periods = list(open_intervals(calendar, window_start, deadline))
        if sum(end - start for start, end in periods) >= lead_seconds:
            remaining = float(lead_seconds)
            for start, end in reversed(periods):
                if remaining <= end - start + _EPS:  # float sums: do not spill into the period before
                    return max(start, end - remaining)
                remaining -= end - start
        if span >= HORIZON_S:
            return window_start
        span = min(HORIZON_S, span * 4)


async def queue_calendar(directory: Any, queue_id: str) -> Calendar | None:
    """The calendar of a queue (None when it has none: open 24/7). ``directory`` is the hub's
    ``DirectoryService``; raises its ``NotFound`` for an unknown queue."""
    from hub.services.directory import calendar_from_mapping

    queue = await directory.get_queue(queue_id)
    if not queue.get("calendar_id"):
        return None
    return calendar_from_mapping(await directory.get_calendar(queue["calendar_id"]))
