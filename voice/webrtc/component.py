"""The softphone component: HTTP signalling for the browser softphone and supervisor monitoring.

REST (docs/API.md, "Voice: browser softphone"); live pushes on the staff Socket.IO namespace
``/desk`` to ``user:<id>``: ``softphone_ring``, ``softphone_state``, ``softphone_ended``,
``monitor_ended``.

- ``GET/POST/DELETE /api/voice/softphone`` (desk, agents) – status / go online (renew) / offline;
- ``POST /api/voice/softphone/legs/{leg_id}/answer`` – ``{sdp}`` offer → ``{sdp}`` answer;
- ``POST …/legs/{leg_id}/reconnect`` – ``{sdp}``: a new browser connection for a connected call
  (after a reload; the call waits ``voice_webrtc_reconnect_s`` for it once the old one is lost);
- ``POST …/legs/{leg_id}/decline``, ``…/hangup``, ``…/hold`` ``{on}``, ``…/mute`` ``{on}``,
  ``…/dtmf`` ``{digits}``;
- ``GET /api/voice/softphone/consult-targets``; ``POST …/legs/{leg_id}/consult`` ``{kind, target}``,
  ``…/consult/complete``, ``…/consult/conference``, ``…/consult/cancel`` (voice/calls/consult.py);
- ``GET /api/voice/monitor/calls`` (supervise) – active calls to monitor;
- ``POST /api/voice/monitor/calls/{call_id}`` ``{sdp, mode}`` → ``{sdp, monitor}``;
- ``PATCH /api/voice/monitor/{monitor_id}`` ``{mode}``; ``DELETE /api/voice/monitor/{monitor_id}``.

Uses the ``voice`` port (so it starts after the voice component) and runs only when voice and
``voice_webrtc_enabled`` are on; it provides its :class:`SoftphoneService` as the ``softphone``
port (``services.ports.softphone``), which :meth:`voice.calls.service.CallService.endpoint_for`
consults.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import socketio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

import voice.webrtc.schemas as S
from hub.api.http import Api, json_response, parse_body, require
from hub.events import EventType
from voice.webrtc.errors import SoftphoneOff
from voice.webrtc.settings import WebRtcSettings

if TYPE_CHECKING:
    from hub.app import Services
    from voice.webrtc.service import SoftphoneService

__all__ = ["WebRtcComponent"]

log = logging.getLogger(__name__)


class OfferBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=10, max_length=20_000)
    type: str = "offer"


class MonitorBody(OfferBody):
    mode: str = "listen"


class SwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool


class DigitsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digits: str = Field(min_length=1, max_length=32)


class ConsultBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["agent", "queue", "external"]
    target: str = Field(min_length=1, max_length=64)


class ModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: str


class WebRtcComponent:
    name = "softphone"
    provides: tuple[str, ...] = ("softphone",)
    uses: tuple[str, ...] = ("voice",)
    uses_later: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.softphones: SoftphoneService | None = None

    @property
    def service(self) -> SoftphoneService:
        if self.softphones is None:
            raise SoftphoneOff("the browser softphone is off (voice_enabled / voice_webrtc_enabled)")
        return self.softphones

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        comp = self

        @api.add("/api/voice/softphone", "GET", "The caller's softphone: online state and call legs", tag="voice",
                 response=S.SoftphoneStatus, access="desk")
        async def status(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(comp.service.status(user))

        @api.add("/api/voice/softphone", "POST", "Put the desk softphone online (renew the lease)", tag="voice",
                 response=S.SoftphoneStatus, access="desk")
        async def go_online(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(comp.service.register(user))

        @api.add("/api/voice/softphone", "DELETE", "Take the desk softphone offline", tag="voice",
                 response=S.SoftphoneStatus, access="desk")
        async def go_offline(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(comp.service.unregister(user))

        def offer_route(action: Literal["answer", "reconnect"], summary: str) -> None:
            """``POST …/legs/{leg_id}/<action>``: the browser's SDP offer → the hub's answer."""
            async def handler(request: Request) -> Response:
                user = await require(request, "desk")
                body = await parse_body(request, OfferBody)
                act = getattr(comp.service, action)
                return json_response(await act(user, request.path_params["leg_id"], body.sdp))
            handler.__name__ = action
            api.add(f"/api/voice/softphone/legs/{{leg_id}}/{action}", "POST", summary, tag="voice",
                    body=OfferBody, response=S.SdpAnswer, access="desk")(handler)

        offer_route("answer", "Answer a ringing call with the browser's SDP offer")
        offer_route("reconnect", "Reconnect the browser to its connected call (after a page reload)")

        @api.add("/api/voice/softphone/legs/{leg_id}/decline", "POST", "Decline a ringing call", tag="voice",
                 response=S.SoftphoneLeg, access="desk")
        async def decline(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(comp.service.decline(user, request.path_params["leg_id"]))

        @api.add("/api/voice/softphone/legs/{leg_id}/hangup", "POST", "Hang up (or decline) a call", tag="voice",
                 response=S.SoftphoneLeg, access="desk")
        async def hangup(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(await comp.service.hangup(user, request.path_params["leg_id"]))

        @api.add("/api/voice/softphone/legs/{leg_id}/hold", "POST",
                 "Hold the caller (music on hold) or resume", tag="voice", body=SwitchBody, response=S.SoftphoneLeg,
                 access="desk")
        async def hold(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, SwitchBody)
            return json_response(await comp.service.hold(user, request.path_params["leg_id"], body.on))

        @api.add("/api/voice/softphone/legs/{leg_id}/mute", "POST",
                 "Mute or unmute the agent's microphone", tag="voice", body=SwitchBody, response=S.SoftphoneLeg,
                 access="desk")
        async def mute(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, SwitchBody)
            return json_response(await comp.service.mute(user, request.path_params["leg_id"], body.on))

        @api.add("/api/voice/softphone/legs/{leg_id}/dtmf", "POST", "Send DTMF digits to the caller",
                 tag="voice", body=DigitsBody, response=S.DtmfSent, access="desk")
        async def dtmf(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, DigitsBody)
            return json_response(comp.service.dtmf(user, request.path_params["leg_id"], body.digits))

        @api.add("/api/voice/softphone/consult-targets", "GET",
                 "Agents, queues and external numbers the agent can consult", tag="voice", response=S.ConsultTargets,
                 access="desk")
        async def consult_targets(request: Request) -> Response:
            user = await require(request, "desk")
            return json_response(await comp.service.consult_targets(user))

        @api.add("/api/voice/softphone/legs/{leg_id}/consult", "POST",
                 "Consult an agent, a queue or an external number (the caller hears music on hold)",
                 tag="voice", body=ConsultBody, response=S.SoftphoneLeg, access="desk")
        async def consult(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, ConsultBody)
            return json_response(await comp.service.consult(user, request.path_params["leg_id"], body.kind,
                                                            body.target))

        def consult_action(action: str) -> Any:
            async def handler(request: Request) -> Response:
                user = await require(request, "desk")
                return json_response(await comp.service.consult_action(user, request.path_params["leg_id"], action))
            handler.__name__ = f"consult_{action}"
            return handler

        for action, summary in (("complete", "Complete the consulted transfer (the caller to the consulted party)"),
                                ("conference", "Three-way conference: the caller, the agent and the consulted party"),
                                ("cancel", "End the consultation; back to the caller")):
            api.add(f"/api/voice/softphone/legs/{{leg_id}}/consult/{action}", "POST", summary,
                    tag="voice", response=S.SoftphoneLeg, access="desk")(consult_action(action))

        @api.add("/api/voice/monitor/calls", "GET", "Active calls a supervisor can monitor", tag="voice",
                 response=S.MonitorCalls, access="supervise")
        async def monitor_calls(request: Request) -> Response:
            user = await require(request, "supervise")
            return json_response({"calls": comp.service.active_calls(user)})

        @api.add("/api/voice/monitor/calls/{call_id}", "POST",
                 "Listen to, whisper to or barge into a call (SDP offer → answer)", tag="voice", body=MonitorBody,
                 response=S.MonitorAnswer, access="supervise")
        async def monitor(request: Request) -> Response:
            user = await require(request, "supervise")
            body = await parse_body(request, MonitorBody)
            return json_response(await comp.service.monitor(user, request.path_params["call_id"], body.sdp,
                                                            body.mode))

        @api.add("/api/voice/monitor/{monitor_id}", "PATCH", "Switch listen / whisper / barge", tag="voice",
                 body=ModeBody, response=S.MonitorInfo, access="supervise")
        async def monitor_mode(request: Request) -> Response:
            user = await require(request, "supervise")
            body = await parse_body(request, ModeBody)
            return json_response(comp.service.set_monitor_mode(user, request.path_params["monitor_id"], body.mode))

        @api.add("/api/voice/monitor/{monitor_id}", "DELETE", "Stop monitoring", tag="voice", status=204,
                 access="supervise")
        async def monitor_stop(request: Request) -> Response:
            user = await require(request, "supervise")
            await comp.service.stop_monitor(user, request.path_params["monitor_id"])
            return Response(status_code=204)

    async def start(self, services: Services) -> None:
        # the voice port is this package's own call service (voice/calls), which it drives
        from voice.calls.component import VoiceComponent
        from voice.calls.settings import VoiceSettings

        voice = services.ports.voice
        if not (services.settings.section(VoiceSettings).enabled
                and services.settings.section(WebRtcSettings).enabled) \
                or not isinstance(voice, VoiceComponent) or voice.calls is None:
            return
        try:
            from voice.webrtc.service import SoftphoneService
        except ImportError as err:  # aiortc / av missing
            from hub.errors import ConfigError

            raise ConfigError(f"the browser softphone needs aiortc (pip install aiortc): {err}") from err
        self.softphones = SoftphoneService(services, voice)
        await self.softphones.start()
        services.bus.subscribe(self.softphones.on_hub_event, types=(EventType.CONVERSATION_ASSIGNED,),
                               name="voice.softphones")
        services.ports.softphone = self.softphones
        log.info("voice: browser softphone on")

    async def stop(self) -> None:
        if self.softphones is not None:
            await self.softphones.stop()

    def status(self) -> dict[str, Any]:
        sp = self.softphones
        if sp is None:
            return {"enabled": False}
        return {"enabled": True, "legs": len(sp.legs), "monitors": len(sp.monitors)}
