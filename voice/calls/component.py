"""The voice component: plugs the call service into the hub (``bootstrap.build_app``).

REST (see docs/API.md, "Voice"):

- ``GET /api/voice/sip-accounts`` (admin) – SIP accounts (never the credentials);
- ``PUT /api/voice/sip-accounts/{username}`` (admin) – create/replace a desk phone or trunk
  account; the password is turned into digest HA1 values at once;
- ``DELETE /api/voice/sip-accounts/{username}`` (admin);
- ``GET /api/voice/registrations`` (supervise) – live registrations;
- ``GET /api/voice/calls`` (supervise) – active calls and a page of call records (``limit``,
  ``offset``, ``total``; filters of :class:`~voice.calls.call_records.CallQuery`);
- ``GET /api/voice/calls/{id}``, ``GET /api/voice/calls/export`` (supervise|desk, the
  conversations' visibility): voice/calls/call_records.py;
- ``POST /api/voice/calls/{id}/end`` (supervise, or the agent on the call) – end a live call.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

import voice.calls.health as health
import voice.calls.schemas as S
import voice.calls.store as store
import voice.calls.texts as texts
from hub.api.http import Api, current_user, json_response, parse_body, parse_query, request_client, require
from hub.errors import ConfigError, HubError
from voice.calls.call_records import CallQuery, CallRecords
from voice.calls.call_records import register_api as register_records_api
from voice.calls.callback import CallbackService
from voice.calls.callback import register_api as register_callback_api
from voice.calls.privacy import VoicePersonalData
from voice.calls.recordings import Recordings
from voice.calls.registrar import FailureLimiter, Registrar
from voice.calls.service import CallService
from voice.calls.settings import VoiceSettings
from voice.calls.transcripts import CallTranscripts
from voice.calls.transcripts import register_api as register_transcript_api
from voice.calls.voicemail import VoicemailService
from voice.media.engine import MediaEngine

if TYPE_CHECKING:
    from hub.app import Services

__all__ = ["VoiceComponent"]

log = logging.getLogger(__name__)


class VoiceDisabled(HubError):
    code, status, title = "voice_disabled", 503, "Voice is off"


class SipAccountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=8, max_length=128)
    user_id: str | None = None
    kind: str = "phone"


class VoiceComponent:
    name = "voice"
    provides: tuple[str, ...] = ("voice",)
    uses: tuple[str, ...] = ("ivr", "kb", "email", "sms")
    # rings an agent's softphone when one is online (voice/webrtc starts after voice: it uses it)
    uses_later: tuple[str, ...] = ("softphone",)

    def __init__(self) -> None:
        self._services: Services | None = None
        self.calls: CallService | None = None
        self.registrar: Registrar | None = None
        self.engine: MediaEngine | None = None
        self.transcripts: CallTranscripts | None = None  # live call transcription (VOICE-6)
        self.voicemail: VoicemailService | None = None  # voicemail messages (VOICE-8)
        self.callbacks: CallbackService | None = None  # callback requests and their dialling
        self.recordings = Recordings()  # search, download, retention, per-queue choice (VOICE-5)
        self.records: CallRecords | None = None  # call records: one call, export (also with voice off)

    @property
    def services(self) -> Services:
        assert self._services is not None, "the voice component is not started"
        return self._services

    @property
    def call_records(self) -> CallRecords:
        if self.records is None:
            self.records = CallRecords(self.services)
        return self.records

    @property
    def service(self) -> CallService:
        if self.calls is None:
            raise VoiceDisabled("the voice service is not running (voice_enabled is off)")
        return self.calls

    # -- HTTP -------------------------------------------------------------------------------------

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        comp = self
        register_transcript_api(api, lambda: comp.services, lambda: comp.transcripts)
        register_callback_api(api, lambda: comp)
        self.recordings.register(api)
        register_records_api(api, lambda: comp.call_records)

        @api.add("/api/voice/sip-accounts", "GET", "SIP accounts of desk phones and trunks", tag="voice",
                 response=S.SipAccounts, access="admin")
        async def list_accounts(request: Request) -> Response:
            await require(request, "admin")
            return json_response({"accounts": await store.list_accounts(comp.services)})

        @api.add("/api/voice/sip-accounts/{username}", "PUT",
                 "Create or replace a SIP account (digest HA1 stored, never the password)",
                 tag="voice", body=SipAccountBody, response=S.SipAccount, access="admin")
        async def put_account(request: Request) -> Response:
            await require(request, "admin")
            body = await parse_body(request, SipAccountBody)
            svc = comp.service
            acc = await store.upsert_account(comp.services, username=request.path_params["username"],
                                             password=body.password, realm=svc.registrar.realm,
                                             user_id=body.user_id, kind=body.kind)
            await comp.reload_accounts()
            return json_response(acc)

        @api.add("/api/voice/sip-accounts/{username}", "DELETE", "Delete a SIP account", tag="voice",
                 status=204, access="admin")
        async def delete_account(request: Request) -> Response:
            await require(request, "admin")
            await store.delete_account(comp.services, request.path_params["username"])
            await comp.reload_accounts()
            return Response(status_code=204)

        @api.add("/api/voice/registrations", "GET", "Registered desk phones", tag="voice", response=S.Bindings,
                 access="supervise")
        async def registrations(request: Request) -> Response:
            await require(request, "supervise")
            svc = comp.service
            now = svc.engine.now()
            regs = [{"username": b.username, "contact": str(b.uri), "source": f"{b.source[0]}:{b.source[1]}",
                     "transport": b.transport, "expires_in": int(b.expires_at - now),
                     "user_id": svc.registrar.accounts[b.username].user_id}
                    for b in svc.registrar.active_bindings(now) if b.username in svc.registrar.accounts]
            return json_response({"registrations": regs})

        @api.add("/api/voice/calls", "GET", "Active calls and a page of call records (newest first)",
                 tag="voice", query=CallQuery, response=S.VoiceCalls, access="supervise")
        async def calls(request: Request) -> Response:
            await require(request, "supervise")
            q = parse_query(request, CallQuery)
            svc = comp.service
            page = await comp.call_records.page(None, q)
            return json_response({"active": health.active_calls(svc), **page,
                                  "stats": dict(svc.stats), "registrations": health.registrations(svc)})

        @api.add("/api/voice/calls/{id}/end", "POST", "End a live call (BYE to every party; audited)",
                 tag="voice", status=204, access="supervise|desk")
        async def end_call(request: Request) -> Response:
            user = await current_user(request)  # a supervisor any call, an agent the one they are on
            await comp.service.control.end_by_user(request.path_params["id"], user, request_client(request))
            return Response(status_code=204)

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, services: Services) -> None:
        self._services = services
        await self.recordings.start(services)  # also with voice off: stored recordings, retention
        services.privacy.register(VoicePersonalData(services))  # calls, recordings, transcripts
        st = services.settings.section(VoiceSettings)
        if not st.enabled:
            return
        for name, port in (("voice_sip_udp_port", st.sip_udp_port), ("voice_rtp_port_min", st.rtp_port_min),
                           ("voice_rtp_port_max", st.rtp_port_max)):
            if not 0 <= port < 65536:
                raise ConfigError(f"setting {name!r} must be between 0 and 65535")
        if not -1 <= st.sip_tcp_port < 65536:
            raise ConfigError("setting 'voice_sip_tcp_port' must be -1 (off) or between 0 and 65535")
        if st.rtp_port_min and st.rtp_port_max - st.rtp_port_min < 2:
            raise ConfigError("settings 'voice_rtp_port_min'/'voice_rtp_port_max' leave no RTP port")
        advertised = st.advertised_host or st.host
        self.engine = MediaEngine(st.host, st.rtp_port_min, st.rtp_port_max)
        await self.engine.start()
        self.registrar = Registrar(st.realm, FailureLimiter(st.register_max_failures, 60.0, st.register_block_s,
                                                            st.register_max_source_failures))
        self.registrar.set_accounts(await store.load_accounts(services))
        try:
            self.calls = CallService(services, st.host, advertised, self.engine, self.registrar)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        self.calls.recording_policy = self.recordings.policy
        self.transcripts = self.calls.transcripts = CallTranscripts(services)
        await self.transcripts.start()  # loads the ASR model once when voice_transcribe is on
        services.texts.register(texts.catalogue())  # the voicemail notices
        self.voicemail = self.calls.voicemail = VoicemailService(services, self.calls)
        self.callbacks = self.calls.callbacks = CallbackService(services, self.calls)
        if services.ports.ivr is not None:  # the published flows' prompts, ready for the first call
            await services.ports.ivr.prerender_published()
        await self.calls.start(st.sip_udp_port, None if st.sip_tcp_port < 0 else st.sip_tcp_port)
        services.bus.subscribe(self.calls.on_hub_event, name="voice.calls")
        services.ports.voice = self
        log.info("voice: SIP on %s udp/%s tcp/%s", st.host, self.calls.core.port("UDP"),
                 self.calls.core.port("TCP") if self.calls.core.tcp else "-")

    async def seed_demo(self, services: Services) -> None:
        """Demo desk phone accounts: ``agent1`` … ``agent5`` with password ``demo-phone`` (only
        when voice is on), so a softphone can register as an agent's desk phone."""
        if self.calls is None:
            return
        for user in await services.auth.list_users():
            if user.username in {f"agent{i}" for i in range(1, 6)}:
                await store.upsert_account(services, username=user.username, password="demo-phone",
                                           realm=self.calls.registrar.realm, user_id=user.id, kind="phone")
        await self.reload_accounts()

    async def reload_accounts(self) -> None:
        if self.registrar is not None:
            self.registrar.set_accounts(await store.load_accounts(self.services))

    def sip_port(self, transport: str = "UDP") -> int:
        return self.service.core.port(transport)

    async def stop(self) -> None:
        if self.calls is not None:
            await self.calls.stop()
        if self.voicemail is not None:  # after the calls: messages cut by the shutdown are delivered
            await self.voicemail.stop()
        if self.callbacks is not None:
            await self.callbacks.stop()
        if self.transcripts is not None:
            await self.transcripts.stop()
        if self.engine is not None:
            await self.engine.stop()

    def status(self) -> dict[str, Any]:
        if self.calls is None:
            return {"enabled": False}
        return {"enabled": True, "active_calls": len(self.calls.active_calls()), **self.calls.stats,
                "transcription": self.transcripts.status() if self.transcripts is not None else None,
                "voicemail": dict(self.voicemail.stats) if self.voicemail is not None else None,
                "callbacks": dict(self.callbacks.stats) if self.callbacks is not None else None}
