"""Events delivered late, on purpose: ``late_events(monkeypatch, 0.25)`` makes every live
subscriber and durable consumer get each event no sooner than that long after it was published,
as happens on a loaded machine. A test run this way shows that what it checks does not depend on
an after-commit handler having run by some moment (the hub must not either). Running the whole
suite with it (a conftest calling it for every test) is how the races of issue #14 were found."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hub import events


def late_events(monkeypatch: pytest.MonkeyPatch, delay_s: float) -> None:
    took, worker_deliver, consumer_deliver = events._Worker.took, events._Worker.deliver, events._Consumer.deliver

    def noting_took(self: Any, published: float) -> None:
        self._late_from = published
        took(self, published)

    async def pause(self: Any) -> None:
        published = getattr(self, "_late_from", None)
        self._late_from = None
        if published is not None and (wait := published + delay_s - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    async def late_worker(self: Any, ev: events.Event) -> None:
        await pause(self)
        await worker_deliver(self, ev)

    async def late_consumer(self: Any, ev: events.Event) -> None:
        await pause(self)
        await consumer_deliver(self, ev)

    monkeypatch.setattr(events._Worker, "took", noting_took)
    monkeypatch.setattr(events._Worker, "deliver", late_worker)
    monkeypatch.setattr(events._Consumer, "deliver", late_consumer)
