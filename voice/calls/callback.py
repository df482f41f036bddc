"""Callback requests (VOICE-2 callback node, VOICE-3 "press 1 to be called back", OUT-1).

An IVR ``callback`` node (directly, or from a queue's periodic offer) emits ``RequestCallback``;
the driver hands it to :meth:`CallbackService.request`, which opens a callback task in the inbox:
a ``voice`` conversation marked ``meta.callback`` (the number to call, when it was asked for, the
queue) for the caller's contact, routed by the ACD like any conversation. An automation rule's
``callback`` action opens the same task when it falls due (:meth:`CallbackService.open_task`, called
by ``workflows.automation`` through the ``voice`` port, ``services.ports.voice.callbacks``): one
path for both.

The agent who has it clicks "Call back" (``POST /api/voice/callbacks/{conversation_id}/dial``):

1. the agent's own endpoint rings first (``CallService.endpoint_for``: the browser softphone when
   it is online in the desk, else the registered desk phone) for ``voice_callback_agent_ring_s``;
2. once the agent answers, the customer's number is dialled through the provider trunk
   (``voice_trunk_*``, :class:`~voice.calls.outbound.TrunkEndpoint`, caller id
   ``voice_caller_id``) for ``voice_external_ring_s``;
3. on answer both legs are bridged (a ``voice_calls`` row with direction ``out``, recorded like an
   inbound call when ``voice_recording`` is on); either side's BYE ends the other and closes the
   conversation (wrap-up), closing it in the desk hangs up;
4. every outcome (agent did not answer, answered, busy, no answer, failed, ended with the talk
   time) is a note on the conversation and in ``meta.callback.attempts``.

Without a configured trunk the request is refused with ``no_trunk`` (the desk says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import insert

from hub.errors import HubError, InvalidState, NotFound, ValidationFailed
from hub.security import new_id
from voice.calls.call import Call, CallHost, CallState
from voice.calls.endpoints import RingResult, SipPhoneEndpoint
from voice.calls.history import SegmentKind
from voice.calls.legs import SipLeg
from voice.calls.outbound import Trunk, TrunkEndpoint, TrunkError
from voice.calls.settings import VoiceSettings
from voice.calls.tables import calls as t_calls
from voice.media.recorder import CallRecorder

if TYPE_CHECKING:
    from hub.app import Services
    from hub.services.auth import User
    from voice.calls.endpoints import AgentEndpoint
    from voice.calls.sipcore import SipCore
    from voice.media.engine import MediaEngine
    from voice.media.prompts import PromptCache

__all__ = ["CallbackHost", "CallbackService", "NoTrunk", "NoAgentPhone"]

log = logging.getLogger(__name__)

OUTCOME_TEXT = {
    RingResult.DECLINED: "busy", RingResult.NO_ANSWER: "no answer", RingResult.CANCELLED: "cancelled",
    RingResult.FAILED: "failed",
}


class NoTrunk(HubError):
    code, status, title = "no_trunk", 409, "No outbound trunk"


class NoAgentPhone(HubError):
    code, status, title = "no_agent_phone", 409, "No phone to ring"


class CallbackBusy(HubError):
    code, status, title = "callback_in_progress", 409, "Callback in progress"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


class CallbackHost(CallHost, Protocol):
    """What placing a callback needs of the call service (``CallService`` is one)."""

    @property
    def trunk(self) -> Trunk | None: ...
    @property
    def core(self) -> SipCore: ...
    @property
    def engine(self) -> MediaEngine: ...
    @property
    def media_address(self) -> str: ...
    @property
    def prompts(self) -> PromptCache: ...

    def now(self) -> float: ...
    def endpoint_for(self, agent_id: str, call: Call | None = None) -> AgentEndpoint | None: ...
    def track_agent_leg(self, call: Call, ep: SipPhoneEndpoint) -> None: ...
    def forget_agent_leg(self, call_id: str) -> None: ...
    def adopt(self, call: Call) -> None: ...


class CallbackService:
    def __init__(self, services: Services, calls: CallbackHost) -> None:
        self.services = services
        self.settings = services.settings
        self.voice = services.settings.section(VoiceSettings)
        self.calls = calls
        self._dialing: dict[str, asyncio.Task[Any]] = {}  # conversation id → dial task
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stats = {"requested": 0, "dialled": 0, "answered": 0}

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the request, from the IVR -----------------------------------------------------------------

    async def request(self, call: Call, number: str, queue_id: str | None) -> str:
        """Open the callback task for ``number`` (asked during ``call``); returns its id."""
        cid = await self.open_task(
            number, queue_id=queue_id, fallback_queue_id=call.queue_id,
            identity={"phone": call.caller_number, "name": call.caller_name or call.caller_number},
            requested_by_text=call.caller_number,
            origin={"call_id": call.id, "call_conversation_id": call.conversation_id},
            meta={"caller": call.caller_number, "callee": call.callee})
        log.info("call %s: callback to %s requested: conversation %s", call.id, number, cid)
        return cid

    async def open_task(self, number: str, *, queue_id: str | None, identity: dict[str, Any],
                        requested_by_text: str, origin: dict[str, Any], note: str | None = None,
                        fallback_queue_id: str | None = None, meta: dict[str, Any] | None = None,
                        conversation_id: str | None = None) -> str:
        """Open a callback task in the inbox without a live call (the IVR and automation rules use
        it): a ``voice`` conversation for the contact found by ``identity`` (``phone``/``name``),
        ``meta.callback`` = the number, when, the queue, ``status: requested`` and ``origin``'s keys
        (e.g. ``call_id`` or ``rule_id``), routed by the ACD. The queue is the first of
        ``queue_id``, ``fallback_queue_id``, ``voice_default_queue``, ``widget_default_queue``, the
        first queue that exists. ``note`` is appended to the first message. Returns the
        conversation id (stored and queued: if routing fails the ACD picks it up on restart).
        ``conversation_id`` makes it idempotent: a caller retrying after a crash passes the id it
        chose before, and a task already opened under it is returned as it is."""
        number = str(number or "").strip()
        if not number:
            raise ValidationFailed("a callback needs a number to call")
        conv = self.services.conversations
        if conversation_id is not None:
            with contextlib.suppress(NotFound):
                await conv.row(conversation_id)
                log.info("callback task %s was opened before: not opened again", conversation_id)
                return conversation_id
        queues = conv.queue_names
        queue = next((q for q in (queue_id, fallback_queue_id, self.voice.default_queue,
                                  self.settings.widget_default_queue, next(iter(queues), None))
                      if q and q in queues), None)
        if queue is None:
            raise ValidationFailed("no queue exists to put the callback task in")
        now = self.services.clock.now()
        text = f"Callback requested by {requested_by_text} on {_when(now)}: please call {number}."
        if note:
            text = f"{text} {note}"
        row = await conv.open(
            channel="voice", queue_id=queue, identity=identity, subject=f"Call back {number}",
            first_message=text, conversation_id=conversation_id,
            meta={**(meta or {}),
                  "callback": {"number": number, "requested_at": now, "queue_id": queue, **origin,
                               "status": "requested", "attempts": []}})
        self.stats["requested"] += 1
        log.info("callback to %s requested by %s: conversation %s in queue %s", number, requested_by_text,
                 row.id, queue)
        try:
            await self.services.routing.enqueue(row)
        except Exception:  # noqa: BLE001 - stored and queued: the ACD picks it up on restart
            log.exception("callback conversation %s stored but not routed", row.id)
        return str(row.id)

    # -- the agent's click -------------------------------------------------------------------------

    async def dial(self, cid: str, user: User) -> dict[str, Any]:
        """Ring the agent, then the customer (see the module doc). Returns at once."""
        conv = self.services.conversations
        row = await conv.row(cid)
        conv.require_view(user, row)
        cb = (row.meta or {}).get("callback")
        if not isinstance(cb, dict) or not cb.get("number"):
            raise NotFound("this conversation is not a callback request")
        svc = self.calls
        if svc.trunk is None:
            raise NoTrunk("no outbound trunk is configured (settings voice_trunk_uri …): "
                          "the customer cannot be called from here")
        conv.require_handler(user, row)
        number = str(cb["number"])
        if not svc.trunk.dialable(number):
            raise ValidationFailed(f"{number} is not a number the trunk may dial (voice_external_pattern)")
        if cid in self._dialing:
            raise CallbackBusy("this callback is already being placed")
        call = self._call(cid, number, user)
        ep = svc.endpoint_for(user.id, call)
        assigned = getattr(ep, "assigned", None)
        if ep is not None and isinstance(assigned, asyncio.Event):
            assigned.set()  # a softphone answers at once: the agent already has the conversation
        if ep is None:
            raise NoAgentPhone("neither your softphone nor a desk phone is online to place the call from")
        await self._note(cid, cb, "dialling", f"Calling back {number}: ringing {user.display_name} first.")
        task = self._spawn(self._dial_logged(cid, number, user, ep, call), f"callback-{cid}")
        self._dialing[cid] = task

        def done(t: asyncio.Task[Any]) -> None:
            if self._dialing.get(cid) is t:
                del self._dialing[cid]
        task.add_done_callback(done)
        return {"conversation_id": cid, "number": number, "status": "dialling"}

    def _call(self, cid: str, number: str, user: User) -> Call:
        """The call as the B2BUA sees it: ``caller`` becomes the trunk leg once the customer
        answers; ``agent`` is the agent's endpoint. Not linked to the conversation (ending it
        closes nothing in the inbox: the agent wraps up the callback task themselves)."""
        svc = self.calls
        placeholder = SipLeg("external", "UDP", ("0.0.0.0", 0), None, svc.media_address)  # type: ignore[arg-type]  # no media yet
        now = svc.now()
        return Call(id=new_id(), invite=None, server_key=None, caller=placeholder,  # type: ignore[arg-type]  # hub-placed: no INVITE
                    local_tag="", caller_number=number, caller_name=f"Call back {number}",
                    callee=number, source="trunk", started_at=now, state=CallState.ANSWERED,
                    queue_id=None, agent_id=user.id)

    async def _dial_logged(self, cid: str, number: str, user: User, agent_ep: Any, call: Call) -> None:
        try:
            await self._dial(cid, number, user, agent_ep, call)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the outcome is noted, the service goes on
            log.exception("callback %s to %s failed", cid, number)
            with contextlib.suppress(Exception):
                await agent_ep.hangup()
            await self._outcome(cid, "failed", f"Call back {number}: failed (internal error, see the log).")

    async def _dial(self, cid: str, number: str, user: User, agent_ep: Any, call: Call) -> None:
        svc = self.calls
        st = self.voice
        assert svc.trunk is not None
        self.stats["dialled"] += 1
        if isinstance(agent_ep, SipPhoneEndpoint):
            svc.track_agent_leg(call, agent_ep)
        try:
            result = await agent_ep.ring(number, f"Call back {number}", st.callback_agent_ring_s)
        except Exception:  # noqa: BLE001
            log.exception("callback %s: ringing the agent failed", cid)
            result = RingResult.FAILED
        if result is not RingResult.ANSWERED:
            if isinstance(agent_ep, SipPhoneEndpoint):
                svc.forget_agent_leg(agent_ep.call_id)
            await self._outcome(cid, "agent_no_answer",
                                f"Call back {number} not placed: {user.display_name}'s phone did not answer "
                                f"({result.value}).")
            return
        call.agent = agent_ep
        trunk_ep: TrunkEndpoint | None = None
        outcome = RingResult.FAILED
        try:
            target = await svc.trunk.target_for(number)
            trunk_ep = TrunkEndpoint(number, svc.trunk, target, svc.core, svc.engine, svc.media_address)
            svc.track_agent_leg(call, trunk_ep)
            media = agent_ep.media
            if media is not None and not media.closed:
                ringing = trunk_ep
                media.on_close.append(lambda: self._spawn(ringing.cancel(), f"callback-{cid}-cancel"))
                with contextlib.suppress(Exception):  # the agent hears the hold melody while it rings
                    prompt = await asyncio.to_thread(svc.prompts.get, st.moh_file or "builtin:moh",
                                                     media.codec)
                    media.play(prompt, loop=True)
            outcome = await trunk_ep.ring(svc.trunk.caller_id or number, None, st.external_ring_s)
        except TrunkError as err:
            log.warning("callback %s: %s", cid, err)
        if trunk_ep is not None:
            svc.forget_agent_leg(trunk_ep.call_id)
        if outcome is not RingResult.ANSWERED or trunk_ep is None or trunk_ep.leg is None \
                or agent_ep.media is None or agent_ep.media.closed:
            if outcome is RingResult.ANSWERED and trunk_ep is not None:
                await trunk_ep.hangup()
                outcome = RingResult.CANCELLED  # the agent hung up while the customer's phone rang
            if isinstance(agent_ep, SipPhoneEndpoint):
                svc.forget_agent_leg(agent_ep.call_id)
            await agent_ep.hangup()
            text = OUTCOME_TEXT.get(outcome, outcome.value)
            await self._outcome(cid, text.replace(" ", "_"), f"Call back {number}: {text}.")
            return
        # answered: bridge the agent and the customer; either BYE ends the other (CallService.end)
        self.stats["answered"] += 1
        leg = trunk_ep.leg
        call.caller = leg
        assert leg.dialog is not None and trunk_ep.media is not None
        # from now on the callback is a call of this conversation like an inbound one: recorded
        # (customer left, agent right), closed (wrap-up) when either side hangs up, hung up when
        # the agent closes the conversation in the desk
        call.conversation_id = cid
        svc.adopt(call)
        now = svc.now()
        call.answered_at = call.connected_at = now
        call.state = CallState.BRIDGED
        call.segment(SegmentKind.TALK, now, agent_id=call.agent_id)
        agent_ep.media.stop_play()
        if st.recording:
            call.recorder = CallRecorder(svc.engine.now())
            trunk_ep.media.recorder = call.recorder
        trunk_ep.media.bridge(agent_ep.media)
        if svc.transcripts is not None:  # live transcription of both sides, as for inbound calls
            svc.transcripts.leg_started(call, "caller", trunk_ep.media)
            svc.transcripts.leg_started(call, "agent", agent_ep.media, user.id)
        async with self.services.db.tx() as tx:
            await tx.conn.execute(insert(t_calls).values(
                id=call.id, conversation_id=cid, sip_call_id=trunk_ep.call_id[:255], direction="out",
                source="trunk", caller=svc.trunk.caller_id or user.display_name, callee=number,
                queue_id=None, agent_id=user.id, started_at=call.started_at, answered_at=now,
                connected_at=now))
        await self._outcome(cid, "answered", f"Call back {number}: answered, connected to {user.display_name}.",
                            final=False)
        await call.cancelled.wait()  # set by CallService.end on either side's BYE
        talk = max(0.0, (call.ended_at or svc.now()) - now)
        mins, secs = divmod(int(round(talk)), 60)
        await self._outcome(cid, "answered", f"Call back {number} ended after {mins}:{secs:02d}.", talk_s=talk)

    async def _outcome(self, cid: str, outcome: str, text: str, *, final: bool = True,
                       talk_s: float | None = None) -> None:
        try:
            row = await self.services.conversations.row(cid)
            cb = dict((row.meta or {}).get("callback") or {})
            attempt = {"at": self.services.clock.now(), "outcome": outcome}
            if talk_s is not None:
                attempt["talk_s"] = round(talk_s, 1)
            if final:
                cb["attempts"] = [*cb.get("attempts", []), attempt]
            await self._note(cid, cb, "done" if outcome == "answered" and final else
                             ("connected" if not final else "failed"), text, outcome=outcome)
        except HubError as err:
            log.warning("callback %s: outcome %s not noted: %s", cid, outcome, err)

    async def _note(self, cid: str, cb: dict[str, Any], status: str, text: str, *,
                    outcome: str | None = None) -> None:
        conv = self.services.conversations
        row = await conv.row(cid)
        cb = {**((row.meta or {}).get("callback") or {}), **cb, "status": status}
        if outcome is not None:
            cb["last_outcome"] = outcome
        await conv.set_meta(cid, "callback", cb)  # the meta only: the status may change meanwhile
        try:
            await conv.add_message(cid, sender="system", kind="system", body=text, sender_name="Voice")
        except InvalidState:  # closed meanwhile: keep the outcome as a note
            await conv.add_message(cid, sender="system", kind="note", body=text, sender_name="Voice")

    def status(self, cid: str) -> bool:
        return cid in self._dialing


def register_api(api: Any, component: Any) -> None:
    """``POST /api/voice/callbacks/{conversation_id}/dial`` (desk): place the callback."""
    from starlette.requests import Request
    from starlette.responses import Response

    import voice.calls.schemas as S
    from hub.api.http import json_response, require

    @api.add("/api/voice/callbacks/{conversation_id}/dial", "POST",
             "Place a requested callback: ring the agent's phone, then the customer through the trunk",
             tag="voice", status=202, response=S.CallbackDialling, access="desk")
    async def dial_callback(request: Request) -> Response:
        user = await require(request, "desk")
        callbacks = component().callbacks
        if callbacks is None:
            raise NoTrunk("the voice service is not running (voice_enabled is off): no callback can be placed")
        result = await callbacks.dial(request.path_params["conversation_id"], user)
        return json_response(result, status=202)
