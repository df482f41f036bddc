"""Consulted (attended) transfer and three-way conference (VOICE-4, agent side).

While an agent talks to a caller, the agent *consults* another agent, a queue (a ready member of
it) or an external number (through the trunk, :mod:`voice.calls.outbound`). The caller hears
music on hold; the agent talks to the consulted party on a second leg. Then:

- **complete**: the caller is bridged to the consulted party, the agent's legs end; the
  conversation goes to the consulted agent (``routing.transfer`` to that agent, accepted on
  their behalf) or, for an external number, is closed for the agent with a note;
- **conference**: the three legs are mixed (:mod:`voice.calls.conference`); whoever hangs up,
  the other two stay connected (the agent leaving = complete; the caller leaving = the agent and
  the third party stay bridged until one of them hangs up);
- **cancel**: the consulted party is hung up and the caller is back with the agent.
A consulted party who does not answer or declines brings the agent back to the caller too.
An agent who hangs up while talking to the consulted party completes the transfer (as a PBX's
attended transfer by hang-up does).

Two ways in:

- the browser softphone (``POST /api/voice/softphone/legs/{leg}/consult`` …, voice/webrtc): the
  agent's one WebRTC leg is switched between the caller and the consulted party;
- a SIP desk phone: the phone holds the caller (re-INVITE), dials the target through the hub
  (an authenticated INVITE from the agent's account while the agent has a call: the target is
  an agent's SIP account name, a queue id or name, ``queue-<id>``, or an external number), and
  completes with ``REFER`` carrying ``Replaces`` (RFC 3891 / RFC 5589) naming that consult dialog;
  hanging up the consult dialog cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

import voice.calls.store as store
from hub.errors import HubError, InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from voice.calls.call import Call, CallHost, CallState
from voice.calls.conference import ConferenceMixer
from voice.calls.endpoints import ALLOW, AgentEndpoint, RingResult, SipPhoneEndpoint
from voice.calls.history import SegmentKind
from voice.calls.legs import SipLeg
from voice.calls.outbound import TrunkEndpoint, TrunkError
from voice.calls.settings import VoiceSettings
from voice.calls.targets import queue_for
from voice.media.leg import MediaLeg
from voice.sip.dialog import Dialog
from voice.sip.errors import DialogError, NoCommonCodec, SipError
from voice.sip.message import SipRequest, SipResponse, new_tag
from voice.sip.transaction import Address, TransactionKey

if TYPE_CHECKING:
    from voice.calls.inbound import InboundCalls
    from voice.calls.outbound import Trunk
    from voice.calls.registrar import Account, Registrar
    from voice.calls.sipcore import SipCore
    from voice.media.engine import MediaEngine

__all__ = ["ConsultHost", "ConsultService", "ConsultState", "Consultation"]

log = logging.getLogger(__name__)

CONSULT_RING_S = 30.0
BYE_GRACE_S = 3.0


class ConsultState(StrEnum):
    RINGING = "ringing"
    TALKING = "talking"
    CONFERENCE = "conference"
    ENDED = "ended"


@dataclass(eq=False)
class DeskLeg:
    """The desk phone's consult dialog (the phone called the hub: the hub is the UAS)."""

    leg: SipLeg
    invite: SipRequest
    key: TransactionKey | None
    local_tag: str
    cancelled: bool = False


@dataclass(eq=False)
class Consultation:
    id: str
    call: Call
    agent_id: str
    kind: str  # agent | queue | external
    target: str  # agent id, queue id or number
    label: str  # for people: the agent's name, the queue's name, the number
    agent_media: MediaLeg  # the consulting agent's side of the consult leg
    state: ConsultState = ConsultState.RINGING
    party: AgentEndpoint | None = None
    party_agent_id: str | None = None
    ringing: list[AgentEndpoint] = field(default_factory=list)
    desk: DeskLeg | None = None
    mixer: ConferenceMixer | None = None
    cancel_requested: bool = False
    outcome: str | None = None  # completed | conference_left | cancelled | no_answer | declined | failed

    def public(self) -> dict[str, Any]:
        return {"consult_id": self.id, "call_id": self.call.id, "kind": self.kind, "target": self.target,
                "label": self.label, "state": str(self.state), "party_agent_id": self.party_agent_id}


