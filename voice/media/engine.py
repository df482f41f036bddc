"""The media engine: RTP port allocation and one owned 20 ms pacing task for every playing leg.

One task paces all prompts (instead of one per call): each tick sends, for every leg with a
player, the frames that are due since the last tick (at most a few in a burst after the loop was
late, so playback stays in real time without flooding a phone's jitter buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from voice.media.leg import MediaLeg

__all__ = ["MediaEngine", "MediaError"]

log = logging.getLogger(__name__)

FRAME_S = 0.02
MAX_BURST = 3


class MediaError(Exception):
    code = "media_error"


class MediaEngine:
    def __init__(self, host: str = "127.0.0.1", port_min: int = 0, port_max: int = 0) -> None:
        self.host = host
        self.port_min = port_min
        self.port_max = port_max
        self.legs: set[MediaLeg] = set()
        self._playing: set[MediaLeg] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    async def start(self) -> None:
        if self._task is None:
            self._task = self._loop.create_task(self._pace(), name="media-pacer")

    async def stop(self) -> None:
        for leg in list(self.legs):
            leg.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def open_leg(self, name: str) -> MediaLeg:
        """Bind a new RTP leg on an even port of the configured range (or an ephemeral one)."""
        attempts = 1 if not self.port_min else 64
        last: OSError | None = None
        for _ in range(attempts):
            port = 0 if not self.port_min else random.randrange(self.port_min, self.port_max, 2)
            try:
                _, leg = await self._loop.create_datagram_endpoint(
                    lambda: MediaLeg(self, name), local_addr=(self.host, port))
            except OSError as err:
                last = err
                continue
            self.legs.add(leg)
            return leg
        raise MediaError(f"no free RTP port in {self.port_min}-{self.port_max}: {last}")

    def forget(self, leg: MediaLeg) -> None:
        self.legs.discard(leg)
        self._playing.discard(leg)

    def playing(self, leg: MediaLeg) -> None:
        self._playing.add(leg)
        self._wake.set()

    def not_playing(self, leg: MediaLeg) -> None:
        self._playing.discard(leg)

    async def _pace(self) -> None:
        loop = self._loop
        while True:
            if not self._playing:
                self._wake.clear()
                await self._wake.wait()
            start = loop.time()
            sent = 0
            while self._playing:
                now = loop.time()
                due = int((now - start) / FRAME_S) + 1 - sent
                if due > MAX_BURST:  # the loop was stalled: resynchronise
                    start = now - (MAX_BURST - 1) * FRAME_S
                    sent = 0
                    due = MAX_BURST
                for _ in range(due):
                    for leg in list(self._playing):
                        try:
                            if not leg._tick(now):
                                self._playing.discard(leg)
                        except Exception:  # noqa: BLE001 - one bad leg must not stop the others
                            log.exception("media leg %s failed to play", leg.name)
                            self._playing.discard(leg)
                sent += due
                await asyncio.sleep(max(0.0, start + sent * FRAME_S - loop.time()))
