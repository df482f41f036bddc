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

``CallService`` is the façade: it owns the call table (``table.py``), the shared resources (SIP
core, media engine, registrar, trunk, prompts, counters) and the owned tasks, and wires the parts
that do the work, one concern each:

- ``signalling.py`` (``SipSignalling``): SIP dialog handling — request dispatch, CANCEL, in-dialog
  BYE / re-INVITE / INFO / REFER / NOTIFY;
- ``inbound.py`` (``InboundCalls``): an INVITE up to the answered call, the IVR or the queue;
- ``acd.py`` (``AcdGlue``): queueing, music on hold, offers ringing agents, answering, release;
- ``control.py`` (``CallControl``): hold, the desk's hang-up and the end of a call;
- ``cdr.py`` (``CallRecords``): the recorder, the end of the CDR and the stored recording;
- ``consult.py``, ``transfers.py``, ``ivr.py``: consultations and conferences, blind transfer, the
  IVR driver;
- ``liveness.py`` (``CallLiveness``): a caller gone without a BYE (RTP inactivity, SIP session
  timers) is hung up.

Each part defines a ``Protocol`` naming what it needs of the service and gets the service passed
in, so none imports this module. The service keeps the public methods callers use (the softphone,
callbacks, voicemail, the IVR driver, consultations, transfers, the component) and hands them to
the part that owns them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from voice.calls.acd import AcdGlue
from voice.calls.call import Call
from voice.calls.cdr import CallRecords
from voice.calls.consult import ConsultService
from voice.calls.control import CallControl
from voice.calls.inbound import InboundCalls
from voice.calls.liveness import CallLiveness
from voice.calls.outbound import Trunk
from voice.calls.recordings import RecordingPolicy
from voice.calls.settings import VoiceSettings
from voice.calls.signalling import SipSignalling
from voice.calls.sipcore import SipCore
from voice.calls.table import CallTable
from voice.calls.transfers import BlindTransfers
from voice.media.prompts import PromptCache

if TYPE_CHECKING:
    from hub.app import Services
    from hub.events import Event
    from voice.calls.callback import CallbackService
    from voice.calls.endpoints import AgentEndpoint, SipPhoneEndpoint
    from voice.calls.legs import SipLeg
    from voice.calls.registrar import Registrar
    from voice.calls.transcripts import CallTranscripts
    from voice.calls.voicemail import VoicemailService
    from voice.media.engine import MediaEngine
    from voice.sip.message import SipRequest

__all__ = ["CallService"]

log = logging.getLogger(__name__)


