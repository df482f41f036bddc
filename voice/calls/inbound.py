"""Inbound calls, from the INVITE to an answered call: authorise the caller (trunk IP or digest
407), open the caller's media and answer the SDP offer, ring ``voice_ring_s``, open the voice
conversation, send 200 OK, start the recorder and the live transcript, then hand the call to the
IVR flow of the dialled number, or play the welcome prompt and enqueue it in the ACD.

An INVITE from an agent's desk phone that consults someone goes to the consultations
(voice/calls/consult.py). What this needs of the call service is :class:`InboundHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, Protocol

import voice.calls.store as store
from hub.errors import HubError
from hub.security import new_id
from voice.calls.call import Call, CallState
from voice.calls.endpoints import ALLOW
from voice.calls.history import SegmentKind
from voice.calls.legs import SipLeg
from voice.calls.settings import VoiceSettings
from voice.sip.dialog import Dialog
from voice.sip.errors import NoCommonCodec, SipError
from voice.sip.message import SipRequest, SipResponse, new_tag

if TYPE_CHECKING:
    from voice.calls.cdr import CallRecords
    from voice.calls.consult import ConsultService
    from voice.calls.ivr import IvrHost
    from voice.calls.registrar import Registrar
    from voice.calls.sipcore import SipCore
    from voice.calls.table import CallTable
    from voice.media.engine import MediaEngine
    from voice.sip.transaction import Address, TransactionKey

    class InboundHost(IvrHost, Protocol):
        """What answering inbound calls needs of the call service (``CallService`` is one); the IVR
        driver it starts gets the same host."""

        @property
        def table(self) -> CallTable: ...
        @property
        def core(self) -> SipCore: ...
        @property
        def engine(self) -> MediaEngine: ...
        @property
        def registrar(self) -> Registrar: ...
        @property
        def media_address(self) -> str: ...
        @property
        def consults(self) -> ConsultService: ...
        @property
        def records(self) -> CallRecords: ...
        @property
        def stats(self) -> dict[str, int]: ...

        def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                    **kw: Any) -> None: ...
        async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None) -> None: ...


__all__ = ["InboundCalls", "parse_routes"]

log = logging.getLogger(__name__)


def parse_routes(routes: tuple[str, ...]) -> dict[str, str]:
    """``voice_routes``: ``<number>=<queue id>`` entries as a dict; ``ValueError`` on a bad one."""
    out: dict[str, str] = {}
    for item in routes:
        number, eq, queue = item.partition("=")
        if not eq or not number.strip() or not queue.strip():
            raise ValueError(f"voice_routes entry {item!r} is not '<number>=<queue id>'")
        out[number.strip()] = queue.strip()
    return out


def _number(uri_user: str | None) -> str:
    return (uri_user or "anonymous")[:64]


# what the contact book accepts as a phone number (hub/services/contacts.py)
_PHONE = re.compile(r"^\+?[0-9 ()\-]{3,30}$")


def caller_identity(call: Call) -> dict[str, str]:
    """Who is calling, for the conversation: the number when the caller ID is one; a caller whose
    ID is a name (``sip:alice@…``, ``anonymous``) is answered too, known by that name only."""
    name = call.caller_name or call.caller_number
    if _PHONE.match(call.caller_number or ""):
        return {"phone": call.caller_number, "name": name}
    return {"name": name or "anonymous"}


class InboundCalls:
    def __init__(self, host: InboundHost) -> None:
        self.host = host
        self.routes = parse_routes(host.settings.section(VoiceSettings).routes)

    def on_invite(self, request: SipRequest, addr: Address, transport: str, key: TransactionKey | None) -> None:
        """An INVITE outside a dialog: a new call (set up in an owned task), or a desk phone's
        consultation."""
        h = self.host
        source = "trunk"
        if addr[0] not in h.settings.section(VoiceSettings).trunk_ips:
            outcome = h.registrar.authenticate(request, addr, h.engine.now(), proxy=True)
            if outcome.account is None:
                assert outcome.response is not None
                h.core.respond(outcome.response, transport)
                return
            source = outcome.account.kind
            if h.consults.desk_invite(request, addr, transport, key, outcome.account):
                return  # the agent's desk phone consults someone (voice/calls/consult.py)
        if (request.get("Content-Type") or "").split(";")[0].strip().lower() != "application/sdp" or not request.body:
            h.respond(request, 488, transport, "Not Acceptable Here (an SDP offer is required)", to_tag=new_tag())
            return
        frm = request.from_
        uri = frm.uri
        call_id = new_id()
        call = Call(
            id=call_id, invite=request, server_key=key,
            caller=SipLeg("caller", transport, addr, None, h.media_address),  # type: ignore[arg-type]  # media opened below
            local_tag=new_tag(), caller_number=_number(uri.user if uri else None),
            caller_name=(frm.display_name or None),
            callee=_number(request.request_uri.user or (request.to.uri.user if request.to.uri else None)),
            source=source, started_at=h.now())
        h.table.add(call)
        h.stats["calls"] += 1
        h.spawn(self._setup(call, transport), f"call-{call_id}-setup", call)

    def route(self, callee: str) -> tuple[str, Any]:
        """The queue for a dialled number, and the IVR flow when one is published for it."""
        ivr = self.host.services.ports.ivr
        flow = None
        if ivr is not None:
            try:
                flow = ivr.flow_for_number(callee)
            except Exception:  # noqa: BLE001 - a broken flow store must not drop calls
                log.exception("IVR flow lookup for %s failed; routing straight to a queue", callee)
        st = self.host.settings
        queue = self.routes.get(callee) or st.section(VoiceSettings).default_queue or st.widget_default_queue
        return queue, flow

    async def _setup(self, call: Call, transport: str) -> None:
        h = self.host
        request = call.invite
        try:
            call.caller.media = await h.engine.open_leg(f"caller-{call.id}")
            sdp = call.caller.answer_offer(request.body)
        except NoCommonCodec as err:
            h.respond(request, 488, transport, f"Not Acceptable Here ({err})"[:120], to_tag=call.local_tag)
            return await self._forget(call, "no_codec")
        except SipError as err:
            h.respond(request, 400, transport, f"Bad Request ({err})"[:120], to_tag=call.local_tag)
            return await self._forget(call, "bad_sdp")
        except OSError as err:
            log.error("call %s: no RTP port: %s", call.id, err)
            h.respond(request, 503, transport, to_tag=call.local_tag)
            return await self._forget(call, "no_media")
        queue_id, flow = self.route(call.callee)
        call.queue_id = queue_id
        if h.settings.section(VoiceSettings).ring_s > 0:
            h.respond(request, 180, transport, to_tag=call.local_tag)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(h.settings.section(VoiceSettings).ring_s):
                    await call.cancelled.wait()
        if call.cancelled.is_set():
            return await self._forget(call, "cancelled")
        await store.insert_call(h.services, call, h.now())
        try:
            row = await h.services.conversations.open(
                channel="voice", queue_id=queue_id,
                identity=caller_identity(call),
                subject=f"Call from {call.caller_name or call.caller_number} to {call.callee}",
                meta={"call_id": call.id, "sip_call_id": request.call_id, "caller": call.caller_number,
                      "callee": call.callee}, status="pending")
        except HubError as err:
            log.error("call %s: cannot open a conversation: %s", call.id, err)
            h.respond(request, 503, transport, to_tag=call.local_tag)
            return await self._forget(call, "no_conversation")
        call.conversation_id = row.id
        h.table.bind_conversation(call)
        if call.cancelled.is_set():
            return await h.end(call, "cancelled", hangup_caller=False)
        contact = h.core.contact("hub", transport)
        ok = SipResponse.for_request(request, 200, to_tag=call.local_tag,
                                     headers=[("Contact", str(contact)), ("Allow", ALLOW)],
                                     body=bytes(sdp), content_type="application/sdp")
        h.core.respond(ok, transport)
        call.caller.dialog = Dialog.for_uas(request, ok)
        h.table.bind_dialog(call)
        call.state = CallState.ANSWERED
        call.answered_at = h.now()
        call.segment(SegmentKind.IVR, call.answered_at)
        h.stats["answered"] += 1
        media = call.caller.media
        h.records.capture(call)
        media.on_dtmf = lambda digit: self.on_dtmf(call, digit)
        if h.transcripts is not None:
            h.transcripts.leg_started(call, "caller", media)
        # the IVR's welcome starts now, not after the database write (no dead air after the 200 OK)
        ivr_started = flow is not None and self._start_ivr(call, flow)
        await store.update_call(h.services, call.id, conversation_id=row.id, answered_at=call.answered_at,
                                queue_id=queue_id)
        if ivr_started:
            return
        welcome = h.settings.section(VoiceSettings).welcome_file
        if welcome:
            prompt = await asyncio.to_thread(h.prompts.get, welcome, media.codec)
            media.play(prompt, on_done=lambda: h.spawn(h.enqueue(call, queue_id), f"call-{call.id}-enqueue", call))
        else:
            await h.enqueue(call, queue_id)

    def _start_ivr(self, call: Call, flow: Any) -> bool:
        from voice.calls.ivr import IvrDriver

        try:
            call.ivr = IvrDriver(self.host, call, flow)
        except Exception:  # noqa: BLE001
            log.exception("call %s: IVR flow could not start; queueing directly", call.id)
            return False
        call.ivr.start()
        return True

    def on_dtmf(self, call: Call, digit: str) -> None:
        """A digit from the caller (RFC 4733 on the media or SIP INFO): to the IVR, if any."""
        log.debug("call %s: DTMF %s", call.id, digit)
        if call.ivr is not None:
            call.ivr.dtmf(digit)

    async def _forget(self, call: Call, reason: str) -> None:
        """A call that never got answered: nothing to close but the media and the CDR."""
        call.state = CallState.ENDED
        call.end_reason = reason
        if call.caller.media is not None:
            call.caller.media.close()
        self.host.table.remove(call)
        if reason == "cancelled":
            await store.insert_call(self.host.services, call, self.host.now(), ended=True)