class ConsultHost(CallHost, Protocol):
    """What a consultation needs of the call service it belongs to (see ``CallHost``)."""

    @property
    def calls(self) -> dict[str, Call]: ...
    @property
    def core(self) -> SipCore: ...
    @property
    def engine(self) -> MediaEngine: ...
    @property
    def registrar(self) -> Registrar: ...
    @property
    def media_address(self) -> str: ...
    @property
    def trunk(self) -> Trunk | None: ...
    @property
    def inbound(self) -> InboundCalls: ...  # its routes: the queues' extensions

    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    def respond(self, request: SipRequest, status: int, transport: str, reason: str | None = None,
                **kw: Any) -> None: ...
    def endpoint_for(self, agent_id: str, call: Call | None = None) -> AgentEndpoint | None: ...
    async def music_on_hold(self, leg: SipLeg) -> None: ...
    def notify_refer(self, leg: SipLeg, status: str) -> None: ...
    def track_agent_leg(self, call: Call, ep: SipPhoneEndpoint) -> None: ...
    def forget_agent_leg(self, call_id: str) -> None: ...


class ConsultService:
    def __init__(self, calls: ConsultHost) -> None:
        self.calls = calls
        self.services = calls.services
        self._desk: dict[tuple[str, str], Consultation] = {}  # (Call-ID, our tag) of desk consult dialogs
        self._desk_pending: dict[TransactionKey, Consultation] = {}
        self._pending_accept: dict[str, str] = {}  # conversation id → agent to accept for
        self._pairs: set[tuple[AgentEndpoint, AgentEndpoint]] = set()  # left bridged after the caller left
        self.stats = {"consults": 0, "consult_transfers": 0, "conferences": 0}

    # -- helpers -----------------------------------------------------------------------------------

    def _spawn(self, coro: Any, name: str, call: Call | None = None) -> None:
        self.calls.spawn(coro, name, call)

    def _push(self, c: Consultation | None, call: Call, *, event: str = "softphone_state",
              extra: dict[str, Any] | None = None) -> None:
        """Tell the agent's browser (when the agent is on the softphone) what changed."""
        ep = call.agent
        sp = getattr(ep, "softphones", None)
        if sp is None or ep is None:
            return
        data = {**ep.public(), **(extra or {})}  # type: ignore[attr-defined]  # a softphone endpoint
        self._spawn(sp.notify(ep.agent_id, event, data), f"consult-push-{call.id}")

    def for_call(self, call: Call) -> Consultation | None:
        c = getattr(call, "consult", None)
        return c if isinstance(c, Consultation) and c.state is not ConsultState.ENDED else None

    async def _resolve(self, call: Call, agent_id: str, kind: str, target: str) -> tuple[str, list[AgentEndpoint]]:
        """The target's label and the endpoints to ring. Raises a :class:`HubError`."""
        svc = self.calls
        busy = {c.agent_id for c in svc.calls.values() if not c.ended and c.agent_id}
        busy |= {c.party_agent_id for c in (self.for_call(x) for x in svc.calls.values()) if c and c.party_agent_id}
        if kind == "agent":
            if target == agent_id:
                raise ValidationFailed("you cannot consult yourself")
            try:
                user = await self.services.auth.get_user(target)
            except HubError as err:
                raise NotFound(f"no agent {target}") from err
            if not user.is_agent:
                raise ValidationFailed(f"{user.display_name} does not take calls")
            if target in busy:
                raise InvalidState(f"{user.display_name} is on another call", code="consult_target_busy")
            ep = svc.endpoint_for(target, call)
            if ep is None:
                raise InvalidState(f"{user.display_name} has neither the softphone online nor a desk phone registered",
                                   code="consult_target_unreachable")
            return user.display_name, [ep]
        if kind == "queue":
            names = self.services.conversations.queue_names
            if target not in names:
                raise NotFound(f"no queue {target}")
            queue = await self.services.directory.get_queue(target)
            members = set(queue.get("members") or ())
            required = dict(queue.get("required_skills") or {})
            routing = self.services.routing
            eps: list[AgentEndpoint] = []
            for uid in sorted(routing.agent_ids):
                if uid == agent_id or uid in busy or (members and uid not in members):
                    continue
                if routing.agent_state(uid)["state"] != "ready":
                    continue
                with contextlib.suppress(HubError):
                    user = await self.services.auth.get_user(uid)
                    if any(user.skills.get(s, 0) < lvl for s, lvl in required.items()):
                        continue
                    ep = svc.endpoint_for(uid, call)
                    if ep is not None:
                        eps.append(ep)
            if not eps:
                raise InvalidState(f"no agent of queue {names[target]} is ready to take a consultation",
                                   code="consult_target_unreachable")
            return names[target], eps
        if kind == "external":
            trunk = svc.trunk
            if trunk is None:
                raise InvalidState("no provider trunk is configured (voice_trunk_uri)",
                                   code="consult_target_unreachable")
            if not trunk.dialable(target):
                raise ValidationFailed(f"{target} is not a number the trunk may dial (voice_external_pattern)")
            try:
                dest = await trunk.target_for(target)
            except TrunkError as err:
                raise InvalidState(str(err), code="consult_target_unreachable") from err
            return target, [TrunkEndpoint(target, trunk, dest, svc.core, svc.engine, svc.media_address)]
        raise ValidationFailed("kind must be agent, queue or external")

    # -- start (softphone) ------------------------------------------------------------------------

    async def start(self, call: Call, agent_id: str, kind: str, target: str) -> Consultation:
        """The agent (on the softphone: its media is the call's agent leg) consults ``target``."""
        agent = call.agent
        if call.ended or call.state is not CallState.BRIDGED or call.agent_id != agent_id or agent is None \
                or agent.media is None or call.external:
            raise InvalidState("the call is not connected to you")
        if self.for_call(call) is not None:
            raise InvalidState("a consultation is already going on", code="consult_in_progress")
        label, eps = await self._resolve(call, agent_id, kind, target)
        if call.ended or self.for_call(call) is not None:
            raise InvalidState("the call changed while the consultation was being set up")
        c = Consultation(new_id(), call, agent_id, kind, target, label, agent.media)
        call.consult = c
        call.segment(SegmentKind.CONSULT, self.calls.now(), party=label)
        self.stats["consults"] += 1
        agent.media.held = False
        call.caller.media.unbridge()
        await self.calls.music_on_hold(call.caller)
        await self._note(call, f"Consultation with {kind} {label} started")
        self._spawn(self._ring(c, eps), f"consult-{c.id}-ring", call)
        return c

    async def _ring(self, c: Consultation, eps: list[AgentEndpoint]) -> None:
        call = c.call
        svc = self.calls
        c.ringing = list(eps)
        ring_s = svc.settings.section(VoiceSettings).external_ring_s if c.kind == "external" else CONSULT_RING_S
        number = (svc.trunk.caller_id if c.kind == "external" and svc.trunk else "") or call.caller_number
        for ep in eps:
            if isinstance(ep, SipPhoneEndpoint):
                svc.track_agent_leg(call, ep)
            assigned = getattr(ep, "assigned", None)
            if assigned is not None:  # a browser answers at once: no ACD assignment to wait for
                assigned.set()
                ep.consulted_by = c.agent_id  # type: ignore[attr-defined]  # a softphone endpoint
        tasks = {asyncio.get_running_loop().create_task(ep.ring(number, call.caller_name, ring_s)): ep for ep in eps}
        winner: AgentEndpoint | None = None
        results: list[RingResult] = []
        try:
            pending = set(tasks)
            while pending and winner is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    res = t.result() if not t.cancelled() and t.exception() is None else RingResult.FAILED
                    results.append(res)
                    if res is RingResult.ANSWERED and winner is None:
                        winner = tasks[t]
                    elif res is RingResult.ANSWERED:
                        await tasks[t].hangup()
            for t in pending:
                await tasks[t].cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        except asyncio.CancelledError:  # the call's tasks are being cancelled: stop ringing too
            for t, ep in tasks.items():
                if not t.done():
                    await ep.cancel()
                    t.cancel()
            raise
        finally:
            c.ringing = []
        for t, ep in tasks.items():
            if ep is not winner:
                if isinstance(ep, SipPhoneEndpoint):
                    svc.forget_agent_leg(ep.call_id)
                if t.done() and not t.cancelled() and t.exception() is None and t.result() is RingResult.ANSWERED:
                    await ep.hangup()
        if winner is None or winner.media is None or c.cancel_requested or call.ended \
                or c.state is not ConsultState.RINGING:
            if winner is not None:
                await winner.hangup()
                if isinstance(winner, SipPhoneEndpoint):
                    svc.forget_agent_leg(winner.call_id)
            outcome = "cancelled" if c.cancel_requested else \
                "declined" if RingResult.DECLINED in results else "no_answer"
            await self._back_to_caller(c, outcome)
            return
        c.party = winner
        c.party_agent_id = None if c.kind == "external" else winner.agent_id
        c.state = ConsultState.TALKING
        winner.media.stop_play()
        if c.desk is not None:
            self._desk_answered(c)
        c.agent_media.stop_play()
        c.agent_media.bridge(winner.media)
        winner.media.on_close.append(lambda: self._party_closed(c))
        if c.party_agent_id is not None:
            self._occupy(c.party_agent_id, f"consult:{c.id}", winner.media)
        log.info("call %s: agent %s consults %s %s", call.id, c.agent_id, c.kind, c.target)
        self._push(c, call)

    def _occupy(self, agent_id: str, key: str, media: MediaLeg) -> None:
        """The consulted agent is on a call the ACD did not route: their voice slot is taken
        until their leg closes (a cancel, the end of a conference) or the call becomes theirs
        (:meth:`_reassign`), so no queued call is offered to them meanwhile."""
        routing = self.services.routing
        self._spawn(routing.occupy(agent_id, key), f"{key}-occupy")
        media.on_close.append(lambda: self._spawn(routing.vacate(agent_id, key), f"{key}-vacate"))

    def _party_closed(self, c: Consultation) -> None:
        if c.state in (ConsultState.TALKING, ConsultState.CONFERENCE) and c.party is not None:
            self._spawn(self._party_left(c), f"consult-{c.id}-party-left", c.call)

    async def _party_left(self, c: Consultation) -> None:
        if c.state is ConsultState.CONFERENCE:
            await self._back_to_caller(c, "party_left")
        elif c.state is ConsultState.TALKING:
            await self._back_to_caller(c, "party_hangup")

    async def _back_to_caller(self, c: Consultation, outcome: str) -> None:
        """The consultation is over without a transfer: the caller is back with the agent."""
        call = c.call
        was = c.state
        c.state = ConsultState.ENDED
        c.outcome = outcome
        if c.mixer is not None:
            await c.mixer.stop()
            c.mixer = None
        party, c.party = c.party, None
        if party is not None:
            if party.media is not None:
                party.media.unbridge()
            await party.hangup()
            if isinstance(party, SipPhoneEndpoint):
                self.calls.forget_agent_leg(party.call_id)
        if getattr(call, "consult", None) is c:
            call.consult = None
        if call.ended:
            return
        # the desk phone still holds the caller until it resumes it (re-INVITE: talking again)
        call.segment(SegmentKind.HOLD if c.desk is not None else SegmentKind.TALK, self.calls.now(),
                     reason=f"consult_{outcome}")
        if c.desk is not None:
            # the desk phone resumes the caller itself (re-INVITE); its consult dialog ends
            await self._end_desk(c, 486 if outcome in ("declined", "failed") else 480)
        else:
            agent_media = c.agent_media
            if not agent_media.closed and call.agent is not None:
                agent_media.unbridge()
                call.caller.media.stop_play()
                call.caller.media.bridge(agent_media)
        await self._note(call, f"Consultation with {c.kind} {c.label} ended ({outcome.replace('_', ' ')})"
                         if was is not ConsultState.RINGING else
                         f"Consultation with {c.kind} {c.label} failed ({outcome.replace('_', ' ')})")
        self._push(None, call, extra={"consult": None, "consult_outcome": outcome})

    # -- the agent's actions ----------------------------------------------------------------------

    async def cancel(self, call: Call) -> None:
        c = self.for_call(call)
        if c is None:
            raise InvalidState("no consultation is going on", code="no_consultation")
        if c.state is ConsultState.RINGING:
            c.cancel_requested = True
            for ep in list(c.ringing):
                await ep.cancel()
            return
        c.cancel_requested = True
        await self._back_to_caller(c, "cancelled")

    async def conference(self, call: Call) -> Consultation:
        c = self.for_call(call)
        if c is None or c.party is None or c.party.media is None:
            raise InvalidState("the consulted party has not answered", code="no_consultation")
        if c.state is ConsultState.CONFERENCE:
            return c
        if c.desk is not None:
            raise InvalidState("a desk phone joins a conference on the phone itself")
        call.caller.media.stop_play()
        c.state = ConsultState.CONFERENCE
        call.segment(SegmentKind.CONFERENCE, self.calls.now(), party=c.label)
        c.mixer = ConferenceMixer([call.caller.media, c.agent_media, c.party.media], on_leave=lambda leg: None)
        c.mixer.start()
        self.stats["conferences"] += 1
        await self._note(call, f"Conference with the caller and {c.kind} {c.label}")
        self._push(c, call)
        return c

    async def complete(self, call: Call, *, refer_leg: SipLeg | None = None) -> None:
        """Caller ↔ consulted party; the agent's legs end."""
        c = self.for_call(call)
        if c is None or c.party is None or c.party.media is None or c.state is ConsultState.RINGING:
            raise InvalidState("the consulted party has not answered", code="no_consultation")
        svc = self.calls
        party = c.party
        assert party.media is not None
        old, old_id = call.agent, call.agent_id
        c.state = ConsultState.ENDED
        c.outcome = "completed"
        if c.mixer is not None:
            await c.mixer.stop()
            c.mixer = None
        call.consult = None
        c.agent_media.unbridge()
        party.media.unbridge()
        call.caller.media.unbridge()
        call.caller.media.stop_play()
        party.media.stop_play()
        call.caller.media.bridge(party.media)
        call.transferring = True
        call.agent = party
        if getattr(party, "consulted_by", None):
            party.consulted_by = None  # type: ignore[attr-defined]  # the call is theirs now
        call.agent_id = c.party_agent_id or old_id
        if c.kind == "external":
            call.external = c.target
        call.segment(SegmentKind.EXTERNAL if c.kind == "external" else SegmentKind.TALK, svc.now(),
                     party=c.label if c.kind == "external" else None, reason="consult_transfer")
        if svc.transcripts is not None:
            svc.transcripts.leg_stopped(call, "agent")
            if c.party_agent_id:
                svc.transcripts.leg_started(call, "agent", party.media, c.party_agent_id)
        self.stats["consult_transfers"] += 1
        try:
            await self._reassign(call, c, old_id)
        finally:
            call.transferring = False
        if refer_leg is not None:
            svc.notify_refer(refer_leg, "200 OK")
        # the agent's legs end: the browser leg now; a desk phone hangs up itself after the NOTIFY
        if old is not None and old is not party:
            self._spawn(self._retire_agent(old, c, refer_leg), f"consult-{c.id}-retire", None)
        self._push_endpoint(party)
        await store.update_call(svc.services, call.id, agent_id=call.agent_id)
        log.info("call %s: consulted transfer from %s to %s %s", call.id, old_id, c.kind, c.target)

    async def _retire_agent(self, old: AgentEndpoint, c: Consultation, refer_leg: SipLeg | None) -> None:
        if refer_leg is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BYE_GRACE_S):
                    while not refer_leg.ended or (c.desk is not None and not c.desk.leg.ended):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
        await old.hangup()
        if isinstance(old, SipPhoneEndpoint):
            self.calls.forget_agent_leg(old.call_id)
        if c.desk is not None:
            await self._end_desk(c, None)

    async def _reassign(self, call: Call, c: Consultation, old_id: str | None) -> None:
        cid = call.conversation_id
        if cid is None or old_id is None:
            return
        conv = self.services.conversations
        try:
            by = await self.services.auth.get_user(old_id)
            if c.kind == "external":
                await conv.add_message(cid, sender="system", kind="system", sender_name="Voice",
                                       body=f"Call transferred (consulted) to the external number {c.target}.")
                await conv.close(cid, by=by, reason="transferred_external")
                return
            assert c.party_agent_id is not None
            routing = self.services.routing
            await routing.transfer(cid, by, agent_id=c.party_agent_id, vacates=f"consult:{c.id}",
                                   note=f"Call transferred after a consultation with {c.label}")
            if any(oc == cid for oc, _ in routing.offers_for(c.party_agent_id)):
                await routing.accept(cid, await self.services.auth.get_user(c.party_agent_id))
            else:  # the agent is not ready in the ACD yet: accepted as soon as it offers
                self._pending_accept[cid] = c.party_agent_id
        except HubError as err:
            log.info("call %s: conversation not reassigned after the consulted transfer: %s", call.id, err)

    async def on_hub_event(self, ev: Event) -> None:
        if ev.type is EventType.CONVERSATION_OFFERED and ev.conversation_id in self._pending_accept \
                and ev.user_id == self._pending_accept[ev.conversation_id]:
            agent_id = self._pending_accept.pop(ev.conversation_id)
            self._spawn(self._accept_later(ev.conversation_id, agent_id), f"consult-accept-{ev.conversation_id}")
        elif ev.type is EventType.CONVERSATION_CLOSED and ev.conversation_id:
            self._pending_accept.pop(ev.conversation_id, None)

    async def _accept_later(self, cid: str, agent_id: str) -> None:
        with contextlib.suppress(HubError):
            await self.services.routing.accept(cid, await self.services.auth.get_user(agent_id))

    # -- hang-ups while consulting (called by the call service) ------------------------------------

    def agent_left(self, call: Call) -> bool:
        """The agent hung up. Talking to the party or in conference: the caller goes to the party
        (True: handled). Still ringing: the consultation is dropped and the call ends (False)."""
        c = self.for_call(call)
        if c is None:
            return False
        if c.state in (ConsultState.TALKING, ConsultState.CONFERENCE) and c.party is not None and c.desk is None:
            self._spawn(self.complete(call), f"consult-{c.id}-agent-left", call)
            return True
        return False

    def caller_left(self, call: Call) -> None:
        """The caller hung up: an agent talking to (or in conference with) the consulted party
        stays connected to it until one of them hangs up."""
        c = self.for_call(call)
        if c is None or c.party is None or c.party.media is None or c.desk is not None \
                or c.state not in (ConsultState.TALKING, ConsultState.CONFERENCE) or call.agent is None:
            return
        agent, party = call.agent, c.party
        c.state = ConsultState.ENDED
        c.outcome = "caller_left"
        call.consult = None
        mixer, c.mixer = c.mixer, None
        call.agent = None  # the call's end must not hang the agent up
        if isinstance(agent, SipPhoneEndpoint):
            self.calls.forget_agent_leg(agent.call_id)

        async def keep_pair() -> None:
            if mixer is not None:
                await mixer.stop()
            if agent.media is None or agent.media.closed or party.media is None or party.media.closed:
                await agent.hangup()
                await party.hangup()
                return
            call.caller.media.unbridge()
            agent.media.bridge(party.media)
            pair = (agent, party)
            self._pairs.add(pair)

            def one_left() -> None:
                if pair in self._pairs:
                    self._pairs.discard(pair)
                    self._spawn(self._hangup_pair(pair), "consult-pair-end")
            agent.media.on_close.append(one_left)
            party.media.on_close.append(one_left)
            self._push_endpoint(agent)
        self._spawn(keep_pair(), f"consult-{c.id}-caller-left")

    async def _hangup_pair(self, pair: tuple[AgentEndpoint, AgentEndpoint]) -> None:
        for ep in pair:
            await ep.hangup()
            if isinstance(ep, SipPhoneEndpoint):
                self.calls.forget_agent_leg(ep.call_id)

    def _push_endpoint(self, ep: AgentEndpoint) -> None:
        sp = getattr(ep, "softphones", None)
        if sp is not None:
            self._spawn(sp.notify(ep.agent_id, "softphone_state", ep.public()), "consult-push")  # type: ignore[attr-defined]  # softphone

    async def call_ending(self, call: Call) -> None:
        """The call ends for another reason (closed in the desk, shutdown, the agent's desk phone
        hung up on the caller): the consultation goes with it."""
        c = self.for_call(call)
        if c is None:
            return
        c.state = ConsultState.ENDED
        c.outcome = "call_ended"
        call.consult = None
        if c.mixer is not None:
            await c.mixer.stop()
            c.mixer = None
        for ep in list(c.ringing):
            await ep.cancel()
        if c.party is not None:
            await c.party.hangup()
            if isinstance(c.party, SipPhoneEndpoint):
                self.calls.forget_agent_leg(c.party.call_id)
        if c.desk is not None:
            await self._end_desk(c, 480)

    async def stop(self) -> None:
        for pair in list(self._pairs):
            self._pairs.discard(pair)
            await self._hangup_pair(pair)

    # -- notes ------------------------------------------------------------------------------------

    async def _note(self, call: Call, text: str) -> None:
        if call.conversation_id is None:
            return
        try:
            async with self.services.db.tx() as tx:
                await self.services.conversations.insert_message(
                    tx, call.conversation_id, kind="note", sender="system", body=text, sender_name="Voice",
                    queue_id=call.queue_id, assignee_id=call.agent_id)
        except HubError as err:
            log.info("call %s: note not stored: %s", call.id, err)

    # -- desk phones: INVITE to consult, REFER with Replaces to complete -----------------------------

    def desk_invite(self, request: SipRequest, addr: Address, transport: str, key: TransactionKey | None,
                    account: Account) -> bool:
        """An authenticated INVITE from an agent's desk phone while that agent has a call on it:
        a consultation. False: not one (handled as an ordinary inbound call)."""
        uid = account.user_id
        if not uid:
            return False
        svc = self.calls
        call = next((c for c in svc.calls.values() if not c.ended and c.agent_id == uid
                     and c.state is CallState.BRIDGED and isinstance(c.agent, SipPhoneEndpoint)), None)
        if call is None:
            return False
        user = request.request_uri.user or (request.to.uri.user if request.to.uri else "") or ""
        kind, target = self._desk_target(user)
        if kind is None:
            return False
        if self.for_call(call) is not None:
            svc.respond(request, 486, transport, "Busy Here (a consultation is already going on)", to_tag=new_tag())
            return True
        self._spawn(self._desk_setup(call, uid, kind, target, request, addr, transport, key),
                    f"consult-desk-{call.id}", call)
        return True

    def _desk_target(self, user: str) -> tuple[str | None, str]:
        svc = self.calls
        qid = queue_for(user, self.services.conversations.queue_names, svc.inbound.routes)
        if qid is not None:
            return "queue", qid
        acc = svc.registrar.accounts.get(user)
        if acc is not None and acc.user_id:
            return "agent", acc.user_id
        if svc.trunk is not None and svc.trunk.dialable(user):
            return "external", user
        return None, ""

    async def _desk_setup(self, call: Call, uid: str, kind: str, target: str, request: SipRequest,
                          addr: Address, transport: str, key: TransactionKey | None) -> None:
        svc = self.calls
        tag = new_tag()
        try:
            label, eps = await self._resolve(call, uid, kind, target)
        except HubError as err:
            status = 404 if isinstance(err, NotFound) else 480
            svc.respond(request, status, transport, f"{'Not Found' if status == 404 else 'Temporarily Unavailable'} "
                        f"({err})"[:120], to_tag=tag)
            return
        media = await svc.engine.open_leg(f"consult-{call.id}")
        leg = SipLeg("consult", transport, addr, media, svc.media_address)
        try:
            leg.answer_offer(request.body)
        except NoCommonCodec as err:
            media.close()
            svc.respond(request, 488, transport, f"Not Acceptable Here ({err})"[:120], to_tag=tag)
            return
        except SipError as err:
            media.close()
            svc.respond(request, 400, transport, f"Bad Request ({err})"[:120], to_tag=tag)
            return
        if call.ended or self.for_call(call) is not None:
            media.close()
            svc.respond(request, 486, transport, to_tag=tag)
            return
        c = Consultation(new_id(), call, uid, kind, target, label, media)
        c.desk = DeskLeg(leg, request, key, tag)
        call.consult = c
        call.segment(SegmentKind.CONSULT, svc.now(), party=label)
        if key is not None:
            self._desk_pending[key] = c
        self.stats["consults"] += 1
        svc.respond(request, 180, transport, to_tag=tag)
        await self._note(call, f"Consultation with {kind} {label} started from the desk phone")
        await self._ring(c, eps)

    def _desk_answered(self, c: Consultation) -> None:
        desk = c.desk
        assert desk is not None and desk.leg.local_sdp is not None
        svc = self.calls
        if desk.key is not None:
            self._desk_pending.pop(desk.key, None)
        ok = SipResponse.for_request(desk.invite, 200, to_tag=desk.local_tag,
                                     headers=[("Contact", str(svc.core.contact("hub", desk.leg.transport))),
                                              ("Allow", ALLOW)],
                                     body=bytes(desk.leg.local_sdp), content_type="application/sdp")
        svc.core.respond(ok, desk.leg.transport)
        desk.leg.dialog = Dialog.for_uas(desk.invite, ok)
        self._desk[(desk.invite.call_id, desk.local_tag)] = c

    async def _end_desk(self, c: Consultation, status: int | None) -> None:
        """End the desk phone's consult dialog: a final error while it is unanswered, else BYE."""
        desk = c.desk
        if desk is None or desk.leg.ended:
            return
        svc = self.calls
        desk.leg.ended = True
        if desk.leg.dialog is None:
            if desk.key is not None:
                self._desk_pending.pop(desk.key, None)
            if not desk.cancelled:
                svc.respond(desk.invite, status or 480, desk.leg.transport, to_tag=desk.local_tag)
        else:
            bye = desk.leg.dialog.bye(svc.core.via(desk.leg.transport))
            pending = svc.core.request(bye, desk.leg.addr, desk.leg.transport)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(5):
                    await asyncio.shield(pending.final)
        desk.leg.media.close()
        self._desk.pop((desk.invite.call_id, desk.local_tag), None)

    def cancel_request(self, request: SipRequest, transport: str, cancels: TransactionKey | None) -> bool:
        """CANCEL of a desk phone's consult INVITE still ringing."""
        c = self._desk_pending.get(cancels) if cancels is not None else None
        if c is None or c.desk is None:
            return False
        svc = self.calls
        svc.respond(request, 200, transport)
        c.desk.cancelled = True
        svc.respond(c.desk.invite, 487, c.desk.leg.transport, to_tag=c.desk.local_tag)
        self._desk_pending.pop(cancels, None)  # type: ignore[arg-type]  # not None: c was found
        c.cancel_requested = True
        for ep in list(c.ringing):
            self._spawn(ep.cancel(), f"consult-{c.id}-cancel")
        return True

    def in_dialog(self, request: SipRequest, transport: str, to_tag: str) -> bool:
        """Requests inside a desk phone's consult dialog (True: handled here)."""
        c = self._desk.get((request.call_id, to_tag))
        if c is None or c.desk is None or c.desk.leg.dialog is None:
            return False
        svc = self.calls
        leg = c.desk.leg
        method = request.method
        if method == "ACK":
            return True
        try:
            leg.dialog.receive_request(request)  # type: ignore[union-attr]  # checked above
        except DialogError as err:
            svc.respond(request, 500, transport, f"Server Internal Error ({err})"[:120])
            return True
        if method == "BYE":
            svc.respond(request, 200, transport)
            leg.ended = True
            leg.media.close()
            self._desk.pop((request.call_id, to_tag), None)
            if self.for_call(c.call) is c and c.state is ConsultState.TALKING:
                c.cancel_requested = True
                self._spawn(self._back_to_caller(c, "cancelled"), f"consult-{c.id}-desk-bye", c.call)
        elif method == "INVITE":
            try:
                sdp = leg.answer_offer(request.body) if request.body else leg.offer()
            except SipError as err:
                svc.respond(request, 488 if isinstance(err, NoCommonCodec) else 400, transport,
                            f"Not Acceptable ({err})"[:120])
                return True
            ok = SipResponse.for_request(request, 200, headers=[("Contact", str(leg.dialog.local_contact)),  # type: ignore[union-attr]  # checked
                                                                ("Allow", ALLOW)],
                                         body=bytes(sdp), content_type="application/sdp")
            svc.core.respond(ok, transport)
        elif method in ("INFO", "NOTIFY", "OPTIONS"):
            svc.respond(request, 200, transport)
        else:
            svc.respond(request, 405, transport, headers=[("Allow", ALLOW)])
        return True

    @staticmethod
    def replaces_of(refer_to: str) -> tuple[str, dict[str, str]] | None:
        """The Replaces header carried in a Refer-To URI: (Call-ID, params) or None."""
        low = refer_to.lower()
        i = low.find("replaces=")
        if i < 0:
            return None
        raw = refer_to[i + len("replaces="):]
        for stop in ("&", ">"):
            j = raw.find(stop)
            if j >= 0:
                raw = raw[:j]
        value = unquote(raw)
        call_id, _, rest = value.partition(";")
        params = {}
        for part in rest.split(";"):
            k, _, v = part.partition("=")
            if k.strip():
                params[k.strip().lower()] = v.strip()
        return (call_id.strip(), params) if call_id.strip() else None

    def refer_replaces(self, call: Call, leg: SipLeg, request: SipRequest, transport: str,
                       replaces: tuple[str, dict[str, str]]) -> None:
        """Attended transfer from the agent's desk phone: REFER on the caller's dialog naming the
        consult dialog with Replaces."""
        call_id, params = replaces
        tags = {params.get("to-tag", ""), params.get("from-tag", "")}
        c = self.for_call(call)
        desk = c.desk if c is not None else None
        if c is None or desk is None or desk.leg.dialog is None or desk.invite.call_id != call_id \
                or tags != {desk.leg.dialog.local_tag, desk.leg.dialog.remote_tag}:
            self.calls.respond(request, 481, transport, "Call Does Not Exist (Replaces matches no consultation)")
            return
        if c.state is not ConsultState.TALKING:
            self.calls.respond(request, 491, transport, "Request Pending (the consulted party has not answered)")
            return
        self.calls.respond(request, 202, transport)
        self._spawn(self.complete(call, refer_leg=leg), f"consult-{c.id}-refer", call)
