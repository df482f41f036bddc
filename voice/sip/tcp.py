"""asyncio TCP adapter: stream framing with :class:`StreamParser`, one connection per peer.

RFC 3261 18.3: Content-Length is mandatory and frames messages on the stream; CRLF keep-alives
are skipped. A framing error cannot be resynchronised, so the connection gets a ``400`` when the
broken request is addressable and is then closed. Responses go back on the connection the
request came in on; requests to a peer reuse an open connection or open one (18.1.1).

Each connection has one owned reader task (``sip-tcp-<peer>``); :meth:`SipTcpTransport.close`
cancels all of them, closes the sockets and stops the timer task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from voice.sip.errors import SipParseError
from voice.sip.message import StreamParser
from voice.sip.transaction import Address, TransactionLayer
from voice.sip.transport import LayerDriver, TransactionUser

__all__ = ["SipTcpTransport"]

log = logging.getLogger(__name__)

READ_SIZE = 65536
CONNECT_TIMEOUT = 5.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = StreamParser()
        self.task: asyncio.Task[None] | None = None


class SipTcpTransport(LayerDriver):
    """A listening TCP socket plus the connections it accepted or opened."""

    reliable = True

    def __init__(self, layer: TransactionLayer, tu: TransactionUser) -> None:
        super().__init__(layer, tu)
        self._server: asyncio.Server | None = None
        self._connections: dict[Address, _Connection] = {}
        self._pending: dict[Address, list[bytes]] = {}
        self._connecting: dict[Address, asyncio.Task[None]] = {}

    @classmethod
    async def open(
        cls, host: str, port: int, tu: TransactionUser, layer: TransactionLayer | None = None
    ) -> SipTcpTransport:
        self = cls(layer or TransactionLayer(), tu)
        self._server = await asyncio.start_server(self._accepted, host, port)
        self._start_timers()
        return self

    @property
    def local_address(self) -> Address:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        connections = list(self._connections.values())
        tasks = [c.task for c in connections if c.task is not None]
        tasks += list(self._connecting.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in connections:
            conn.writer.close()
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()
        self._connections.clear()
        self._pending.clear()
        if self._server is not None:
            await self._server.wait_closed()
        await self._stop_timers()

    # -- connections -----------------------------------------------------------------------------

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._adopt((str(peer[0]), int(peer[1])), reader, writer)

    def _adopt(self, peer: Address, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        self._connections[peer] = conn
        conn.task = asyncio.get_running_loop().create_task(self._read(peer, conn), name=f"sip-tcp-{peer[0]}:{peer[1]}")
        for data in self._pending.pop(peer, []):
            writer.write(data)

    async def _read(self, peer: Address, conn: _Connection) -> None:
        try:
            while data := await conn.reader.read(READ_SIZE):
                self.stats.received += 1
                try:
                    messages = conn.parser.feed(data)
                except SipParseError as err:
                    self._reject(conn.parser.remainder, err, peer)
                    return
                for message in messages:
                    self._on_message(message, peer)
        except ConnectionError as err:
            log.info("SIP TCP connection to %s lost: %s", peer, err)
        finally:
            if self._connections.get(peer) is conn:
                del self._connections[peer]
            conn.writer.close()

    def _send(self, data: bytes, addr: Address) -> None:
        conn = self._connections.get(addr)
        if conn is not None and not conn.writer.is_closing():
            conn.writer.write(data)
            return
        self._pending.setdefault(addr, []).append(data)
        if addr not in self._connecting:
            self._connecting[addr] = asyncio.get_running_loop().create_task(
                self._connect(addr), name=f"sip-tcp-connect-{addr[0]}:{addr[1]}"
            )

    async def _connect(self, addr: Address) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(addr[0], addr[1])
        except (OSError, TimeoutError) as err:
            dropped = self._pending.pop(addr, [])
            log.info("SIP TCP connect to %s failed (%s); %d messages dropped", addr, err, len(dropped))
            return  # the client transaction times out (Timer B/F) and tells the TU
        finally:
            self._connecting.pop(addr, None)
        self._adopt(addr, reader, writer)