class CallService:
    def __init__(self, services: Services, core_host: str, advertised_host: str,
                 engine: MediaEngine, registrar: Registrar) -> None:
        self.services = services
        self.settings = services.settings
        st = services.settings.section(VoiceSettings)
        self.engine = engine
        self.registrar = registrar
        self.media_address = advertised_host
        self.prompts = PromptCache()
        self.table = CallTable()
        self.calls: dict[str, Call] = self.table.calls
        self._tasks: set[asyncio.Task[Any]] = set()
        self.trunk = Trunk.from_settings(st.trunk_uri, st.trunk_username, st.trunk_password,
                                         st.caller_id, st.external_pattern)
        self.stats = {"calls": 0, "answered": 0, "bridged": 0, "abandoned": 0, "rejected": 0, "external_transfers": 0,
                      "overloaded": 0}
        self.transcripts: CallTranscripts | None = None  # set by the component (voice/calls/transcripts.py)
        self.voicemail: VoicemailService | None = None  # set by the component (voice/calls/voicemail.py)
        self.callbacks: CallbackService | None = None  # set by the component (voice/calls/callback.py)
        self.recording_policy = RecordingPolicy(st.recording)  # per queue (recordings.py)
        self.signalling = SipSignalling(self)  # SIP dialog handling (voice/calls/signalling.py)
        self.core = SipCore(core_host, self.signalling, advertised_host=advertised_host)
        self.inbound = InboundCalls(self)  # INVITE → answered call (voice/calls/inbound.py); checks voice_routes
        self.acd = AcdGlue(self)  # queueing, offers, answering, release (voice/calls/acd.py)
        self.control = CallControl(self)  # hold, hang-up, the end of a call (voice/calls/control.py)
        self.records = CallRecords(self)  # recorder, CDR, stored recordings (voice/calls/cdr.py)
        self.consults = ConsultService(self)  # consulted transfer and conference (voice/calls/consult.py)
        self.transfers = BlindTransfers(self)  # REFER from the desk phone (voice/calls/transfers.py)
        self.liveness = CallLiveness(self)  # RTP inactivity, SIP session timers (voice/calls/liveness.py)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, udp_port: int, tcp_port: int | None) -> None:
        await self.core.start(udp_port, tcp_port)
        self.liveness.start()

    async def stop(self) -> None:
        """End every live call at once: BYEs to both sides, answers awaited for at most
        ``voice_shutdown_wait_s`` in all (far ends that are gone never answer), then each call's
        CDR and recording are stored, whatever the far ends did."""
        await self.liveness.stop()
        self.inbound.admission.close()  # new calls get 503 from now on
        live = [call for call in self.calls.values() if not call.ended]
        started = time.monotonic()
        ends = asyncio.gather(*(self.end(call, "shutdown", hangup_caller=True) for call in live),
                              return_exceptions=True)
        try:
            async with asyncio.timeout(self.settings.section(VoiceSettings).shutdown_wait_s):
                await asyncio.shield(ends)
        except TimeoutError:
            self.core.stop_waiting()  # the unanswered BYEs end now: recordings and CDRs are stored
            await ends
        if live:
            log.info("voice: %d live calls ended at shutdown in %.1f s", len(live), time.monotonic() - started)
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

    # -- the call table ---------------------------------------------------------------------------

    def track_agent_leg(self, call: Call, ep: SipPhoneEndpoint) -> None:
        """An agent-side dialog we placed (desk phone, consulted party, trunk): its in-dialog
        requests (BYE, re-INVITE, REFER) and responses are routed to ``call``."""
        self.table.track_agent_leg(call, ep)

    def forget_agent_leg(self, call_id: str) -> None:
        self.table.forget_agent_leg(call_id)

    def adopt(self, call: Call) -> None:
        """Index a call placed elsewhere (a callback through the trunk) like an inbound one: BYEs on
        its caller dialog, desk closes and transfers of its conversation reach it."""
        self.table.adopt(call)

    def active_calls(self) -> list[dict[str, Any]]:
        return [c.public() for c in self.calls.values() if not c.ended]

    # -- SIP (signalling.py) ----------------------------------------------------------------------

    def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                **kw: Any) -> None:
        self.signalling.respond(request, status, transport, reason, **kw)

    def notify_refer(self, leg: SipLeg, status: str) -> None:
        self.signalling.notify_refer(leg, status)

    # -- the ACD (acd.py) -------------------------------------------------------------------------

    async def on_hub_event(self, ev: Event) -> None:
        if ev.conversation_id is None:
            return
        await self.consults.on_hub_event(ev)
        await self.acd.on_hub_event(ev)

    async def enqueue(self, call: Call, queue_id: str, *, priority: int = 0,
                      skills: dict[str, int] | None = None, enqueued_at: float | None = None,
                      force_music: bool = False, agent_id: str | None = None) -> None:
        await self.acd.enqueue(call, queue_id, priority=priority, skills=skills, enqueued_at=enqueued_at,
                               force_music=force_music, agent_id=agent_id)

    async def leave_queue(self, call: Call) -> None:
        """The IVR took the caller out of the queue (voicemail, callback, an IVR branch)."""
        await self.acd.leave_queue(call)

    async def music_on_hold(self, leg: SipLeg) -> None:
        await self.acd.music_on_hold(leg)

    def endpoint_for(self, agent_id: str, call: Call | None = None) -> AgentEndpoint | None:
        """Where the agent takes calls: the browser softphone while it is online in the desk
        (voice/webrtc), otherwise the registered desk phone, otherwise nowhere."""
        return self.acd.endpoint_for(agent_id, call)

    # -- call control (control.py) ----------------------------------------------------------------

    async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None,
                  hangup_agent: bool = True, close_conversation: bool = True) -> None:
        await self.control.end(call, reason, hangup_caller=hangup_caller, hangup_agent=hangup_agent,
                               close_conversation=close_conversation)

    def agent_hangup(self, call: Call) -> None:
        """The agent hung up in the desk: the caller gets a BYE, the conversation wraps up."""
        self.control.agent_hangup(call)

    async def hold(self, call: Call, on: bool) -> None:
        """The agent holds the caller (music on hold; neither side hears the other) or resumes."""
        await self.control.hold(call, on)
