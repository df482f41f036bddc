"""One way for a test to wait for something the hub does in its own time: ``eventually``.

    await eventually(lambda: routing.offers_for(agent_id))               # a plain predicate
    await eventually(fetch_state, within=5)                               # an async predicate
    rows = await eventually(fetch_rows, until=lambda rows: len(rows) == 3)

The check is called until it returns something truthy (or, with ``until``, until ``until(value)``
is truthy) and that value is returned; every wait is bounded by ``within`` seconds. On time-out
an ``AssertionError`` names the check and shows the last value it returned (or the last exception
it raised), so a failed wait reads like a failed assertion."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

_NOTHING = object()


async def eventually(check: Callable[[], Any], within: float = 10.0, *, until: Callable[[Any], Any] | None = None,
                     every: float = 0.05, what: str | None = None) -> Any:
    """Call ``check`` (sync or async) every ``every`` seconds until it gives a truthy value (or
    ``until(value)`` is truthy) and return that value; fail with an AssertionError after
    ``within`` seconds (a check still running then is cancelled)."""
    last: Any = _NOTHING
    error: BaseException | None = None
    deadline = asyncio.timeout(within)
    try:
        async with deadline:
            while True:
                try:
                    value = check()
                    if inspect.isawaitable(value):
                        value = await value
                except AssertionError as err:  # a check written with asserts: not yet
                    error = err
                else:
                    error, last = None, value
                    if until(value) if until is not None else value:
                        return value
                await asyncio.sleep(every)
    except TimeoutError:
        if not deadline.expired():
            raise  # the check's own time-out
        name = what or getattr(check, "__qualname__", repr(check))
        seen = (f"last raised {error!r}" if error is not None else
                "no answer yet" if last is _NOTHING else f"last returned {last!r}")
        raise AssertionError(f"not true within {within} s: {name} ({seen})") from None


def eventually_sync(check: Callable[[], Any], within: float = 10.0, *, until: Callable[[Any], Any] | None = None,
                    every: float = 0.05, what: str | None = None) -> Any:
    """``eventually`` for plain (non-async) tests such as the Playwright browser tests."""
    deadline = time.monotonic() + within
    last: Any = _NOTHING
    error: BaseException | None = None
    while True:
        try:
            value = check()
        except AssertionError as err:
            error, value = err, _NOTHING
        else:
            error, last = None, value
            if (until(value) if until is not None else value):
                return value
        if time.monotonic() >= deadline:
            name = what or getattr(check, "__qualname__", repr(check))
            seen = (f"last raised {error!r}" if error is not None else
                "no answer yet" if last is _NOTHING else f"last returned {last!r}")
            raise AssertionError(f"not true within {within} s: {name} ({seen})")
        time.sleep(every)
