"""Call control: the agent's hold and hang-up from the desk, and the end of a call whoever ends it
(a BYE on either side, the desk closing the conversation, an overflow, shutdown): the IVR, the
consultation and the transcript are told, ringing agents cancelled, the other side hung up, the
media closed, the conversation closed and released (voice/calls/acd.py), the CDR completed and the
recording stored (voice/calls/cdr.py). What this needs of the call service is :class:`ControlHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hub.errors import InvalidState
from voice.calls.call import Call, CallHost, CallState
from voice.calls.endpoints import SipPhoneEndpoint
from voice.calls.history import SegmentKind

if TYPE_CHECKING:
    from voice.calls.acd import AcdGlue
    from voice.calls.cdr import CallRecords
    from voice.calls.consult import ConsultService
    from voice.calls.legs import SipLeg
    from voice.calls.sipcore import SipCore
    from voice.calls.table import CallTable
    from voice.media.engine import MediaEngine
    from voice.sip.message import SipRequest

__all__ = ["CallControl", "ControlHost"]


class ControlHost(CallHost, Protocol):
    """What call control needs of the call service (``CallService`` is one)."""

    @property
    def table(self) -> CallTable: ...
    @property
    def core(self) -> SipCore: ...
    @property
    def engine(self) -> MediaEngine: ...
    @property
    def consults(self) -> ConsultService: ...
    @property
    def acd(self) -> AcdGlue: ...
    @property
    def records(self) -> CallRecords: ...

    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                **kw: Any) -> None: ...
    async def music_on_hold(self, leg: SipLeg) -> None: ...


class CallControl:
    def __init__(self, host: ControlHost) -> None:
        self.host = host

    # -- agent controls from the desk (voice/webrtc) ----------------------------------------------

    def agent_hangup(self, call: Call) -> None:
        """The agent hung up in the desk: the caller gets a BYE, the conversation wraps up."""
        if not call.ended and not self.host.consults.agent_left(call):
            self.host.spawn(self.end(call, "agent_hangup"), f"call-{call.id}-agent-hangup", call)

    async def hold(self, call: Call, on: bool) -> None:
        """The agent holds the caller (music on hold; neither side hears the other) or resumes."""
        agent = call.agent
        if call.ended or call.state is not CallState.BRIDGED or agent is None or agent.media is None:
            raise InvalidState("the call is not connected to an agent")
        if call.consult is not None:
            raise InvalidState("the caller is on hold while you consult")
        agent.media.held = on
        call.segment(SegmentKind.HOLD if on else SegmentKind.TALK, self.host.now())
        if on:
            await self.host.music_on_hold(call.caller)
        else:
            call.caller.media.stop_play()

    # -- ending -----------------------------------------------------------------------------------

    async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None,
                  hangup_agent: bool = True, close_conversation: bool = True) -> None:
        h = self.host
        if call.ended:
            return
        was = call.state
        call.state = CallState.ENDED
        call.end_reason = reason
        call.ended_at = h.now()
        call.history.close(call.ended_at)
        call.cancelled.set()
        await h.consults.call_ending(call)
        if call.ivr is not None:
            call.ivr.hung_up()
        if h.transcripts is not None:
            h.transcripts.call_ended(call)  # the last words are flushed and stored
        for ep in list(call.ringing.values()):
            await ep.cancel()
        if hangup_caller is None:
            hangup_caller = reason != "caller_hangup"
        media_now = h.engine.now()
        if call.recorder is not None:
            call.recorder.stop(media_now)
        waits: list[Coroutine[Any, Any, Any]] = []
        if call.agent is not None and hangup_agent:
            waits.append(call.agent.hangup())
        elif call.agent is not None and call.agent.media is not None:
            call.agent.media.close()
        if isinstance(call.agent, SipPhoneEndpoint):
            h.table.forget_agent_leg(call.agent.call_id)
        if hangup_caller and was is not CallState.SETUP:
            waits.append(self._bye_caller(call))
        elif hangup_caller and was is CallState.SETUP:
            h.respond(call.invite, 480, call.caller.transport, "Temporarily Unavailable", to_tag=call.local_tag)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        if call.caller.media is not None:
            call.caller.media.close()
        h.table.remove(call)
        await h.acd.release(call, reason, close_conversation)
        await h.records.call_ended(call)

    async def _bye_caller(self, call: Call) -> None:
        leg = call.caller
        if leg.dialog is None or leg.ended:
            return
        leg.ended = True
        bye = leg.dialog.bye(self.host.core.via(leg.transport))
        pending = self.host.core.request(bye, leg.addr, leg.transport)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await asyncio.shield(pending.final)
