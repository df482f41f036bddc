"""Agent endpoints: where a queued call rings when the ACD offers it to an agent.

:class:`AgentEndpoint` is the port; :class:`SipPhoneEndpoint` rings the agent's registered desk
phone with an INVITE (a WebRTC softphone endpoint can implement the same interface later: the
call bridges whatever :attr:`AgentEndpoint.media` leg the endpoint brings).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from voice.calls.legs import SipLeg
from voice.calls.registrar import Binding
from voice.media.engine import MediaEngine
from voice.media.leg import MediaLeg
from voice.sip.dialog import Dialog
from voice.sip.errors import SipError
from voice.sip.message import NameAddr, SipRequest, SipResponse, SipUri, new_branch, new_tag
from voice.sip.transaction import build_cancel

if TYPE_CHECKING:
    from voice.calls.sipcore import ClientRequest, SipCore

__all__ = ["AgentEndpoint", "RingResult", "SipPhoneEndpoint"]

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE"


class RingResult(StrEnum):
    ANSWERED = "answered"
    DECLINED = "declined"  # busy / decline / any other final failure
    NO_ANSWER = "no_answer"  # timed out
    CANCELLED = "cancelled"  # we stopped ringing
    FAILED = "failed"  # could not even try (transport, bad answer)


class AgentEndpoint(Protocol):
    agent_id: str
    media: MediaLeg | None

    async def ring(self, caller_number: str, caller_name: str | None, ring_s: float) -> RingResult: ...

    async def cancel(self) -> None: ...

    async def hangup(self) -> None: ...


class SipPhoneEndpoint:
    """An agent's registered SIP phone, called as a UAC leg of the B2BUA."""

    def __init__(self, agent_id: str, binding: Binding, core: SipCore, engine: MediaEngine,
                 media_address: str) -> None:
        self.agent_id = agent_id
        self.binding = binding
        self.core = core
        self.engine = engine
        self.media_address = media_address
        self.media: MediaLeg | None = None
        self.leg: SipLeg | None = None
        self.invite: SipRequest | None = None
        self._client: ClientRequest | None = None
        self._provisional = asyncio.Event()
        self._cancel_requested = False
        self.call_id = f"{secrets.token_hex(10)}@{core.advertised_host}"

    async def ring(self, caller_number: str, caller_name: str | None, ring_s: float) -> RingResult:
        b = self.binding
        self.media = await self.engine.open_leg(f"agent-{self.agent_id}")
        self.leg = SipLeg("agent", b.transport, b.target, self.media, self.media_address)
        sdp = self.leg.offer()
        host = self.core.advertised_host
        user = "".join(ch for ch in caller_number if ch.isalnum() or ch in "+-_.") or "anonymous"
        from_ = NameAddr(SipUri("sip", host, user), caller_name).with_tag(new_tag())
        to = NameAddr(self.to_uri())
        via = self.core.via(b.transport)
        via = type(via)(via.transport, via.host, via.port, {**via.params, "branch": new_branch()})
        headers = [
            ("Via", str(via)), ("Max-Forwards", "70"), ("From", str(from_)), ("To", str(to)),
            ("Call-ID", self.call_id), ("CSeq", "1 INVITE"),
            ("Contact", str(self.core.contact("hub", b.transport))),
            ("Allow", ALLOW), ("User-Agent", "contact-hub"),
        ]
        self.invite = SipRequest.build("INVITE", b.uri, headers, bytes(sdp), "application/sdp")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ring_s
        try:
            while True:
                self._client = self.core.request(self.invite, b.target, b.transport, self._on_provisional)
                async with asyncio.timeout_at(deadline):
                    response = await asyncio.shield(self._client.final)
                retry = self.authorised(self.invite, response) if response.status in (401, 407) else None
                if retry is None or self._cancel_requested:
                    break
                self.invite = retry  # challenged (a provider trunk): the same INVITE with credentials
                self._provisional.clear()
        except TimeoutError:
            await self.cancel()
            if not self._provisional.is_set():
                self._close_media()  # nothing answered at all: no CANCEL to wait for (RFC 3261 9.1)
                return RingResult.NO_ANSWER
            assert self._client is not None  # the INVITE was sent before its timeout
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(5):
                    response = await asyncio.shield(self._client.final)
                    if response.is_success:
                        self._confirm(response)
                        await self.hangup()
            return RingResult.NO_ANSWER
        if response.is_success:
            try:
                self._confirm(response)
            except SipError as err:
                log.info("agent %s answered with an unusable SDP: %s", self.agent_id, err)
                await self.hangup()
                return RingResult.FAILED
            if self._cancel_requested:
                await self.hangup()
                return RingResult.CANCELLED
            return RingResult.ANSWERED
        self._close_media()
        if response.status == 487 or self._cancel_requested:
            return RingResult.CANCELLED
        if response.status == 408:
            return RingResult.NO_ANSWER
        return RingResult.DECLINED

    def to_uri(self) -> SipUri:
        """The To of the INVITE: the agent's address of record on the hub."""
        return SipUri("sip", self.core.advertised_host, self.binding.username)

    def authorised(self, invite: SipRequest, response: SipResponse) -> SipRequest | None:
        """The INVITE to send again after a 401/407 challenge, or None to give up (a desk phone
        never challenges the hub; :class:`~voice.calls.outbound.TrunkEndpoint` answers it)."""
        return None

    def _on_provisional(self, response: SipResponse) -> None:
        self._provisional.set()
        if self._cancel_requested:
            self._send_cancel()

    def _confirm(self, response: SipResponse) -> None:
        assert self.invite is not None and self.leg is not None
        dialog = Dialog.for_uac(self.invite, response)
        self.leg.dialog = dialog
        ack = dialog.ack(self.core.via(self.leg.transport))
        self.core.send_ack(ack, self.leg.addr, self.leg.transport)
        self.leg.apply_answer(response.body)

    def resend_ack(self) -> None:
        if self.leg is not None and self.leg.dialog is not None:
            ack = self.leg.dialog.ack(self.core.via(self.leg.transport))
            self.core.send_ack(ack, self.leg.addr, self.leg.transport)

    def _send_cancel(self) -> None:
        if self.invite is not None and self._client is not None and not self._client.final.done():
            self.core.request(build_cancel(self.invite), self.binding.target, self.binding.transport)

    async def cancel(self) -> None:
        """Stop ringing (CANCEL once a provisional arrived, as RFC 3261 9.1 asks)."""
        if self._cancel_requested:
            return
        self._cancel_requested = True
        if self._provisional.is_set():
            self._send_cancel()

    async def hangup(self) -> None:
        leg = self.leg
        if leg is not None and leg.dialog is not None and not leg.ended:
            leg.ended = True
            bye = leg.dialog.bye(self.core.via(leg.transport))
            pending = self.core.request(bye, leg.addr, leg.transport)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await asyncio.shield(pending.final)
        self._close_media()

    def _close_media(self) -> None:
        if self.media is not None:
            self.media.close()
