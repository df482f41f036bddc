"""asyncio UDP adapter: one socket, datagrams in and out of a :class:`LayerDriver`.

RFC 3261 18.3 framing for datagrams: one message per datagram, bytes after Content-Length
ignored. Responses go back to the address the request came from (RFC 3581 symmetric
response), which also works behind NAT.
"""

from __future__ import annotations

import asyncio
from typing import cast

from voice.sip.transaction import Address, TransactionLayer
from voice.sip.transport import LayerDriver, TransactionUser

__all__ = ["SipUdpTransport"]


class SipUdpTransport(LayerDriver, asyncio.DatagramProtocol):
    """One UDP socket driving one :class:`TransactionLayer`. Open with :meth:`open`, stop with
    :meth:`close` (which also cancels the owned timer task)."""

    reliable = False

    def __init__(self, layer: TransactionLayer, tu: TransactionUser) -> None:
        super().__init__(layer, tu)
        self._transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(
        cls, host: str, port: int, tu: TransactionUser, layer: TransactionLayer | None = None
    ) -> SipUdpTransport:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: cls(layer or TransactionLayer(), tu), local_addr=(host, port)
        )
        return protocol

    @property
    def local_address(self) -> Address:
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return host, port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self._start_timers()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._on_datagram(data, (str(addr[0]), int(addr[1])))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        await self._stop_timers()

    def _send(self, data: bytes, addr: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)
