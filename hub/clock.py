"""Time as a dependency, so routing and timers can run on a virtual clock in tests."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


class ShiftedClock:
    """Real time, shifted: starts at a chosen instant and runs at real speed from there (setting
    ``clock_start``). For training and demo systems that must look like a given day, and for tests
    that start a real server "on Friday at 16:55" and restart it "on Monday at 09:05"."""

    def __init__(self, start: float) -> None:
        self._offset = start - time.time()

    def now(self) -> float:
        return time.time() + self._offset
