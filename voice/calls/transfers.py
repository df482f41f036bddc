"""Blind transfer from the agent's desk phone (REFER without Replaces, RFC 3515): to a queue, an
agent or an external number through the trunk. The caller hears music on hold while the ACD or
the trunk finds the target; the transferor's leg ends once it has its NOTIFY. A REFER with
Replaces (attended transfer) goes to the consultations (voice/calls/consult.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Protocol

import voice.calls.store as store
from hub.errors import HubError
from voice.calls.call import Call, CallState
from voice.calls.endpoints import AgentEndpoint, RingResult, SipPhoneEndpoint
from voice.calls.history import SegmentKind
from voice.calls.legs import SipLeg
from voice.calls.outbound import TrunkEndpoint, TrunkError
from voice.calls.settings import VoiceSettings
from voice.calls.targets import queue_for
from voice.sip.errors import SipError
from voice.sip.message import NameAddr, SipRequest

if TYPE_CHECKING:
    from voice.calls.consult import ConsultHost, ConsultService

    class TransferHost(ConsultHost, Protocol):
        """What a blind transfer needs of the call service (``CallService`` is one)."""

        @property
        def consults(self) -> ConsultService: ...
        @property
        def stats(self) -> dict[str, int]: ...

        async def end(self, call: Call, reason: str) -> None: ...

log = logging.getLogger(__name__)


class BlindTransfers:
    def __init__(self, host: TransferHost) -> None:
        self.host = host

    def on_refer(self, call: Call, leg: SipLeg, role: str, request: SipRequest, transport: str) -> None:
        try:
            target = NameAddr.parse(request.require("Refer-To"))
        except SipError as err:
            self.host.respond(request, 400, transport, f"Bad Request ({err})"[:120])
            return
        if role != "agent" or call.agent_id is None or target.uri is None:
            self.host.respond(request, 403, transport, "Forbidden (only the agent's leg may transfer)")
            return
        replaces = self.host.consults.replaces_of(request.require("Refer-To"))
        if replaces is not None:  # attended transfer of a consultation (voice/calls/consult.py)
            self.host.consults.refer_replaces(call, leg, request, transport, replaces)
            return
        user = target.uri.user or ""
        qid = queue_for(user, self.host.services.conversations.queue_names, self.host.inbound.routes)
        kind: str
        dest: str
        if qid is not None:  # by id, name or extension (voice/calls/targets.py)
            kind, dest = "queue", qid
        else:
            acc = self.host.registrar.accounts.get(user)
            if acc is not None and acc.user_id:
                kind, dest = "agent", acc.user_id
            elif self.host.trunk is not None and self.host.trunk.dialable(user):
                kind, dest = "external", user
            else:
                self.host.respond(request, 404, transport, "Not Found (no queue or agent with that name)")
                return
        self.host.respond(request, 202, transport)
        self.host.spawn(self._blind(call, leg, kind, dest), f"call-{call.id}-refer", call)

    async def _blind(self, call: Call, leg: SipLeg, kind: str, dest: str) -> None:
        """Blind transfer asked by the agent's phone: the caller goes back to the ACD (music on
        hold) targeted at a queue or an agent; the agent's leg ends once it has the NOTIFY."""
        if kind == "external":
            await self._external(call, leg, dest)
            return
        agent_ep, agent_id = call.agent, call.agent_id
        assert agent_ep is not None and agent_id is not None and call.conversation_id is not None
        call.transferring = True
        call.agent, call.agent_id = None, None
        call.caller.media.unbridge()
        if self.host.transcripts is not None:
            self.host.transcripts.leg_stopped(call, "agent")
        call.state = CallState.QUEUED
        old_queue = call.queue_id
        if kind == "queue":
            call.queue_id = dest  # the CDR and the recording policy follow the call to its new queue
        call.segment(SegmentKind.QUEUED, self.host.now(), reason="blind_transfer",
                     party=dest if kind == "agent" else None)
        await self.host.music_on_hold(call.caller)
        try:
            user = await self.host.services.auth.get_user(agent_id)
            await self.host.services.routing.transfer(call.conversation_id, user,
                                                 queue_id=dest if kind == "queue" else None,
                                                 agent_id=dest if kind == "agent" else None,
                                                 note=f"Call transferred from the desk phone to {kind} {dest}")
        except HubError as err:
            log.info("call %s: transfer refused: %s", call.id, err)
            call.transferring = False
            call.queue_id = old_queue
            if not call.ended and agent_ep.media is not None:
                call.agent, call.agent_id, call.state = agent_ep, agent_id, CallState.BRIDGED
                call.segment(SegmentKind.TALK, self.host.now(), reason="transfer_failed")
                call.caller.media.stop_play()
                call.caller.media.bridge(agent_ep.media)
            self.host.notify_refer(leg, "503 Service Unavailable")
            return
        call.transferring = False
        await store.update_call(self.host.services, call.id, queue_id=call.queue_id)
        self.host.notify_refer(leg, "200 OK")
        await self._release_transferor(leg, agent_ep)

    async def _release_transferor(self, leg: SipLeg, agent_ep: AgentEndpoint) -> None:
        """After a completed transfer: give the transferor's phone 3 s to hang up by itself (it
        normally does after the NOTIFY), then end its leg and free its endpoint."""
        with contextlib.suppress(TimeoutError):  # the transferor normally hangs up itself
            async with asyncio.timeout(3):
                while not leg.ended:  # noqa: ASYNC110 - set by the BYE handler
                    await asyncio.sleep(0.05)
        if not leg.ended:
            await agent_ep.hangup()
        if isinstance(agent_ep, SipPhoneEndpoint):
            self.host.forget_agent_leg(agent_ep.call_id)
        if agent_ep.media is not None:
            agent_ep.media.close()

    async def _external(self, call: Call, leg: SipLeg, number: str) -> None:
        """Blind transfer to an external number: the caller hears music while the trunk rings the
        number; on answer the caller is bridged to it, the agent's leg ends and the conversation
        is closed for the agent (the call goes on through the hub, recorded, until either side
        hangs up). If the number does not answer the caller goes back to the agent."""
        agent_ep, agent_id, trunk = call.agent, call.agent_id, self.host.trunk
        assert agent_ep is not None and agent_id is not None and trunk is not None
        call.transferring = True
        call.agent, call.agent_id = None, None  # the transferor's BYE now ends only its own leg
        call.segment(SegmentKind.HOLD, self.host.now(), reason="blind_transfer", party=number)
        call.caller.media.unbridge()
        await self.host.music_on_hold(call.caller)
        result, ep = RingResult.FAILED, None
        try:
            target = await trunk.target_for(number)
            h = self.host
            ep = TrunkEndpoint(number, trunk, target, h.core, h.engine, h.media_address)
            h.track_agent_leg(call, ep)
            result = await ep.ring(trunk.caller_id or call.caller_number, call.caller_name,
                                   self.host.settings.section(VoiceSettings).external_ring_s)
        except TrunkError as err:
            log.warning("call %s: transfer to %s: %s", call.id, number, err)
        call.transferring = False
        if result is not RingResult.ANSWERED or call.ended:
            if ep is not None:
                self.host.forget_agent_leg(ep.call_id)
                if result is RingResult.ANSWERED:
                    await ep.hangup()
            status = {RingResult.DECLINED: "486 Busy Here", RingResult.NO_ANSWER: "480 Temporarily Unavailable"}
            self.host.notify_refer(leg, status.get(result, "503 Service Unavailable"))
            if not call.ended:
                await self._external_failed(call, leg, agent_ep, agent_id, number)
            return
        assert ep is not None and ep.media is not None
        call.agent, call.agent_id, call.external = ep, agent_id, number
        call.segment(SegmentKind.EXTERNAL, self.host.now(), party=number, reason="blind_transfer")
        call.caller.media.stop_play()
        call.caller.media.bridge(ep.media)
        self.host.stats["external_transfers"] += 1
        self.host.notify_refer(leg, "200 OK")
        await self._release_transferor(leg, agent_ep)
        await store.update_call(self.host.services, call.id, agent_id=agent_id)
        if call.conversation_id is not None and not call.ended:
            conv = self.host.services.conversations
            try:
                await conv.add_message(call.conversation_id, sender="system", kind="system",
                                       body=f"Call transferred to the external number {number}.",
                                       sender_name="Voice")
                user = await self.host.services.auth.get_user(agent_id)
                await conv.close(call.conversation_id, by=user, reason="transferred_external")
            except HubError as err:
                log.info("call %s: conversation not closed after the external transfer: %s", call.id, err)

    async def _external_failed(self, call: Call, leg: SipLeg, agent_ep: AgentEndpoint, agent_id: str,
                               number: str) -> None:
        """The external number did not answer: back to the agent if its leg is still up (most
        phones keep the call until the NOTIFY says the transfer failed), else back to the queue."""
        await asyncio.sleep(0.5)  # a phone that gives up on a failed transfer sends its BYE now
        if call.ended:
            return
        if not leg.ended and agent_ep.media is not None and not agent_ep.media.closed:
            call.agent, call.agent_id = agent_ep, agent_id
            call.segment(SegmentKind.TALK, self.host.now(), reason="transfer_failed")
            call.caller.media.stop_play()
            call.caller.media.bridge(agent_ep.media)
            return
        call.state = CallState.QUEUED
        call.segment(SegmentKind.QUEUED, self.host.now(), reason="transfer_failed")
        if call.conversation_id is None:
            return
        try:
            user = await self.host.services.auth.get_user(agent_id)
            await self.host.services.routing.transfer(
                call.conversation_id, user, queue_id=call.queue_id,
                note=f"The external number {number} did not answer; the caller is back in the queue")
        except HubError as err:
            log.info("call %s: back to the queue after a failed external transfer: %s", call.id, err)
            await self.host.end(call, "external_transfer_failed")
