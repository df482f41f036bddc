"""The asyncio side of the stack, shared by the UDP and TCP adapters.

:class:`LayerDriver` owns a :class:`~voice.sip.transaction.TransactionLayer`, feeds it parsed
messages with the loop clock, carries out the actions it returns (bytes to the wire, events to
the transaction user) and runs one owned task (``sip-timers``) that sleeps until the layer's
next deadline. Adapters (:mod:`voice.sip.udp`, :mod:`voice.sip.tcp`) only move bytes: they
implement :meth:`LayerDriver._send` and call :meth:`LayerDriver._on_datagram` /
:meth:`LayerDriver._on_message`.

Malformed input never reaches the layer: a ``400`` (or ``416``) is sent back when the request
is addressable (:func:`~voice.sip.message.error_response`), otherwise it is dropped and counted.

The transaction user (the dialog/call service) implements :class:`TransactionUser`: it gets
``Deliver``, ``TimedOut`` and ``Terminated`` events and answers through
:meth:`LayerDriver.send_response` / :meth:`LayerDriver.send_request`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voice.sip.errors import SipParseError
from voice.sip.message import (
    SipRequest,
    SipResponse,
    error_response,
    parse_message,
)
from voice.sip.transaction import (
    Action,
    Address,
    Deliver,
    Send,
    Terminated,
    TimedOut,
    TransactionKey,
    TransactionLayer,
)

__all__ = ["Event", "LayerDriver", "TransactionUser", "TransportStats"]

log = logging.getLogger(__name__)

Event = Deliver | TimedOut | Terminated


class TransactionUser(Protocol):
    """The port the transport calls for everything the transaction layer hands up."""

    def on_sip_event(self, event: Event) -> None: ...


@dataclass
class TransportStats:
    received: int = 0
    sent: int = 0
    malformed: int = 0
    bad_request_sent: int = 0


class LayerDriver:
    """Drives one transaction layer from asyncio; subclasses provide ``_send``."""

    reliable = False

    def __init__(self, layer: TransactionLayer, tu: TransactionUser) -> None:
        self.layer = layer
        self.tu = tu
        self.stats = TransportStats()
        self._wake = asyncio.Event()
        self._clock: Callable[[], float] = asyncio.get_running_loop().time
        self._timer_task: asyncio.Task[None] | None = None

    # -- TU calls --------------------------------------------------------------------------------

    def send_request(self, request: SipRequest, addr: Address) -> TransactionKey:
        key, actions = self.layer.send_request(request, addr, self._clock(), reliable=self.reliable)
        self._execute(actions)
        return key

    def send_response(self, response: SipResponse) -> None:
        self._execute(self.layer.send_response(response, self._clock()))

    # -- for adapters ----------------------------------------------------------------------------

    def _start_timers(self) -> None:
        if self._timer_task is None:
            self._timer_task = asyncio.get_running_loop().create_task(self._run_timers(), name="sip-timers")

    async def _stop_timers(self) -> None:
        task, self._timer_task = self._timer_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _on_datagram(self, data: bytes, peer: Address) -> None:
        """A whole datagram: parse (extra bytes ignored), answer 400 or feed the layer."""
        self.stats.received += 1
        if data.strip(b"\r\n") == b"":
            return  # keep-alive (RFC 5626 CRLF ping)
        try:
            message = parse_message(data)
        except SipParseError as err:
            self._reject(data, err, peer)
            return
        self._on_message(message, peer)

    def _on_message(self, message: SipRequest | SipResponse, peer: Address) -> None:
        self._execute(self.layer.receive(message, peer, self._clock(), reliable=self.reliable))

    def _reject(self, data: bytes, err: SipParseError, peer: Address) -> None:
        self.stats.malformed += 1
        log.info("malformed SIP message from %s: %s", peer, err)
        reply = error_response(data, err)
        if reply is not None:
            self.stats.bad_request_sent += 1
            self._send(bytes(reply), peer)

    def _send(self, data: bytes, addr: Address) -> None:
        raise NotImplementedError

    # -- internals -------------------------------------------------------------------------------

    def _execute(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.stats.sent += 1
                self._send(action.data, action.addr)
            elif isinstance(action, Deliver | TimedOut | Terminated):
                self.tu.on_sip_event(action)
        self._wake.set()  # timers may have changed

    async def _run_timers(self) -> None:
        while True:
            self._wake.clear()
            deadline = self.layer.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass
            try:
                self._execute(self.layer.tick(self._clock()))
            except Exception:  # a TU bug must not stop every timer of the stack
                log.exception("SIP timer processing failed")
