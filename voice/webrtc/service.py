"""The softphone service: which agents have the browser softphone online, their call legs
(ringing or connected), the in-call controls, and supervisor monitoring sessions.

Presence: the desk registers the softphone (``POST /api/voice/softphone``) and renews it every
``voice_webrtc_lease_s / 3``; an agent's softphone counts as online while the lease runs *and*
the agent has a ``/desk`` socket connected. :meth:`CallService.endpoint_for` asks
:meth:`online` first: the browser softphone wins over a registered desk phone while it is on;
an agent who wants calls on the desk phone switches the softphone off in the desk.

Every entry point takes the user asking: an agent only reaches their own legs (anything else is
``call_leg_not_found``), monitoring needs ``supervise``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.errors import Forbidden, HubError, InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from voice.media.prompts import Prompt, frames_of
from voice.media.rtp import DTMF_EVENTS, DtmfEvent
from voice.webrtc.endpoint import WebRtcEndpoint
from voice.webrtc.errors import LegNotFound, NotConnected
from voice.webrtc.media import RATE, PacedAudioTrack
from voice.webrtc.monitor import MonitorMode, MonitorSession
from voice.webrtc.peer import BrowserPeer, offered_codec
from voice.webrtc.settings import WebRtcSettings

if TYPE_CHECKING:
    from hub.app import Services
    from hub.services.auth import User
    from voice.calls.call import Call
    from voice.calls.component import VoiceComponent
    from voice.media.engine import MediaEngine

__all__ = ["SoftphoneService"]

log = logging.getLogger(__name__)

DTMF_DIGITS = DTMF_EVENTS  # RFC 4733 event numbers 0-15 are these keys, in this order
_DTMF_FREQS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
               "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
               "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
               "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633)}


def dtmf_tone_pcm(digit: str, on_s: float = 0.1, off_s: float = 0.06) -> bytes:
    """In-band DTMF (for a far end that negotiated no telephone-event)."""
    lo, hi = _DTMF_FREQS[digit]
    t = np.arange(int(on_s * RATE)) / RATE
    tone = 6000 * (np.sin(2 * math.pi * lo * t) + np.sin(2 * math.pi * hi * t))
    return np.concatenate([tone, np.zeros(int(off_s * RATE))]).astype("<i2").tobytes()


class SoftphoneService:
    def __init__(self, services: Services, voice: VoiceComponent) -> None:
        self.services = services
        self.voice = voice
        st = services.settings.section(WebRtcSettings)
        self.lease_s = float(st.lease_s)
        self.reconnect_s = float(st.reconnect_s)
        self.ice_servers: tuple[str, ...] = tuple(st.ice_servers)
        self.registered: dict[str, float] = {}  # agent id → lease end (hub clock)
        self.legs: dict[str, WebRtcEndpoint] = {}
        self.monitors: dict[str, MonitorSession] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def engine(self) -> MediaEngine:
        assert self.voice.engine is not None
        return self.voice.engine

    def now(self) -> float:
        return self.services.clock.now()

    async def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="softphone-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for mon in list(self.monitors.values()):
            await mon.close()
        self.monitors.clear()
        for ep in list(self.legs.values()):
            await ep.hangup()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sweeper is not None:
            await asyncio.gather(self._sweeper, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        """Monitoring sessions of ended calls are closed (and the supervisor told)."""
        while True:
            await asyncio.sleep(0.5)
            for mon in list(self.monitors.values()):
                if mon.call.ended:
                    await self._end_monitor(mon, "call_ended")

    async def notify(self, user_id: str, event: str, data: dict[str, Any]) -> None:
        await self.services.push.to_user(user_id, event, data)

    # -- presence ---------------------------------------------------------------------------------

    def _has_desk_socket(self, user_id: str) -> bool:
        return self.services.push.has_desk(user_id)

    def online(self, agent_id: str) -> bool:
        until = self.registered.get(agent_id)
        if until is None or until < self.now():
            return False
        return self._has_desk_socket(agent_id)

    def register(self, user: User) -> dict[str, Any]:
        user.require("desk")
        if not user.is_agent:
            raise Forbidden("only agents take calls on the softphone")
        self.registered[user.id] = self.now() + self.lease_s
        return self.status(user)

    def unregister(self, user: User) -> dict[str, Any]:
        self.registered.pop(user.id, None)
        return self.status(user)

    def status(self, user: User) -> dict[str, Any]:
        until = self.registered.get(user.id)
        return {"online": self.online(user.id), "lease_s": self.lease_s,
                "expires_in": max(0.0, until - self.now()) if until else 0.0,
                "ice_servers": list(self.ice_servers),
                "legs": [ep.public() for ep in self.legs.values() if ep.agent_id == user.id]}

    def endpoint(self, agent_id: str, call: Call) -> WebRtcEndpoint:
        return WebRtcEndpoint(self, agent_id, call)

    # -- the agent's controls ---------------------------------------------------------------------

    def _leg(self, user: User, leg_id: str) -> WebRtcEndpoint:
        ep = self.legs.get(leg_id)
        if ep is None or ep.agent_id != user.id:
            raise LegNotFound(f"no call {leg_id} on your softphone")
        return ep

    def _connected(self, user: User, leg_id: str) -> tuple[WebRtcEndpoint, Call]:
        ep = self._leg(user, leg_id)
        call = ep.call
        if ep.state != "connected" or call.agent is not ep or call.ended:
            raise NotConnected("the call is not connected to your softphone")
        return ep, call

    async def answer(self, user: User, leg_id: str, sdp: str) -> dict[str, Any]:
        ep = self._leg(user, leg_id)
        answer = await ep.answer(sdp)
        # reply once the ACD gave the agent the conversation, so the desk opens it assigned
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await ep.assigned.wait()
        return {"sdp": answer, "type": "answer", "leg": ep.public()}

    async def on_hub_event(self, ev: Event) -> None:
        if ev.type is not EventType.CONVERSATION_ASSIGNED or not ev.conversation_id:
            return
        for ep in list(self.legs.values()):
            if ep.call.conversation_id == ev.conversation_id and ep.agent_id == ev.user_id:
                ep.assigned.set()

    async def reconnect(self, user: User, leg_id: str, sdp: str) -> dict[str, Any]:
        ep = self._leg(user, leg_id)
        answer = await ep.reconnect(sdp)
        return {"sdp": answer, "type": "answer", "leg": ep.public()}

    def decline(self, user: User, leg_id: str) -> dict[str, Any]:
        ep = self._leg(user, leg_id)
        ep.decline()
        return ep.public()

    async def hangup(self, user: User, leg_id: str) -> dict[str, Any]:
        ep = self._leg(user, leg_id)
        if ep.state == "ringing":
            ep.decline()
        else:
            self.agent_hung_up(ep)
        return ep.public()

    def agent_hung_up(self, ep: WebRtcEndpoint) -> None:
        call = ep.call
        if call.agent is ep and not call.ended:
            self.voice.service.agent_hangup(call)
        else:
            self._spawn(ep.hangup(), f"softphone-{ep.id}-hangup")

    async def hold(self, user: User, leg_id: str, on: bool) -> dict[str, Any]:
        ep, call = self._connected(user, leg_id)
        if ep.on_hold != on:
            await self.voice.service.hold(call, on)
            ep.on_hold = on
        await self.notify(user.id, "softphone_state", ep.public())
        return ep.public()

    def spawn_hold(self, call: Call, on: bool) -> None:
        """Hold or resume the caller from a callback (a lost softphone connection)."""
        async def run() -> None:
            with contextlib.suppress(HubError):
                await self.voice.service.hold(call, on)
        self._spawn(run(), f"call-{call.id}-hold-{on}")

    async def mute(self, user: User, leg_id: str, on: bool) -> dict[str, Any]:
        ep, _ = self._connected(user, leg_id)
        assert ep.media is not None
        ep.media.muted = on
        await self.notify(user.id, "softphone_state", ep.public())
        return ep.public()

    def dtmf(self, user: User, leg_id: str, digits: str) -> dict[str, Any]:
        """Digits to the caller: RFC 4733 events when the caller negotiated telephone-event,
        in-band tones otherwise."""
        ep, call = self._connected(user, leg_id)
        digits = digits.upper()
        if not digits or len(digits) > 32 or any(d not in DTMF_DIGITS for d in digits):
            raise ValidationFailed("digits must be 1-32 of 0-9 * # A-D")
        self._spawn(self._send_dtmf(call, digits), f"softphone-{ep.id}-dtmf")
        return {**ep.public(), "digits": digits}

    async def _send_dtmf(self, call: Call, digits: str) -> None:
        leg = call.caller.media
        for digit in digits:
            if leg.closed:
                return
            if leg.dtmf_pt is None:
                done = asyncio.Event()
                leg.play(Prompt(f"dtmf-{digit}", leg.codec, frames_of(dtmf_tone_pcm(digit), leg.codec)),
                         on_done=done.set)
                async with asyncio.timeout(2):
                    await done.wait()
                continue
            event = DTMF_DIGITS.index(digit)
            ts: int | None = None
            for step in range(1, 6):  # 100 ms of event, then three end packets (RFC 4733 2.5.1.4)
                ts = leg.send_event(bytes(DtmfEvent(event, False, 10, step * 160)), step == 1, ts)
                await asyncio.sleep(0.02)
            for _ in range(3):
                leg.send_event(bytes(DtmfEvent(event, True, 10, 5 * 160)), False, ts)
            await asyncio.sleep(0.06)

    # -- consulted transfer and conference (voice/calls/consult.py) --------------------------------

    async def consult_targets(self, user: User) -> dict[str, Any]:
        """Who the agent can consult: agents (with where they take calls and whether they are on
        a call), queues, and whether external numbers go out through a trunk."""
        user.require("desk")
        calls = self.voice.service
        now = calls.engine.now()
        busy = {c.agent_id for c in calls.calls.values() if not c.ended and c.agent_id}
        routing = self.services.routing
        agents = []
        for u in await self.services.auth.list_users():
            if not u.active or not u.is_agent or u.id == user.id:
                continue
            where = "softphone" if self.online(u.id) else \
                "desk_phone" if calls.registrar.binding_for_user(u.id, now) is not None else None
            agents.append({"id": u.id, "name": u.display_name, "reachable": where, "busy": u.id in busy,
                           "state": routing.agent_state(u.id)["state"]})
        names = self.services.conversations.queue_names
        queues = [{"id": qid, "name": name} for qid, name in sorted(names.items(), key=lambda kv: kv[1])]
        trunk = calls.trunk
        return {"agents": agents, "queues": queues, "external": trunk is not None,
                "external_pattern": trunk.pattern.pattern if trunk is not None else None}

    async def consult(self, user: User, leg_id: str, kind: str, target: str) -> dict[str, Any]:
        ep, call = self._connected(user, leg_id)
        await self.voice.service.consults.start(call, user.id, kind, target.strip())
        ep.on_hold = False
        await self.notify(user.id, "softphone_state", ep.public())
        return ep.public()

    async def consult_action(self, user: User, leg_id: str, action: str) -> dict[str, Any]:
        ep, call = self._connected(user, leg_id)
        consults = self.voice.service.consults
        if action == "complete":
            await consults.complete(call)
        elif action == "conference":
            await consults.conference(call)
        elif action == "cancel":
            await consults.cancel(call)
        else:
            raise NotFound(f"no consult action {action}")
        out = ep.public()
        if action != "complete":
            await self.notify(user.id, "softphone_state", out)
        return out

    # -- supervisor monitoring --------------------------------------------------------------------

    def active_calls(self, user: User) -> list[dict[str, Any]]:
        user.require("supervise")
        out = []
        for c in self.voice.service.calls.values():
            if c.ended:
                continue
            agent = c.agent
            out.append({**c.public(), "softphone": isinstance(agent, WebRtcEndpoint),
                        "held_by_agent": isinstance(agent, WebRtcEndpoint) and agent.on_hold,
                        "monitors": [m.public() for m in self.monitors.values() if m.call is c]})
        return out

    async def monitor(self, user: User, call_id: str, sdp: str, mode: str) -> dict[str, Any]:
        user.require("supervise")
        try:
            m = MonitorMode(mode)
        except ValueError as err:
            raise ValidationFailed("mode must be listen, whisper or barge") from err
        call = self.voice.service.calls.get(call_id)
        if call is None or call.ended:
            raise NotFound(f"no active call {call_id}")
        mon = MonitorSession(user.id, call, m)
        if m is not MonitorMode.LISTEN and not mon.agent_on_softphone:
            raise InvalidState("whisper and barge need the agent on the browser softphone")
        codec = offered_codec(sdp)
        mon.attach()
        try:
            peer, answer = await BrowserPeer.answer(sdp, send=PacedAudioTrack(mon.frame, codec),
                                                    on_pcm=mon.on_mic, ice_servers=self.ice_servers)
        except BaseException:
            await mon.close()
            raise
        mon.peer = peer
        peer.on_failed = lambda: self._spawn(self._end_monitor(mon, "connection_failed"), f"monitor-{mon.id}-end")
        self.monitors[mon.id] = mon
        log.info("supervisor %s monitors call %s (%s)", user.id, call.id, m)
        return {"sdp": answer, "type": "answer", "monitor": mon.public()}

    def _monitor(self, user: User, monitor_id: str) -> MonitorSession:
        user.require("supervise")
        mon = self.monitors.get(monitor_id)
        if mon is None or mon.supervisor_id != user.id:
            raise NotFound(f"no monitoring session {monitor_id}")
        return mon

    def set_monitor_mode(self, user: User, monitor_id: str, mode: str) -> dict[str, Any]:
        mon = self._monitor(user, monitor_id)
        try:
            m = MonitorMode(mode)
        except ValueError as err:
            raise ValidationFailed("mode must be listen, whisper or barge") from err
        if m is not MonitorMode.LISTEN and not mon.agent_on_softphone:
            raise InvalidState("whisper and barge need the agent on the browser softphone")
        mon.set_mode(m)
        return mon.public()

    async def stop_monitor(self, user: User, monitor_id: str) -> None:
        await self._end_monitor(self._monitor(user, monitor_id), "stopped")

    async def _end_monitor(self, mon: MonitorSession, reason: str) -> None:
        if self.monitors.pop(mon.id, None) is None:
            return
        await mon.close()
        await self.notify(mon.supervisor_id, "monitor_ended", {**mon.public(), "reason": reason})
