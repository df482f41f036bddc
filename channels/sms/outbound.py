"""The outbound worker: sends queued messages through the gateway, rate-limited, with retries.

Rows in ``sms_messages`` with status ``queued`` are the queue (agents' replies and keyword
answers before bulk messages). Nothing is marked in the database while a message is in flight:
a crash leaves it ``queued`` and the next start sends it again (at least once). A gateway that is
unreachable pauses the worker briefly and the message is retried with exponential backoff until
``sms_send_attempts``; a permanent refusal fails it at once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from channels.sms.gateway import GatewayRejected, OutboundSms, SmsGateway
from channels.sms.service import StatusUpdate
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from channels.sms.service import SmsService

log = logging.getLogger(__name__)


class TokenBucket:
    """``rate`` tokens per second, bursts up to one second's worth (at least one)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def delay(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.rate
        self.tokens -= 1
        return wait

    async def take(self) -> None:
        wait = self.delay()
        if wait > 0:
            await asyncio.sleep(wait)


class OutboundWorker:
    def __init__(self, svc: SmsService, gateway: SmsGateway) -> None:
        self.svc = svc
        self.gateway = gateway
        st = svc.st
        self.bucket = TokenBucket(st.rate_per_s)
        self.sem = asyncio.Semaphore(st.send_concurrency)
        self._wake = asyncio.Event()
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._pause_until = 0.0
        self.sent_count = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms-outbound")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, within_s: float = 30) -> None:
        """Wait until nothing is due or in flight (tests, benchmarks)."""
        async with asyncio.timeout(within_s):
            while True:
                if not self._inflight and not await self.svc.due(self.svc.clock.now(), 1, ()):
                    return
                await asyncio.sleep(0.05)

    async def _run(self) -> None:
        while True:
            try:
                await self._once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database hiccuped; try again shortly
                log.exception("sms: the outbound worker failed; retrying")
                await asyncio.sleep(1)

    async def _once(self) -> None:
        pause = self._pause_until - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        now = self.svc.clock.now()
        rows = await self.svc.due(now, 200, self._inflight)
        if not rows:
            nxt = await self.svc.next_due_at()
            # Look again within 2 s anyway: rows committed by another unit of work or another
            # server process (sharing the database) need no wake-up call.
            timeout = 2.0 if nxt is None else min(2.0, max(0.05, nxt - now))
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            return
        for row in rows:
            if time.monotonic() < self._pause_until:
                return
            if row.kind == "bulk" and row.phone in self.svc.optouts:
                await self.svc.writer.submit(StatusUpdate(row.id, "skipped", error="opted out"))
                continue
            await self.sem.acquire()
            await self.bucket.take()
            self._inflight.add(row.id)
            task = asyncio.create_task(self._send(row), name=f"sms-send-{row.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, row: Any) -> None:
        st = self.svc.st
        attempts = int(row.attempts or 0) + 1
        try:
            try:
                result = await self.gateway.send(OutboundSms(
                    id=row.id, to=row.phone, sender=row.our_number, text=row.body,
                    encoding=row.encoding))
            except asyncio.CancelledError:
                raise
            except GatewayRejected as err:
                await self.svc.writer.submit(StatusUpdate(row.id, "failed", error=err.detail,
                                                          attempts=attempts))
                return
            except Exception as err:  # noqa: BLE001 - unreachable, timeouts: retry later
                error = getattr(err, "detail", None) or f"{type(err).__name__}: {err}"
                log.warning("sms %s attempt %d failed: %s", row.id, attempts, error)
                self._pause_until = time.monotonic() + min(max(st.retry_base_s, 0.05), 5.0)
                if attempts >= st.send_attempts:
                    await self.svc.writer.submit(StatusUpdate(row.id, "failed", error=error,
                                                              attempts=attempts))
                else:
                    await self.svc.writer.submit(StatusUpdate(
                        row.id, "queued", error=error, attempts=attempts,
                        next_attempt_at=self.svc.clock.now() + st.retry_base_s * 2 ** (attempts - 1)))
                return
            self.sent_count += 1
            ref = ",".join(result.gateway_refs) if result.gateway_refs else None
            await self.svc.writer.submit(StatusUpdate(row.id, "sent", attempts=attempts,
                                                      gateway_ref=ref, error=""))
        finally:
            self._inflight.discard(row.id)
            self.sem.release()
