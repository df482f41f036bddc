"""Rate limits (issue #16, item 6): how often one client IP or one customer token may do what an
anonymous caller can do (log in, open a chat, leave an offline message, send a widget message).

A limit is a token bucket per key: ``rate`` actions per minute on average, bursts of up to
``burst``. Over it, the caller gets ``429 rate_limited`` with ``Retry-After`` (seconds until the
next action is allowed). Buckets live in this process's memory (with several processes each
counts its own clients: the proxy pins a client to one process) and are bounded: the least
recently used keys are forgotten beyond ``max_keys``, so a flood of new keys cannot grow memory.

Failed logins are counted apart (:class:`LoginGuard`): per client IP **and** username, so an
attacker elsewhere cannot lock a real user out; after ``max_failures`` failures the pair waits,
twice as long after each further failure (up to 15 minutes); a success clears it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubError


class RateLimited(HubError):
    code, status, title = "rate_limited", 429, "Too many requests"

    def __init__(self, detail: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(detail, details={"retry_after": self.retry_after})


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by key for one kind of action."""

    def __init__(self, what: str, per_minute: float, burst: int, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.rate = per_minute / 60.0
        self.burst = float(max(1, burst))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> None:
        """Count one action of ``key``; raise :class:`RateLimited` when it is over its limit."""
        if not self.enabled:
            return
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(self.burst, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
            b.at = now
        if b.tokens < 1.0:
            raise RateLimited(f"too many {self.what}; try again later", (1.0 - b.tokens) / self.rate)
        b.tokens -= 1.0


class LoginGuard:
    """Failed logins per (client IP, username) within ``window_s``: after ``max_failures`` of them
    the pair waits ``base_wait_s``, twice as long after each further failure (at most 15 minutes)."""

    MAX_WAIT_S = 900.0

    def __init__(self, max_failures: int, window_s: float, *, base_wait_s: float = 30.0,
                 max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.base_wait_s = base_wait_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def check(self, ip: str, username: str) -> None:
        """Raise :class:`RateLimited` while this client must wait before trying this user again."""
        key = (ip, username.lower())
        if key not in self._failures:
            return
        fails = self._recent(key)
        over = len(fails) - self.max_failures
        if over >= 0:
            left = fails[-1] + min(self.base_wait_s * 2 ** over, self.MAX_WAIT_S) - self.clock()
            if left > 0:
                raise RateLimited("too many failed attempts; wait before trying again", left)

    def failed(self, ip: str, username: str) -> None:
        key = (ip, username.lower())
        self._recent(key).append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, ip: str, username: str) -> None:
        self._failures.pop((ip, username.lower()), None)

    def _recent(self, key: tuple[str, str]) -> list[float]:
        fails = self._failures.setdefault(key, [])
        horizon = self.clock() - self.window_s
        while fails and fails[0] < horizon:
            fails.pop(0)
        return fails


class RateLimits:
    """The hub's limits, from the settings (``services.limits``): a rate per minute, bursts of half a
    minute's worth; a rate of 0 turns one off."""

    def __init__(self, settings: object) -> None:
        def limiter(what: str, name: str) -> RateLimiter:
            rate = float(getattr(settings, name))
            return RateLimiter(what, rate, max(1, round(rate / 2)))

        self.login = limiter("logins from this address", "rate_login_per_min")
        self.widget_sessions = limiter("new chats from this address", "rate_widget_sessions_per_min")
        self.widget_offline = limiter("offline messages from this address", "rate_widget_offline_per_min")
        self.widget_messages = limiter("messages in this chat", "rate_widget_messages_per_min")
        # per chat and per claimed contact (a contact's inbox is not flooded from many chats)
        self.identity_codes = limiter("verification codes", "rate_identity_codes_per_min")
