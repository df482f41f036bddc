"""The call service: a B2BUA between callers (trunk or registered phones) and agents, on top of
the hub's conversations and ACD.

SIP requests arrive from :class:`~voice.calls.sipcore.SipCore` (already matched to transactions,
retransmissions absorbed); hub events arrive from the event bus. Every call has owned tasks; any
wait on a peer has a timeout. The flow of one inbound call:

INVITE → (authorise: trunk IP or digest 407) → answer SDP → [ring ``voice_ring_s``] → open the
voice conversation → 200 OK → recording starts → IVR flow or welcome prompt → enqueue in the ACD
with music on hold → ``conversation.offered`` → the agent's endpoint rings (INVITE to the desk
phone) → 200 OK → ``routing.accept`` on the agent's behalf → media bridged → BYE on either side →
the other side is hung up, the conversation is closed (wrap-up), the CDR and the recording are
stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

import voice.calls.store as store
from hub.errors import HubError, InvalidState
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.attachments import AttachmentStore
from voice.calls.call import Call, CallState
from voice.calls.consult import ConsultService
from voice.calls.endpoints import ALLOW, AgentEndpoint, RingResult, SipPhoneEndpoint
from voice.calls.legs import SipLeg
from voice.calls.outbound import Trunk
from voice.calls.recordings import RecordingPolicy
from voice.calls.registrar import Registrar
from voice.calls.sipcore import SipCore
from voice.calls.transfers import BlindTransfers
from voice.media.engine import MediaEngine
from voice.media.prompts import PromptCache
from voice.media.recorder import CallRecorder
from voice.sip.dialog import Dialog
from voice.sip.errors import DialogError, NoCommonCodec, SipError
from voice.sip.message import SipRequest, SipResponse, new_tag
from voice.sip.transaction import Address, TransactionKey

if TYPE_CHECKING:
    from hub.app import Services
    from voice.calls.callback import CallbackService
    from voice.calls.transcripts import CallTranscripts
    from voice.calls.voicemail import VoicemailService

__all__ = ["CallService"]

log = logging.getLogger(__name__)

DTMF_INFO_TYPES = ("application/dtmf-relay", "application/dtmf")


def _number(uri_user: str | None) -> str:
    return (uri_user or "anonymous")[:64]


class CallService:
    def __init__(self, services: Services, core_host: str, advertised_host: str,
                 engine: MediaEngine, registrar: Registrar) -> None:
        self.services = services
        self.settings = services.settings
        self.engine = engine
        self.registrar = registrar
        self.media_address = advertised_host
        self.core = SipCore(core_host, self, advertised_host=advertised_host)
        self.prompts = PromptCache()
        self.calls: dict[str, Call] = {}
        self._by_dialog: dict[tuple[str, str], tuple[Call, str]] = {}
        self._by_server_key: dict[TransactionKey, Call] = {}
        self._by_conversation: dict[str, Call] = {}
        self._agent_legs: dict[str, tuple[Call, SipPhoneEndpoint]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._routes = self._parse_routes(self.settings.voice_routes)
        st = self.settings
        self.trunk = Trunk.from_settings(st.voice_trunk_uri, st.voice_trunk_username, st.voice_trunk_password,
                                         st.voice_caller_id, st.voice_external_pattern)
        self.recordings = AttachmentStore(services.db, services.clock, services.settings.attachments_dir,
                                          max_bytes=2**40, allowed_types=("audio/wav",))
        self.stats = {"calls": 0, "answered": 0, "bridged": 0, "abandoned": 0, "rejected": 0, "external_transfers": 0}
        self.transcripts: CallTranscripts | None = None  # set by the component (voice/calls/transcripts.py)
        self.voicemail: VoicemailService | None = None  # set by the component (voice/calls/voicemail.py)
        self.callbacks: CallbackService | None = None  # set by the component (voice/calls/callback.py)
        self.recording_policy = RecordingPolicy(self.settings.voice_recording)  # per queue (recordings.py)
        self.consults = ConsultService(self)  # consulted transfer and conference (voice/calls/consult.py)
        self.transfers = BlindTransfers(self)  # REFER from the desk phone (voice/calls/transfers.py)

    # -- lifecycle --------------------------------------------------------------------------------

    @staticmethod
    def _parse_routes(routes: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in routes:
            number, eq, queue = item.partition("=")
            if not eq or not number.strip() or not queue.strip():
                raise ValueError(f"voice_routes entry {item!r} is not '<number>=<queue id>'")
            out[number.strip()] = queue.strip()
        return out

    async def start(self, udp_port: int, tcp_port: int | None) -> None:
        await self.core.start(udp_port, tcp_port)

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            if not call.ended:
                await self.end(call, "shutdown", hangup_caller=True)
        await self.consults.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.core.stop()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if call is not None:
            call.tasks.add(task)
            task.add_done_callback(call.tasks.discard)
        return task

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, Any], name: str) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failing call must not take the service down
            log.exception("voice task %s failed", name)
            return None

    def now(self) -> float:
        return self.services.clock.now()

    def track_agent_leg(self, call: Call, ep: SipPhoneEndpoint) -> None:
        """An agent-side dialog we placed (desk phone, consulted party, trunk): its in-dialog
        requests (BYE, re-INVITE, REFER) and responses are routed to ``call``."""
        self._agent_legs[ep.call_id] = (call, ep)

    def forget_agent_leg(self, call_id: str) -> None:
        self._agent_legs.pop(call_id, None)

    def adopt(self, call: Call) -> None:
        """Index a call placed elsewhere (a callback through the trunk) like an inbound one: BYEs on
        its caller dialog, desk closes and transfers of its conversation reach it."""
        assert call.caller.dialog is not None
        self._by_dialog[(call.caller.dialog.call_id, call.caller.dialog.local_tag)] = (call, "caller")
        self.calls[call.id] = call
        if call.conversation_id is not None:
            self._by_conversation[call.conversation_id] = call

    # -- SIP: requests ----------------------------------------------------------------------------

    def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                **kw: Any) -> None:
        if request.method == "ACK":
            return
        self.core.respond(SipResponse.for_request(request, status, reason, **kw), transport)

    def on_request(self, request: SipRequest, addr: Address, transport: str,
                   key: TransactionKey | None, cancels: TransactionKey | None) -> None:
        method = request.method
        try:
            if method == "REGISTER":
                resp = self.registrar.register(request, addr, transport, self.engine.now())
                self.core.respond(resp, transport)
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
                self._on_invite(request, addr, transport, key)
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
        found = self._agent_legs.get(response.call_id)
        if found is not None:
            found[1].resend_ack()

    def on_server_timeout(self, key: TransactionKey, transport: str) -> None:
        call = self._by_server_key.get(key)
        if call is not None and not call.ended:
            log.info("call %s: no ACK for our 2xx, hanging up", call.id)
            self.spawn(self.end(call, "no_ack", hangup_caller=True), f"call-{call.id}-noack", call)

    # -- INVITE -----------------------------------------------------------------------------------

    def _on_invite(self, request: SipRequest, addr: Address, transport: str, key: TransactionKey | None) -> None:
        source = "trunk"
        if addr[0] not in self.settings.voice_trunk_ips:
            outcome = self.registrar.authenticate(request, addr, self.engine.now(), proxy=True)
            if outcome.account is None:
                assert outcome.response is not None
                self.core.respond(outcome.response, transport)
                return
            source = outcome.account.kind
            if self.consults.desk_invite(request, addr, transport, key, outcome.account):
                return  # the agent's desk phone consults someone (voice/calls/consult.py)
        if (request.get("Content-Type") or "").split(";")[0].strip().lower() != "application/sdp" or not request.body:
            self.respond(request, 488, transport, "Not Acceptable Here (an SDP offer is required)", to_tag=new_tag())
            return
        frm = request.from_
        uri = frm.uri
        call_id = new_id()
        call = Call(
            id=call_id, invite=request, server_key=key,
            caller=SipLeg("caller", transport, addr, None, self.media_address),  # type: ignore[arg-type]  # media opened below
            local_tag=new_tag(), caller_number=_number(uri.user if uri else None),
            caller_name=(frm.display_name or None),
            callee=_number(request.request_uri.user or (request.to.uri.user if request.to.uri else None)),
            source=source, started_at=self.now())
        self.calls[call_id] = call
        if key is not None:
            self._by_server_key[key] = call
        self.stats["calls"] += 1
        self.spawn(self._setup(call, transport), f"call-{call_id}-setup", call)

    def _route(self, callee: str) -> tuple[str, Any]:
        """The queue for a dialled number, and the IVR flow when one is published for it."""
        ivr = self.services.ports.ivr
        flow = None
        if ivr is not None:
            try:
                flow = ivr.flow_for_number(callee)
            except Exception:  # noqa: BLE001 - a broken flow store must not drop calls
                log.exception("IVR flow lookup for %s failed; routing straight to a queue", callee)
        queue = self._routes.get(callee) or self.settings.voice_default_queue or self.settings.widget_default_queue
        return queue, flow

    async def _setup(self, call: Call, transport: str) -> None:
        request = call.invite
        try:
            call.caller.media = await self.engine.open_leg(f"caller-{call.id}")
            sdp = call.caller.answer_offer(request.body)
        except NoCommonCodec as err:
            self.respond(request, 488, transport, f"Not Acceptable Here ({err})"[:120], to_tag=call.local_tag)
            return await self._forget(call, "no_codec")
        except SipError as err:
            self.respond(request, 400, transport, f"Bad Request ({err})"[:120], to_tag=call.local_tag)
            return await self._forget(call, "bad_sdp")
        except OSError as err:
            log.error("call %s: no RTP port: %s", call.id, err)
            self.respond(request, 503, transport, to_tag=call.local_tag)
            return await self._forget(call, "no_media")
        queue_id, flow = self._route(call.callee)
        call.queue_id = queue_id
        if self.settings.voice_ring_s > 0:
            self.respond(request, 180, transport, to_tag=call.local_tag)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.voice_ring_s):
                    await call.cancelled.wait()
        if call.cancelled.is_set():
            return await self._forget(call, "cancelled")
        await store.insert_call(self.services, call, self.now())
        try:
            row = await self.services.conversations.open(
                channel="voice", queue_id=queue_id,
                identity={"phone": call.caller_number, "name": call.caller_name or call.caller_number},
                subject=f"Call from {call.caller_name or call.caller_number} to {call.callee}",
                meta={"call_id": call.id, "sip_call_id": request.call_id, "caller": call.caller_number,
                      "callee": call.callee}, status="pending")
        except HubError as err:
            log.error("call %s: cannot open a conversation: %s", call.id, err)
            self.respond(request, 503, transport, to_tag=call.local_tag)
            return await self._forget(call, "no_conversation")
        call.conversation_id = row.id
        self._by_conversation[row.id] = call
        if call.cancelled.is_set():
            return await self.end(call, "cancelled", hangup_caller=False)
        contact = self.core.contact("hub", transport)
        ok = SipResponse.for_request(request, 200, to_tag=call.local_tag,
                                     headers=[("Contact", str(contact)), ("Allow", ALLOW)],
                                     body=bytes(sdp), content_type="application/sdp")
        self.core.respond(ok, transport)
        dialog = Dialog.for_uas(request, ok)
        call.caller.dialog = dialog
        self._by_dialog[(dialog.call_id, dialog.local_tag)] = (call, "caller")
        call.state = CallState.ANSWERED
        call.answered_at = self.now()
        self.stats["answered"] += 1
        media = call.caller.media
        if self.recording_policy.capture():
            call.recorder = CallRecorder(self.engine.now())
            media.recorder = call.recorder
        media.on_dtmf = lambda digit: self._on_dtmf(call, digit)
        if self.transcripts is not None:
            self.transcripts.leg_started(call, "caller", media)
        await store.update_call(self.services, call.id, conversation_id=row.id, answered_at=call.answered_at,
                                queue_id=queue_id)
        if flow is not None and self._start_ivr(call, flow):
            return
        welcome = self.settings.voice_welcome_file
        if welcome:
            prompt = await asyncio.to_thread(self.prompts.get, welcome, media.codec)
            media.play(prompt, on_done=lambda: self.spawn(self.enqueue(call, queue_id),
                                                          f"call-{call.id}-enqueue", call))
        else:
            await self.enqueue(call, queue_id)

    def _start_ivr(self, call: Call, flow: Any) -> bool:
        from voice.calls.ivr import IvrDriver

        try:
            call.ivr = IvrDriver(self, call, flow)
        except Exception:  # noqa: BLE001
            log.exception("call %s: IVR flow could not start; queueing directly", call.id)
            return False
        call.ivr.start()
        return True

    async def enqueue(self, call: Call, queue_id: str, *, priority: int = 0,
                      skills: dict[str, int] | None = None, enqueued_at: float | None = None,
                      force_music: bool = False, agent_id: str | None = None) -> None:
        if call.ended or call.conversation_id is None:
            return
        now = self.now()
        call.queue_id = queue_id
        call.state = CallState.QUEUED
        call.queued_at = call.queued_at or now
        meta_extra: dict[str, Any] = {}
        if skills:
            meta_extra["required_skills"] = skills
        row = await self.services.conversations.row(call.conversation_id)
        values: dict[str, Any] = {"queue_id": queue_id, "enqueued_at": enqueued_at or now,
                                  "priority": row.priority + priority}
        if meta_extra:
            values["meta"] = {**row.meta, **meta_extra}
        row = await self.services.conversations.set_status(call.conversation_id, "queued", **values)
        if agent_id:
            values["meta"] = {**values.get("meta", row.meta), "preferred_agent_id": agent_id}
        if force_music or call.ivr is None or not call.ivr.plays_queue_audio:
            await self.music_on_hold(call.caller)
        await store.update_call(self.services, call.id, queued_at=call.queued_at, queue_id=queue_id)
        if call.ended:
            return
        await self.services.routing.enqueue(row)

    async def leave_queue(self, call: Call) -> None:
        """The IVR took the caller out of the queue (voicemail, callback, an IVR branch)."""
        if call.conversation_id is None or call.state is not CallState.QUEUED:
            return
        call.state = CallState.ANSWERED
        for ep in list(call.ringing.values()):
            await ep.cancel()
        loc = self.services.routing.engine.contact_location(call.conversation_id)
        if loc is not None and loc.state != "assigned":
            await self.services.routing.release(call.conversation_id)
        await self.services.conversations.set_status(call.conversation_id, "pending")

    async def music_on_hold(self, leg: SipLeg) -> None:
        source = self.settings.voice_moh_file or "builtin:moh"
        prompt = await asyncio.to_thread(self.prompts.get, source, leg.media.codec)
        if not leg.media.closed:
            leg.media.play(prompt, loop=True)

    # -- CANCEL -----------------------------------------------------------------------------------

    def _on_cancel(self, request: SipRequest, transport: str, cancels: TransactionKey | None) -> None:
        call = self._by_server_key.get(cancels) if cancels is not None else None
        if call is None and self.consults.cancel_request(request, transport, cancels):
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
        if self.consults.in_dialog(request, transport, to_tag):
            return
        found = self._by_dialog.get((request.call_id, to_tag))
        call: Call | None = None
        leg: SipLeg | None = None
        role = "caller"
        ep: SipPhoneEndpoint | None = None
        if found is not None:
            call, role = found
            leg = call.caller
        else:
            agent = self._agent_legs.get(request.call_id)
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
                self.consults.caller_left(call)
                self.spawn(self.end(call, "caller_hangup"), f"call-{call.id}-bye", call)
            elif ep is not call.agent:  # an agent who transferred the call away hangs up
                self._agent_legs.pop(request.call_id, None)
                if ep is not None and ep.media is not None:
                    ep.media.close()
            elif not self.consults.agent_left(call):
                reason = "external_hangup" if call.external else "agent_hangup"
                self.spawn(self.end(call, reason, hangup_agent=False), f"call-{call.id}-bye", call)
        elif method == "INVITE":
            self._reinvite(call, leg, role, request, transport)
        elif method == "INFO":
            self._info(call, request, transport, role)
        elif method == "REFER":
            self.transfers.on_refer(call, leg, role, request, transport)
        elif method == "OPTIONS":
            self.respond(request, 200, transport, headers=[("Allow", ALLOW)])
        elif method == "NOTIFY":
            self.respond(request, 200, transport)
        else:
            self.respond(request, 405, transport, headers=[("Allow", ALLOW)])

    def _agent_leg(self, call: Call) -> SipLeg | None:
        agent = call.agent
        return agent.leg if isinstance(agent, SipPhoneEndpoint) else None

    def _reinvite(self, call: Call, leg: SipLeg, role: str, request: SipRequest, transport: str) -> None:
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
        self.core.respond(ok, transport)
        other = self._agent_leg(call) if role == "caller" else call.caller
        if call.state is CallState.BRIDGED and other is not None:
            if leg.held_by_remote:
                self.spawn(self.music_on_hold(other), f"call-{call.id}-hold", call)
            else:
                other.media.stop_play()
        log.info("call %s: %s %s", call.id, role, "holds" if leg.held_by_remote else "resumes")

    def _info(self, call: Call, request: SipRequest, transport: str, role: str) -> None:
        ctype = (request.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in DTMF_INFO_TYPES:
            self.respond(request, 415, transport, headers=[("Accept", ", ".join(DTMF_INFO_TYPES))])
            return
        digit = _info_digit(request.body, ctype)
        if digit is None:
            self.respond(request, 400, transport, "Bad Request (no DTMF signal in the INFO body)")
            return
        self.respond(request, 200, transport)
        if role == "caller":
            self._on_dtmf(call, digit)

    def _on_dtmf(self, call: Call, digit: str) -> None:
        log.debug("call %s: DTMF %s", call.id, digit)
        if call.ivr is not None:
            call.ivr.dtmf(digit)

    def notify_refer(self, leg: SipLeg, status: str) -> None:
        if leg.dialog is None or leg.ended:
            return
        notify = leg.dialog.create_request(
            "NOTIFY", self.core.via(leg.transport),
            headers=[("Event", "refer"), ("Subscription-State", "terminated;reason=noresource"),
                     ("Contact", str(leg.dialog.local_contact))],
            body=f"SIP/2.0 {status}\r\n".encode(), content_type="message/sipfrag;version=2.0")
        self.core.request(notify, leg.addr, leg.transport)

    # -- hub events: offers, transfers, closes ----------------------------------------------------

    async def on_hub_event(self, ev: Event) -> None:
        cid = ev.conversation_id
        if cid is None:
            return
        await self.consults.on_hub_event(ev)
        call = self._by_conversation.get(cid)
        if call is None or call.ended:
            return
        if ev.type is EventType.CONVERSATION_OFFERED and ev.user_id:
            if ev.user_id not in call.ringing and call.state is CallState.QUEUED:
                expires = float(ev.data.get("expires_at") or 0) - self.now()
                self.spawn(self._ring_agent(call, ev.user_id, max(1.0, expires)),
                           f"call-{call.id}-ring-{ev.user_id}", call)
        elif ev.type is EventType.CONVERSATION_OFFER_REVOKED and ev.user_id:
            ep = call.ringing.get(ev.user_id)
            if ep is not None:
                self.spawn(ep.cancel(), f"call-{call.id}-cancel-{ev.user_id}", call)
        elif ev.type is EventType.CONVERSATION_TRANSFERRED and not call.transferring:
            # Transferred from the agent desk: the agent it was taken from is still on the call. The
            # event comes after commit, maybe late: a transfer the call service made itself (REFER,
            # a completed consultation) has by then moved the call to nobody or the new agent.
            if call.state is CallState.BRIDGED and call.agent_id is not None \
                    and call.agent_id == ev.data.get("from_agent_id"):
                agent = call.agent
                call.agent, call.agent_id = None, None
                call.caller.media.unbridge()
                if self.transcripts is not None:
                    self.transcripts.leg_stopped(call, "agent")
                call.state = CallState.QUEUED  # before the new offer's event arrives

                async def back_to_queue() -> None:
                    await self.music_on_hold(call.caller)
                    if agent is not None:
                        await agent.hangup()
                        if isinstance(agent, SipPhoneEndpoint):
                            self._agent_legs.pop(agent.call_id, None)
                self.spawn(back_to_queue(), f"call-{call.id}-desk-transfer", call)
        elif ev.type is EventType.CONVERSATION_CLOSED and call.external is None:
            self.spawn(self.end(call, "closed_in_desk", close_conversation=False),
                       f"call-{call.id}-closed", call)
        elif ev.type is EventType.CONVERSATION_OVERFLOWED and call.ivr is not None \
                and ev.data.get("target") != "queue":
            call.ivr.queue_left(str(ev.data.get("reason") or "overflow"))
        elif ev.type is EventType.CONVERSATION_OVERFLOWED and ev.data.get("target") != "queue":
            self.spawn(self.end(call, f"overflow_{ev.data.get('target')}", close_conversation=False),
                       f"call-{call.id}-overflow", call)

    def endpoint_for(self, agent_id: str, call: Call | None = None) -> AgentEndpoint | None:
        """Where the agent takes calls: the browser softphone while it is online in the desk
        (voice/webrtc), otherwise the registered desk phone, otherwise nowhere."""
        softphones = self.services.ports.softphone
        if softphones is not None and call is not None and softphones.online(agent_id):
            return softphones.endpoint(agent_id, call)
        binding = self.registrar.binding_for_user(agent_id, self.engine.now())
        if binding is None:
            return None
        return SipPhoneEndpoint(agent_id, binding, self.core, self.engine, self.media_address)

    async def _ring_agent(self, call: Call, agent_id: str, ring_s: float) -> None:
        ep = self.endpoint_for(agent_id, call)
        if ep is None:
            return  # neither softphone nor desk phone: the offer times out in the ACD
        call.ringing[agent_id] = ep
        if isinstance(ep, SipPhoneEndpoint):
            self._agent_legs[ep.call_id] = (call, ep)
        try:
            result = await ep.ring(call.caller_number, call.caller_name, ring_s)
        finally:
            call.ringing.pop(agent_id, None)
        if result is not RingResult.ANSWERED:
            if isinstance(ep, SipPhoneEndpoint):
                self._agent_legs.pop(ep.call_id, None)
            if result is RingResult.DECLINED and not call.ended and call.conversation_id:
                with contextlib.suppress(HubError):
                    user = await self.services.auth.get_user(agent_id)
                    await self.services.routing.reject(call.conversation_id, user)
                    self.stats["rejected"] += 1
            return
        if call.ended or call.state is not CallState.QUEUED or call.conversation_id is None:
            await ep.hangup()
            return
        try:
            user = await self.services.auth.get_user(agent_id)
            await self.services.routing.accept(call.conversation_id, user)
        except HubError as err:
            log.info("call %s: agent %s answered but the offer is gone: %s", call.id, agent_id, err)
            await ep.hangup()
            return
        assert ep.media is not None
        call.agent, call.agent_id = ep, agent_id
        call.state = CallState.BRIDGED
        call.connected_at = self.now()
        self.stats["bridged"] += 1
        if call.ivr is not None:
            call.ivr.agent_answered(agent_id)
        call.caller.media.stop_play()
        ep.media.stop_play()
        call.caller.media.bridge(ep.media)
        if self.transcripts is not None:
            self.transcripts.leg_started(call, "agent", ep.media, agent_id)
        for other in list(call.ringing.values()):
            self.spawn(other.cancel(), f"call-{call.id}-cancel-other", call)
        await store.update_call(self.services, call.id, agent_id=agent_id, connected_at=call.connected_at,
                                wait_s=call.connected_at - (call.queued_at or call.connected_at))

    # -- ending -----------------------------------------------------------------------------------

    async def _forget(self, call: Call, reason: str) -> None:
        """A call that never got answered: nothing to close but the media and the CDR."""
        call.state = CallState.ENDED
        call.end_reason = reason
        if call.caller.media is not None:
            call.caller.media.close()
        self._unindex(call)
        if reason == "cancelled":
            await store.insert_call(self.services, call, self.now(), ended=True)

    def _unindex(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        if call.server_key is not None:
            self._by_server_key.pop(call.server_key, None)
        if call.caller.dialog is not None:
            self._by_dialog.pop((call.caller.dialog.call_id, call.caller.dialog.local_tag), None)
        if call.conversation_id is not None:
            self._by_conversation.pop(call.conversation_id, None)

    async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None,
                  hangup_agent: bool = True, close_conversation: bool = True) -> None:
        if call.ended:
            return
        was = call.state
        call.state = CallState.ENDED
        call.end_reason = reason
        call.ended_at = self.now()
        call.cancelled.set()
        await self.consults.call_ending(call)
        if call.ivr is not None:
            call.ivr.hung_up()
        if self.transcripts is not None:
            self.transcripts.call_ended(call)  # the last words are flushed and stored
        for ep in list(call.ringing.values()):
            await ep.cancel()
        if hangup_caller is None:
            hangup_caller = reason != "caller_hangup"
        media_now = self.engine.now()
        if call.recorder is not None:
            call.recorder.stop(media_now)
        waits: list[Coroutine[Any, Any, Any]] = []
        if call.agent is not None and hangup_agent:
            waits.append(call.agent.hangup())
        elif call.agent is not None and call.agent.media is not None:
            call.agent.media.close()
        if isinstance(call.agent, SipPhoneEndpoint):
            self._agent_legs.pop(call.agent.call_id, None)
        if hangup_caller and was is not CallState.SETUP:
            waits.append(self._bye_caller(call))
        elif hangup_caller and was is CallState.SETUP:
            self.respond(call.invite, 480, call.caller.transport, "Temporarily Unavailable", to_tag=call.local_tag)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        if call.caller.media is not None:
            call.caller.media.close()
        self._unindex(call)
        await self._close_conversation(call, was, reason, close_conversation)
        talk = (call.ended_at - call.connected_at) if call.connected_at else None
        values: dict[str, Any] = {"ended_at": call.ended_at, "end_reason": reason, "talk_s": talk}
        if call.agent_id:
            values["agent_id"] = call.agent_id
        if not call.connected_at and call.queued_at:
            values["wait_s"] = call.ended_at - call.queued_at  # abandoned: how long they waited
        await store.update_call(self.services, call.id, **values)
        if call.recorder is not None and call.conversation_id and self.recording_policy.keep(call.queue_id):
            await self._save_recording(call)

    async def _bye_caller(self, call: Call) -> None:
        leg = call.caller
        if leg.dialog is None or leg.ended:
            return
        leg.ended = True
        bye = leg.dialog.bye(self.core.via(leg.transport))
        pending = self.core.request(bye, leg.addr, leg.transport)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await asyncio.shield(pending.final)

    async def _close_conversation(self, call: Call, was: CallState, reason: str, close: bool) -> None:
        cid = call.conversation_id
        if cid is None:
            return
        conv = self.services.conversations
        routing = self.services.routing
        try:
            row = await conv.row(cid)
            if close and row.status not in ("closed", "abandoned"):
                who = "customer" if reason == "caller_hangup" else "agent" if reason == "agent_hangup" else reason
                row = await conv.close(cid, by=None, reason=who)
            if row.status == "abandoned":
                self.stats["abandoned"] += 1
            await routing.release(cid)
        except HubError as err:
            log.info("call %s: conversation %s not closed: %s", call.id, cid, err)

    async def _save_recording(self, call: Call) -> None:
        rec = call.recorder
        assert rec is not None and call.conversation_id is not None
        tmp_dir = self.settings.data_dir / "voice"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".rec-", suffix=".wav")
        os.close(fd)
        path = Path(name)
        try:
            duration = await asyncio.to_thread(rec.write_wav, path)
            stamp = secrets.token_hex(3)
            filename = f"call-{call.caller_number}-{int(call.started_at)}-{stamp}.wav"
            att = await self.recordings.save(filename, "audio/wav", _file_chunks(path), uploaded_by="voice",
                                             conversation_id=call.conversation_id)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        await store.insert_recording(self.services, call, att["id"], duration, self.now())
        mins, secs = divmod(int(round(duration)), 60)
        async with self.services.db.tx() as tx:
            await self.services.conversations.insert_message(
                tx, call.conversation_id, kind="note", sender="system",
                body=f"Call recording ({mins}:{secs:02d})", sender_name="Voice",
                queue_id=call.queue_id, assignee_id=None, attachment_ids=[att["id"]])
            await tx.conn.execute(update(store.t_calls).where(store.t_calls.c.id == call.id)
                                  .values(recording_id=att["id"]))

    # -- agent controls from the desk (voice/webrtc) ----------------------------------------------

    def agent_hangup(self, call: Call) -> None:
        """The agent hung up in the desk: the caller gets a BYE, the conversation wraps up."""
        if not call.ended and not self.consults.agent_left(call):
            self.spawn(self.end(call, "agent_hangup"), f"call-{call.id}-agent-hangup", call)

    async def hold(self, call: Call, on: bool) -> None:
        """The agent holds the caller (music on hold; neither side hears the other) or resumes."""
        agent = call.agent
        if call.ended or call.state is not CallState.BRIDGED or agent is None or agent.media is None:
            raise InvalidState("the call is not connected to an agent")
        if call.consult is not None:
            raise InvalidState("the caller is on hold while you consult")
        agent.media.held = on
        if on:
            await self.music_on_hold(call.caller)
        else:
            call.caller.media.stop_play()

    # -- views ------------------------------------------------------------------------------------

    def active_calls(self) -> list[dict[str, Any]]:
        return [c.public() for c in self.calls.values() if not c.ended]


def _info_digit(body: bytes, ctype: str) -> str | None:
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


async def _file_chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local file read in bounded chunks
        while chunk := fh.read(size):
            yield chunk
