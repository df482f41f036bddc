"""Admission control for new inbound calls: push back with ``503 Service Unavailable`` and
``Retry-After`` instead of letting call setup queue up (INVITE→200 rose to 11–13 s at ~25 calls/s
on one core before, #18).

Pure decision code: :meth:`CallAdmission.admit` takes the calls being set up now and ``now`` and
returns ``None`` (take the call) or the seconds to put in ``Retry-After``. Two limits, each off at
0 (``voice_max_setup_rate``, ``voice_max_setups``, docs/CONFIGURATION.md):

- a setup rate: a token bucket refilled at ``rate`` calls per second holding at most ``burst``
  (one second's worth), so a short burst passes and a sustained flood is cut to the rate;
- a concurrency: calls between their INVITE and the end of their set-up (not while they ring
  ``voice_ring_s``): it bounds the wait when set-ups slow down (Little's law).

A refused INVITE costs no media port, no database write and no conversation. While the service
stops every new call is refused (:meth:`close`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["CallAdmission"]


@dataclass
class CallAdmission:
    rate: float = 0.0  # new calls per second; 0: no limit
    max_setups: int = 0  # calls being set up at once; 0: no limit
    retry_after_s: int = 1  # the least Retry-After given
    closing_retry_after_s: int = 30  # Retry-After while the service stops
    burst: float = field(default=0.0)  # bucket size; 0: one second's worth of ``rate`` (at least 1)
    _tokens: float = field(default=0.0, init=False)
    _at: float | None = field(default=None, init=False)
    _closing: bool = field(default=False, init=False)
    refused: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.burst <= 0:
            self.burst = max(1.0, self.rate)
        self._tokens = self.burst

    def close(self) -> None:
        """The service is stopping: refuse every new call from now on."""
        self._closing = True

    def admit(self, setups: int, now: float) -> int | None:
        """Take a new call (``None``; its token is spent) or refuse it: the ``Retry-After``
        seconds. ``setups``: calls being set up now, not counting this one."""
        retry = self._refusal(setups, now)
        if retry is not None:
            self.refused += 1
        return retry

    def _refusal(self, setups: int, now: float) -> int | None:
        if self._closing:
            return self.closing_retry_after_s
        if self.max_setups and setups >= self.max_setups:
            return self.retry_after_s
        if self.rate <= 0:
            return None
        if self._at is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(self.retry_after_s, math.ceil((1.0 - self._tokens) / self.rate))
