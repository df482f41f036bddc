"""SIP dialog handling of the call service: the requests :class:`~voice.calls.sipcore.SipCore`
hands up (already matched to transactions, retransmissions absorbed) are dispatched here.

REGISTER goes to the registrar, OPTIONS is answered, CANCEL stops a ringing call, a new INVITE
goes to the inbound calls (voice/calls/inbound.py), and requests inside a dialog — BYE, re-INVITE
(hold), INFO (DTMF), REFER (blind transfer, voice/calls/transfers.py), NOTIFY — reach the call
whose caller or agent leg they belong to. Consultations see CANCEL and in-dialog requests first
(voice/calls/consult.py). What this needs of the call service is :class:`SignallingHost`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voice.calls.call import CallState
from voice.calls.endpoints import ALLOW, SipPhoneEndpoint
from voice.calls.history import SegmentKind
from voice.sip.errors import DialogError, NoCommonCodec, SipError
from voice.sip.message import SipRequest, SipResponse, new_tag

if TYPE_CHECKING:
    from voice.calls.call import Call
    from voice.calls.consult import ConsultService
    from voice.calls.inbound import InboundCalls
    from voice.calls.legs import SipLeg
    from voice.calls.registrar import Registrar
    from voice.calls.sipcore import SipCore
    from voice.calls.table import CallTable
    from voice.calls.transfers import BlindTransfers
    from voice.media.engine import MediaEngine
    from voice.sip.transaction import Address, TransactionKey

__all__ = ["DTMF_INFO_TYPES", "SignallingHost", "SipSignalling", "info_digit"]

log = logging.getLogger(__name__)

DTMF_INFO_TYPES = ("application/dtmf-relay", "application/dtmf")


class SignallingHost(Protocol):
    """What SIP dialog handling needs of the call service (``CallService`` is one)."""

    @property
    def table(self) -> CallTable: ...
    @property
    def core(self) -> SipCore: ...
    @property
    def engine(self) -> MediaEngine: ...
    @property
    def registrar(self) -> Registrar: ...
    @property
    def inbound(self) -> InboundCalls: ...
    @property
    def consults(self) -> ConsultService: ...
    @property
    def transfers(self) -> BlindTransfers: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None,
                  hangup_agent: bool = True) -> None: ...
    async def music_on_hold(self, leg: SipLeg) -> None: ...
    def now(self) -> float: ...


class SipSignalling:
    """The :class:`~voice.calls.sipcore.RequestHandler` of the call service's SIP core."""

    def __init__(self, host: SignallingHost) -> None:
        self.host = host

    def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                **kw: Any) -> None:
        if request.method == "ACK":
            return
        self.host.core.respond(SipResponse.for_request(request, status, reason, **kw), transport)

    # -- from the SIP core ------------------------------------------------------------------------

    def on_request(self, request: SipRequest, addr: Address, transport: str,
                   key: TransactionKey | None, cancels: TransactionKey | None) -> None:
        method = request.method
        try:
            if method == "REGISTER":
                resp = self.host.registrar.register(request, addr, transport, self.host.engine.now())
                self.host.core.respond(resp, transport)
                return
            if method == "CANCEL":
                self._on_cancel(request, transport, cancels)
                return
            if method == "OPTIONS":
                self.respond(request, 200, transport, headers=[("Allow", ALLOW), ("Accept", "application/sdp")],
                             to_tag=None if request.to.tag else new_tag())
                return
            to_tag = request.to.tag
            if to_tag:
                self._in_dialog(request, addr, transport, to_tag)
                return
            if method == "INVITE":
                self.host.inbound.on_invite(request, addr, transport, key)
            elif method == "ACK":
                return  # stray ACK: nothing to do
            elif method in ("BYE", "INFO", "REFER", "NOTIFY"):
                self.respond(request, 481, transport, to_tag=new_tag())
            else:
                self.respond(request, 405, transport, to_tag=new_tag(), headers=[("Allow", ALLOW)])
        except SipError as err:
            log.info("SIP %s from %s refused: %s", method, addr, err)
            phrase = "Bad Request" if err.status == 400 else "Error"
            self.respond(request, err.status or 500, transport, f"{phrase} ({err})"[:120],
                         to_tag=None if request.get("To") and request.to.tag else new_tag())

    def on_stray_2xx(self, response: SipResponse, addr: Address, transport: str) -> None:
        found = self.host.table.agent_leg(response.call_id)
        if found is not None:
            found[1].resend_ack()

    def on_server_timeout(self, key: TransactionKey, transport: str) -> None:
        call = self.host.table.by_server_key(key)
        if call is not None and not call.ended:
            log.info("call %s: no ACK for our 2xx, hanging up", call.id)
            self.host.spawn(self.host.end(call, "no_ack", hangup_caller=True), f"call-{call.id}-noack", call)

    # -- CANCEL -----------------------------------------------------------------------------------

    def _on_cancel(self, request: SipRequest, transport: str, cancels: TransactionKey | None) -> None:
        call = self.host.table.by_server_key(cancels) if cancels is not None else None
        if call is None and self.host.consults.cancel_request(request, transport, cancels):
            return
        if call is None:
            self.respond(request, 481, transport, to_tag=new_tag())
            return
        self.respond(request, 200, transport)
        if call.state is CallState.SETUP:
            call.cancelled.set()
            self.respond(call.invite, 487, transport, to_tag=call.local_tag)

    # -- in-dialog requests -----------------------------------------------------------------------

    def _in_dialog(self, request: SipRequest, addr: Address, transport: str, to_tag: str) -> None:
        if self.host.consults.in_dialog(request, transport, to_tag):
            return
        call = self.host.table.by_dialog(request.call_id, to_tag)
        leg: SipLeg | None = None
        role = "caller"
        ep: SipPhoneEndpoint | None = None
        if call is not None:
            leg = call.caller
        else:
            agent = self.host.table.agent_leg(request.call_id)
            if agent is not None and agent[1].leg is not None and agent[1].leg.dialog is not None \
                    and agent[1].leg.dialog.local_tag == to_tag:
                call, ep = agent
                leg, role = ep.leg, "agent"
        if call is None or leg is None or leg.dialog is None:
            if request.method != "ACK":
                self.respond(request, 481, transport)
            return
        if request.method == "ACK":
            return
        try:
            leg.dialog.receive_request(request)
        except DialogError as err:
            self.respond(request, 500, transport, f"Server Internal Error ({err})"[:120])
            return
        method = request.method
        if method == "BYE":
            self.respond(request, 200, transport)
            leg.ended = True
            if role == "caller":
                self.host.consults.caller_left(call)
                self.host.spawn(self.host.end(call, "caller_hangup"), f"call-{call.id}-bye", call)
            elif ep is not call.agent:  # an agent who transferred the call away hangs up
                self.host.table.forget_agent_leg(request.call_id)
                if ep is not None and ep.media is not None:
                    ep.media.close()
            elif not self.host.consults.agent_left(call):
                reason = "external_hangup" if call.external else "agent_hangup"
                self.host.spawn(self.host.end(call, reason, hangup_agent=False), f"call-{call.id}-bye", call)
        elif method == "INVITE":
            self._reinvite(call, leg, role, request, transport)
        elif method == "INFO":
            self._info(call, request, transport, role)
        elif method == "REFER":
            self.host.transfers.on_refer(call, leg, role, request, transport)
        elif method == "OPTIONS":
            self.respond(request, 200, transport, headers=[("Allow", ALLOW)])
        elif method == "NOTIFY":
            self.respond(request, 200, transport)
        else:
            self.respond(request, 405, transport, headers=[("Allow", ALLOW)])

    @staticmethod
    def _agent_leg(call: Call) -> SipLeg | None:
        agent = call.agent
        return agent.leg if isinstance(agent, SipPhoneEndpoint) else None

    def _reinvite(self, call: Call, leg: SipLeg, role: str, request: SipRequest, transport: str) -> None:
        was_held = leg.held_by_remote
        if request.body:
            try:
                sdp = leg.answer_offer(request.body)
            except NoCommonCodec as err:
                self.respond(request, 488, transport, f"Not Acceptable Here ({err})"[:120])
                return
            except SipError as err:
                self.respond(request, 400, transport, f"Bad Request ({err})"[:120])
                return
        else:
            sdp = leg.offer()  # offer in the 2xx, answer in the ACK (kept as is)
        assert leg.dialog is not None
        ok = SipResponse.for_request(request, 200,
                                     headers=[("Contact", str(leg.dialog.local_contact)), ("Allow", ALLOW)],
                                     body=bytes(sdp), content_type="application/sdp")
        self.host.core.respond(ok, transport)
        other = self._agent_leg(call) if role == "caller" else call.caller
        if call.state is CallState.BRIDGED and other is not None:
            if leg.held_by_remote != was_held:  # the CDR's history: on hold / talking again
                call.segment(SegmentKind.HOLD if leg.held_by_remote else SegmentKind.TALK, self.host.now(),
                             reason=f"{role}_hold" if leg.held_by_remote else None)
            if leg.held_by_remote:
                self.host.spawn(self.host.music_on_hold(other), f"call-{call.id}-hold", call)
            else:
                other.media.stop_play()
        log.info("call %s: %s %s", call.id, role, "holds" if leg.held_by_remote else "resumes")

    def _info(self, call: Call, request: SipRequest, transport: str, role: str) -> None:
        ctype = (request.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in DTMF_INFO_TYPES:
            self.respond(request, 415, transport, headers=[("Accept", ", ".join(DTMF_INFO_TYPES))])
            return
        digit = info_digit(request.body, ctype)
        if digit is None:
            self.respond(request, 400, transport, "Bad Request (no DTMF signal in the INFO body)")
            return
        self.respond(request, 200, transport)
        if role == "caller":
            self.host.inbound.on_dtmf(call, digit)

    # -- requests we send in a dialog -------------------------------------------------------------

    def notify_refer(self, leg: SipLeg, status: str) -> None:
        if leg.dialog is None or leg.ended:
            return
        notify = leg.dialog.create_request(
            "NOTIFY", self.host.core.via(leg.transport),
            headers=[("Event", "refer"), ("Subscription-State", "terminated;reason=noresource"),
                     ("Contact", str(leg.dialog.local_contact))],
            body=f"SIP/2.0 {status}\r\n".encode(), content_type="message/sipfrag;version=2.0")
        self.host.core.request(notify, leg.addr, leg.transport)


def info_digit(body: bytes, ctype: str) -> str | None:
    """The DTMF digit of a SIP INFO body (``application/dtmf-relay`` or ``application/dtmf``)."""
    text = body.decode("utf-8", "replace").strip()
    if ctype == "application/dtmf":
        digit = text[:1]
    else:
        digit = ""
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal":
                digit = value.strip()[:1]
    digit = digit.upper()
    if digit in "0123456789*#ABCD" and digit:
        return digit
    return None
