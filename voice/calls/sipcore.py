"""The SIP side of the call service: UDP and TCP transports, our Via/Contact, and routing of the
transaction layer's events — requests to the request handler, responses to whoever sent the
request (a future per client transaction).

Nothing here knows about calls; the call service's :class:`~voice.calls.signalling.SipSignalling` is
the handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voice.sip.message import NameAddr, SipRequest, SipResponse, SipUri, Via
from voice.sip.tcp import SipTcpTransport
from voice.sip.transaction import Address, Deliver, Terminated, TimedOut, TransactionKey
from voice.sip.transport import Event, LayerDriver
from voice.sip.udp import SipUdpTransport

__all__ = ["ClientRequest", "RequestHandler", "SipCore"]

log = logging.getLogger(__name__)

ProvisionalCallback = Callable[[SipResponse], None]


class RequestHandler(Protocol):
    def on_request(self, request: SipRequest, addr: Address, transport: str,
                   key: TransactionKey | None, cancels: TransactionKey | None) -> None: ...

    def on_stray_2xx(self, response: SipResponse, addr: Address, transport: str) -> None: ...

    def on_server_timeout(self, key: TransactionKey, transport: str) -> None: ...


@dataclass
class ClientRequest:
    """A request we sent: its final response arrives in ``final`` (a local 408 on timeout)."""

    request: SipRequest
    addr: Address
    transport: str
    key: TransactionKey
    final: asyncio.Future[SipResponse]
    on_provisional: ProvisionalCallback | None = None


class _Tu:
    def __init__(self, core: SipCore, transport: str) -> None:
        self.core = core
        self.transport = transport

    def on_sip_event(self, event: Event) -> None:
        try:
            self.core._event(self.transport, event)
        except Exception:  # noqa: BLE001 - the stack must survive a bug in the call service
            log.exception("SIP event handling failed for %r", event)


class SipCore:
    def __init__(self, host: str, handler: RequestHandler, *, advertised_host: str | None = None) -> None:
        self.host = host
        self.advertised_host = advertised_host or host
        self.handler = handler
        self.udp: SipUdpTransport | None = None
        self.tcp: SipTcpTransport | None = None
        self._pending: dict[tuple[str, TransactionKey], ClientRequest] = {}
        self._impatient = False  # stopping: requests get a local 408 at once (stop_waiting)

    async def start(self, udp_port: int, tcp_port: int | None) -> None:
        self.udp = await SipUdpTransport.open(self.host, udp_port, _Tu(self, "UDP"))
        if tcp_port is not None:
            self.tcp = await SipTcpTransport.open(self.host, tcp_port, _Tu(self, "TCP"))

    async def stop(self) -> None:
        for fut in (p.final for p in self._pending.values()):
            if not fut.done():
                fut.cancel()
        self._pending.clear()
        if self.udp is not None:
            await self.udp.close()
        if self.tcp is not None:
            await self.tcp.close()

    def stop_waiting(self) -> None:
        """Wait no longer for far ends (the service is stopping): every request still without a
        final response gets a local ``408`` now, and every later one as soon as it is sent."""
        self._impatient = True
        for pending in self._pending.values():
            _give_up(pending)

    def driver(self, transport: str) -> LayerDriver:
        drv = self.tcp if transport == "TCP" else self.udp
        if drv is None:
            raise RuntimeError(f"SIP transport {transport} is not running")
        return drv

    def port(self, transport: str = "UDP") -> int:
        drv = self.driver(transport)
        return drv.local_address[1]  # type: ignore[attr-defined]  # both drivers (UDP, TCP) have it

    def via(self, transport: str) -> Via:
        return Via(transport, self.advertised_host, self.port(transport), {"rport": None})

    def contact(self, user: str, transport: str) -> NameAddr:
        params: dict[str, str | None] = {"transport": "tcp"} if transport == "TCP" else {}
        return NameAddr(SipUri("sip", self.advertised_host, user, None, self.port(transport), params))

    # -- sending ------------------------------------------------------------------------------

    def respond(self, response: SipResponse, transport: str) -> None:
        try:
            self.driver(transport).send_response(response)
        except ValueError as err:  # the server transaction is gone (e.g. timed out)
            log.info("SIP response not sent: %s", err)

    def request(self, request: SipRequest, addr: Address, transport: str,
                on_provisional: ProvisionalCallback | None = None) -> ClientRequest:
        drv = self.driver(transport)
        fut: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        key = drv.send_request(request, addr)
        pending = ClientRequest(request, addr, transport, key, fut, on_provisional)
        if request.method != "ACK":
            self._pending[(transport, key)] = pending
            if self._impatient:
                _give_up(pending)
        else:
            fut.cancel()
        return pending

    def send_ack(self, ack: SipRequest, addr: Address, transport: str) -> None:
        self.driver(transport).send_request(ack, addr)

    # -- events -------------------------------------------------------------------------------

    def _event(self, transport: str, event: Event) -> None:
        if isinstance(event, Deliver):
            msg = event.message
            if isinstance(msg, SipRequest):
                self.handler.on_request(msg, event.addr, transport, event.key, event.cancels)
                return
            assert isinstance(msg, SipResponse)
            pending = self._pending.get((transport, event.key)) if event.key is not None else None
            if pending is None:
                if msg.is_success and msg.cseq.method == "INVITE":
                    self.handler.on_stray_2xx(msg, event.addr, transport)
                return
            if msg.is_provisional:
                if pending.on_provisional is not None:
                    pending.on_provisional(msg)
            elif not pending.final.done():
                pending.final.set_result(msg)
            elif msg.is_success and msg.cseq.method == "INVITE":
                self.handler.on_stray_2xx(msg, event.addr, transport)  # 2xx retransmission
        elif isinstance(event, TimedOut):
            if event.key.server:
                self.handler.on_server_timeout(event.key, transport)
                return
            pending = self._pending.pop((transport, event.key), None)
            if pending is not None and not pending.final.done() and event.response is not None:
                pending.final.set_result(event.response)
        elif isinstance(event, Terminated):
            if not event.key.server:
                self._pending.pop((transport, event.key), None)


def _give_up(pending: ClientRequest) -> None:
    if not pending.final.done():
        pending.final.set_result(SipResponse.for_request(pending.request, 408))
