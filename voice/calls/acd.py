"""The call service's glue to the hub's ACD: a call's conversation is queued (music on hold while
it waits), ``conversation.offered`` rings the agent's endpoint (the browser softphone while it is
online, else the registered desk phone), the agent's answer accepts the offer on the agent's
behalf and bridges the media; revoked offers, desk transfers, desk closes and overflows reach the
call through the same hub events; when the call ends its conversation is closed and released.

What this needs of the call service is :class:`AcdHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

import voice.calls.store as store
from hub.errors import HubError
from hub.events import Event, EventType
from voice.calls.call import Call, CallHost, CallState
from voice.calls.endpoints import AgentEndpoint, RingResult, SipPhoneEndpoint
from voice.calls.history import SegmentKind
from voice.calls.settings import VoiceSettings

if TYPE_CHECKING:
    from voice.calls.legs import SipLeg
    from voice.calls.registrar import Registrar
    from voice.calls.sipcore import SipCore
    from voice.calls.table import CallTable
    from voice.media.engine import MediaEngine
    from voice.media.prompts import PromptCache

__all__ = ["AcdGlue", "AcdHost"]

log = logging.getLogger(__name__)


class AcdHost(CallHost, Protocol):
    """What the ACD glue needs of the call service (``CallService`` is one)."""

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
    def prompts(self) -> PromptCache: ...
    @property
    def stats(self) -> dict[str, int]: ...

    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    async def end(self, call: Call, reason: str, *, close_conversation: bool = True) -> None: ...


class AcdGlue:
    def __init__(self, host: AcdHost) -> None:
        self.host = host

    # -- queueing ---------------------------------------------------------------------------------

    async def enqueue(self, call: Call, queue_id: str, *, priority: int = 0,
                      skills: dict[str, int] | None = None, enqueued_at: float | None = None,
                      force_music: bool = False, agent_id: str | None = None) -> None:
        h = self.host
        if call.ended or call.conversation_id is None:
            return
        now = h.now()
        call.queue_id = queue_id
        call.state = CallState.QUEUED
        call.queued_at = call.queued_at or now
        call.segment(SegmentKind.QUEUED, now)
        meta_extra: dict[str, Any] = {}
        if skills:
            meta_extra["required_skills"] = skills
        row = await h.services.conversations.row(call.conversation_id)
        values: dict[str, Any] = {"queue_id": queue_id, "enqueued_at": enqueued_at or now,
                                  "priority": row.priority + priority}
        if meta_extra:
            values["meta"] = {**row.meta, **meta_extra}
        row = await h.services.conversations.set_status(call.conversation_id, "queued", **values)
        if agent_id:
            values["meta"] = {**values.get("meta", row.meta), "preferred_agent_id": agent_id}
        if force_music or call.ivr is None or not call.ivr.plays_queue_audio:
            await self.music_on_hold(call.caller)
        await store.update_call(h.services, call.id, queued_at=call.queued_at, queue_id=queue_id)
        if call.ended:
            return
        await h.services.routing.enqueue(row)

    async def leave_queue(self, call: Call) -> None:
        """The IVR took the caller out of the queue (voicemail, callback, an IVR branch)."""
        if call.conversation_id is None or call.state is not CallState.QUEUED:
            return
        call.state = CallState.ANSWERED
        if call.history.current is not None and call.history.current.kind is SegmentKind.QUEUED:
            call.segment(SegmentKind.IVR, self.host.now())  # not when the IVR already moved on (voicemail)
        for ep in list(call.ringing.values()):
            await ep.cancel()
        routing = self.host.services.routing
        loc = routing.engine.contact_location(call.conversation_id)
        if loc is not None and loc.state != "assigned":
            await routing.release(call.conversation_id)
        await self.host.services.conversations.set_status(call.conversation_id, "pending")

    async def music_on_hold(self, leg: SipLeg) -> None:
        source = self.host.settings.section(VoiceSettings).moh_file or "builtin:moh"
        prompt = await asyncio.to_thread(self.host.prompts.get, source, leg.media.codec)
        if not leg.media.closed:
            leg.media.play(prompt, loop=True)

    async def release(self, call: Call, reason: str, close: bool) -> None:
        """The call is over: its conversation is closed (unless the desk closed it already or
        ``close`` is off) and released from the routing."""
        cid = call.conversation_id
        if cid is None:
            return
        conv = self.host.services.conversations
        routing = self.host.services.routing
        try:
            row = await conv.row(cid)
            if close and row.status not in ("closed", "abandoned"):
                who = "customer" if reason == "caller_hangup" else "agent" if reason == "agent_hangup" else reason
                row = await conv.close(cid, by=None, reason=who)
            if row.status == "abandoned":
                self.host.stats["abandoned"] += 1
            await routing.release(cid)
        except HubError as err:
            log.info("call %s: conversation %s not closed: %s", call.id, cid, err)

    # -- hub events: offers, transfers, closes ----------------------------------------------------

    async def on_hub_event(self, ev: Event) -> None:
        h = self.host
        cid = ev.conversation_id
        if cid is None:
            return
        call = h.table.by_conversation(cid)
        if call is None or call.ended:
            return
        if ev.type is EventType.CONVERSATION_OFFERED and ev.user_id:
            if ev.user_id not in call.ringing and call.state is CallState.QUEUED:
                expires = float(ev.data.get("expires_at") or 0) - h.now()
                h.spawn(self._ring_agent(call, ev.user_id, max(1.0, expires)),
                        f"call-{call.id}-ring-{ev.user_id}", call)
        elif ev.type is EventType.CONVERSATION_OFFER_REVOKED and ev.user_id:
            ep = call.ringing.get(ev.user_id)
            if ep is not None:
                h.spawn(ep.cancel(), f"call-{call.id}-cancel-{ev.user_id}", call)
        elif ev.type is EventType.CONVERSATION_TRANSFERRED and not call.transferring:
            # Transferred from the agent desk: the agent it was taken from is still on the call. The
            # event comes after commit, maybe late: a transfer the call service made itself (REFER,
            # a completed consultation) has by then moved the call to nobody or the new agent.
            if call.state is CallState.BRIDGED and call.agent_id is not None \
                    and call.agent_id == ev.data.get("from_agent_id"):
                agent = call.agent
                call.agent, call.agent_id = None, None
                call.caller.media.unbridge()
                if h.transcripts is not None:
                    h.transcripts.leg_stopped(call, "agent")
                call.state = CallState.QUEUED  # before the new offer's event arrives
                call.queue_id = ev.data.get("to_queue_id") or call.queue_id
                call.segment(SegmentKind.QUEUED, h.now(), reason="desk_transfer")

                async def back_to_queue() -> None:
                    await self.music_on_hold(call.caller)
                    if agent is not None:
                        await agent.hangup()
                        if isinstance(agent, SipPhoneEndpoint):
                            h.table.forget_agent_leg(agent.call_id)
                h.spawn(back_to_queue(), f"call-{call.id}-desk-transfer", call)
        elif ev.type is EventType.CONVERSATION_CLOSED and call.external is None:
            h.spawn(h.end(call, "closed_in_desk", close_conversation=False), f"call-{call.id}-closed", call)
        elif ev.type is EventType.CONVERSATION_OVERFLOWED and call.ivr is not None \
                and ev.data.get("target") != "queue":
            call.ivr.queue_left(str(ev.data.get("reason") or "overflow"))
        elif ev.type is EventType.CONVERSATION_OVERFLOWED and ev.data.get("target") != "queue":
            h.spawn(h.end(call, f"overflow_{ev.data.get('target')}", close_conversation=False),
                    f"call-{call.id}-overflow", call)

    # -- offering to agents -----------------------------------------------------------------------

    def endpoint_for(self, agent_id: str, call: Call | None = None) -> AgentEndpoint | None:
        """Where the agent takes calls: the browser softphone while it is online in the desk
        (voice/webrtc), otherwise the registered desk phone, otherwise nowhere."""
        h = self.host
        softphones = h.services.ports.softphone
        if softphones is not None and call is not None and softphones.online(agent_id):
            return softphones.endpoint(agent_id, call)
        binding = h.registrar.binding_for_user(agent_id, h.engine.now())
        if binding is None:
            return None
        return SipPhoneEndpoint(agent_id, binding, h.core, h.engine, h.media_address)

    async def _ring_agent(self, call: Call, agent_id: str, ring_s: float) -> None:
        h = self.host
        ep = self.endpoint_for(agent_id, call)
        if ep is None:
            return  # neither softphone nor desk phone: the offer times out in the ACD
        call.ringing[agent_id] = ep
        if isinstance(ep, SipPhoneEndpoint):
            h.table.track_agent_leg(call, ep)
        try:
            result = await ep.ring(call.caller_number, call.caller_name, ring_s)
        finally:
            call.ringing.pop(agent_id, None)
        if result is not RingResult.ANSWERED:
            if isinstance(ep, SipPhoneEndpoint):
                h.table.forget_agent_leg(ep.call_id)
            if result is RingResult.DECLINED and not call.ended and call.conversation_id:
                with contextlib.suppress(HubError):
                    user = await h.services.auth.get_user(agent_id)
                    await h.services.routing.reject(call.conversation_id, user)
                    h.stats["rejected"] += 1
            return
        if call.ended or call.state is not CallState.QUEUED or call.conversation_id is None:
            await ep.hangup()
            return
        try:
            user = await h.services.auth.get_user(agent_id)
            await h.services.routing.accept(call.conversation_id, user)
        except HubError as err:
            log.info("call %s: agent %s answered but the offer is gone: %s", call.id, agent_id, err)
            await ep.hangup()
            return
        assert ep.media is not None
        call.agent, call.agent_id = ep, agent_id
        call.state = CallState.BRIDGED
        call.connected_at = h.now()
        call.segment(SegmentKind.TALK, call.connected_at)
        h.stats["bridged"] += 1
        if call.ivr is not None:
            call.ivr.agent_answered(agent_id)
        call.caller.media.stop_play()
        ep.media.stop_play()
        call.caller.media.bridge(ep.media)
        if h.transcripts is not None:
            h.transcripts.leg_started(call, "agent", ep.media, agent_id)
        for other in list(call.ringing.values()):
            h.spawn(other.cancel(), f"call-{call.id}-cancel-other", call)
        await store.update_call(h.services, call.id, agent_id=agent_id, connected_at=call.connected_at,
                                wait_s=call.connected_at - (call.queued_at or call.connected_at))
