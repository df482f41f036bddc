"""Real Socket.IO clients for tests, recording every event they receive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio


class Recorder:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=5)
        self.events: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()

        async def catch_all(event: str, data: Any = None) -> None:
            self.events.append((event, data))
            self._changed.set()

        self.sio.on("*", catch_all, namespace=namespace)

    async def connect(self, base_url: str, *, cookie: str | None = None,
                      auth: dict[str, Any] | None = None) -> Recorder:
        headers = {"Cookie": cookie} if cookie else {}
        await self.sio.connect(base_url, namespaces=[self.namespace], headers=headers, auth=auth,
                               transports=["websocket"], wait_timeout=5)
        return self

    async def wait(self, event: str, pred: Callable[[Any], bool] = lambda d: True,
                   timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for name, data in self.events[seen:]:
                    if name == event and pred(data):
                        return data
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

    def received(self, event: str) -> list[Any]:
        return [d for n, d in self.events if n == event]

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> Any:
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def close(self) -> None:
        await self.sio.disconnect()
