"""The IVR component: flows, versions, prompt audio and number routing behind ``/api/ivr``, and
the published flows for the call service (the ``ivr`` port, ``services.ports.ivr``). The only module of
``voice/ivr`` that imports the hub services.

REST (docs/API.md, "IVR"): edits need the ``automation`` permission, reading needs
``automation`` or ``supervise``.

- ``GET/POST /api/ivr/flows``, ``GET/PATCH/DELETE /api/ivr/flows/{id}``;
- ``POST /api/ivr/flows/{id}/validate`` – the problems of a definition, nothing saved;
- ``POST /api/ivr/flows/{id}/publish`` – a new immutable version (refused with every problem);
- ``GET /api/ivr/flows/{id}/versions/{version}``;
- ``PUT /api/ivr/flows/{id}/prompts/{name}`` (multipart ``file``, a WAV), ``GET …/audio``,
  ``DELETE``;
- ``GET /api/ivr/numbers``, ``PUT/DELETE /api/ivr/numbers/{number}``;
- ``GET /api/ivr/voices`` – the TTS voices prompts may name (``voice_tts_*`` settings).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, Response

import voice.ivr.schemas as S
from hub.api.http import Api, current_user, json_response, parse_body, require
from hub.errors import (
    Conflict,
    HubError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from hub.events import Event, EventType
from hub.services.directory import calendar_from_mapping
from voice.ivr.audio_files import PromptInvalid, PromptUnsupported
from voice.ivr.engine import IvrSession
from voice.ivr.errors import FlowInvalid, IvrError
from voice.ivr.flow import Flow, FlowDefinition
from voice.ivr.model import LookupResult, Prompt
from voice.ivr.prerender import PromptRenderer, flow_prompts
from voice.ivr.settings import IvrSettings, TtsSettings
from voice.ivr.store import BadRequest, FlowNotFound, IvrConflict, IvrStore, normalise_number

if TYPE_CHECKING:
    from hub.app import Services

__all__ = ["IvrComponent"]

log = logging.getLogger(__name__)
Hook = Callable[[dict[str, Any]], Awaitable[Any]]


class FlowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any]


class FlowPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    definition: dict[str, Any] | None = None


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: dict[str, Any]


class NumberBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flow_id: str = Field(min_length=1, max_length=32)


def _problem(err: IvrError) -> HubError:
    """The store's errors as problem responses (codes kept)."""
    if isinstance(err, FlowNotFound):
        return NotFound(err.message, details=err.details, code=err.code)
    if isinstance(err, IvrConflict):
        return Conflict(err.message, details=err.details, code=err.code)
    if isinstance(err, PromptUnsupported):
        return UnsupportedMediaType(err.message, code=err.code)
    if isinstance(err, FlowInvalid):
        # ``problems`` (node, field, message) and the usual ``errors`` (loc, msg) of a 422
        errors = [{"loc": [p["node"] or "flow", *([p["field"]] if p["field"] else [])],
                   "msg": p["message"]} for p in err.details.get("problems", [])]
        return ValidationFailed(err.message, details={**err.details, "errors": errors},
                                code=err.code)
    if isinstance(err, (PromptInvalid, BadRequest)):
        return ValidationFailed(err.message, details=err.details, code=err.code)
    return HubError(err.message, details=err.details, code=err.code)


async def _read_user(request: Request) -> Any:
    user = await current_user(request)
    if not ({"automation", "supervise"} & set(user.permissions)):
        user.require("automation")
    return user


class IvrComponent:
    name = "ivr"
    provides: tuple[str, ...] = ("ivr",)
    uses: tuple[str, ...] = ()
    uses_later: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._services: Services | None = None
        self.store: IvrStore | None = None
        self._by_number: dict[str, Flow] = {}
        self._by_id: dict[str, Flow] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renderer: PromptRenderer | None = None
        self._refresh_lock = asyncio.Lock()
        self._hooks: dict[str, Hook] = {"contact": self._contact_hook}

    @property
    def services(self) -> Services:
        assert self._services is not None, "the IVR component is not started"
        return self._services

    @property
    def s(self) -> IvrStore:
        assert self.store is not None, "the IVR component is not started"
        return self.store

    # ------------------------------------------------------------------ for the call service

    def flow_for_number(self, did: str) -> Flow | None:
        """The published flow for a dialled number (from memory: no I/O on the call path)."""
        return self._by_number.get(normalise_number(did))

    def flow_by_id(self, flow_id: str) -> Flow | None:
        return self._by_id.get(flow_id)

    async def load_flow_for_number(self, did: str) -> Flow | None:
        await self.refresh()
        return self.flow_for_number(did)

    async def new_session(self, did: str, caller: str, now: float, *, session_id: str = "",
                          variables: dict[str, Any] | None = None) -> IvrSession | None:
        """A session on the flow published for ``did`` (None when the number has none), with the
        caller's contact looked up: ``vip`` for VIP conditions, ``contact_id``/``contact_name``
        in the variables."""
        flow = self.flow_for_number(did)
        if flow is None:
            return None
        seeded = dict(variables or {})
        contact = await self._contact(caller)
        if contact is not None:
            seeded.setdefault("contact_id", contact["id"])
            seeded.setdefault("contact_name", contact.get("name"))
        return IvrSession(flow, caller=caller, called=did, now=now,
                          vip=bool(contact and contact.get("vip")), variables=seeded,
                          session_id=session_id)

    # ------------------------------------------------------------------ data lookup hooks

    def register_hook(self, name: str, fn: Hook) -> None:
        """A data hook for ``lookup`` nodes (and ``speech_menu`` FAQ matching): ``await fn(args)``
        returns any JSON-able value. Other components (FAQ, work orders) register theirs."""
        self._hooks[name] = fn

    async def lookup(self, name: str, args: dict[str, Any], timeout_s: float = 5.0) -> LookupResult:
        """Run a hook for a ``Lookup`` action; the answer to feed back to the session."""
        fn = self._hooks.get(name)
        if fn is None:
            return LookupResult(name, error=f"no lookup hook named {name!r}")
        try:
            async with asyncio.timeout(timeout_s):
                return LookupResult(name, await fn(dict(args)))
        except TimeoutError:
            return LookupResult(name, error="timeout")
        except Exception as err:  # noqa: BLE001 - a failing hook is a flow branch, not a crash
            log.warning("IVR lookup hook %s failed: %s", name, err)
            return LookupResult(name, error=str(err) or type(err).__name__)

    async def _contact(self, phone: str) -> dict[str, Any] | None:
        if not phone:
            return None
        try:
            return await self.services.contacts.find_by_identity(phone=phone)
        except HubError:
            return None

    async def _contact_hook(self, args: dict[str, Any]) -> dict[str, Any]:
        """Built-in hook ``contact``: the caller's customer record (by ``phone`` or ``caller``)."""
        contact = await self._contact(str(args.get("phone") or args.get("caller") or ""))
        if contact is None:
            return {"found": False}
        return {"found": True, "id": contact["id"], "name": contact.get("name"),
                "vip": bool(contact.get("vip")), "tags": contact.get("tags") or [],
                "owner_agent_id": contact.get("owner_agent_id"),
                **{k: v for k, v in (contact.get("custom") or {}).items()}}

    async def _calendars(self) -> dict[str, Any]:
        out = {}
        for row in await self.services.directory.list_calendars():
            try:
                out[row["name"]] = calendar_from_mapping(row)
            except (ValueError, KeyError, TypeError):
                log.warning("calendar %s is invalid; IVR conditions on it fail closed", row["name"])
        return out

    async def refresh(self) -> None:
        """Rebuild the published flows by number (after a publish, a routing or calendar change)."""
        async with self._refresh_lock:
            calendars = await self._calendars()
            by_number: dict[str, Flow] = {}
            by_id: dict[str, Flow] = {}
            for item in await self.s.published():
                try:
                    definition = FlowDefinition.model_validate(item["definition"])
                except ValueError:
                    log.exception("published IVR flow %s no longer parses", item["name"])
                    continue
                audio = dict(item["audio"])
                audio.update(self._flow_audio(item["definition"]))
                flow = Flow(definition, audio, calendars, item["id"], item["version"])
                by_id[item["id"]] = flow
                for num in item["numbers"]:
                    by_number[num] = flow
            self._by_number, self._by_id = by_number, by_id
            self.renderer.forget(set(by_id))

    # ------------------------------------------------------------------ TTS pre-rendering

    @property
    def renderer(self) -> PromptRenderer:
        assert self._renderer is not None, "the IVR component is not started"
        return self._renderer

    def _build_engine(self) -> Any:
        """The TTS router from the ``voice_tts_*`` settings (blocking: loads the voices)."""
        from voice.tts import TtsConfig, create_tts

        settings = self.services.settings
        return create_tts(TtsConfig.from_settings(settings.section(TtsSettings),
                                                  cache_dir=settings.data_dir / "tts-cache"))

    def _engine(self) -> Any:
        return self.renderer.engine()

    def _flow_audio(self, definition: dict[str, Any]) -> dict[str, str]:
        """The rendered prompts of a flow that are ready (from memory: no I/O)."""
        paths = self.renderer.paths
        return {p.key: paths[p.key] for p in flow_prompts(definition) if p.key in paths}

    async def audio_for(self, prompt: Prompt) -> str | None:
        """The WAV (8 kHz mono 16-bit) to play for one prompt of a ``Play`` action: its ``path``
        when it has one, else a TTS prompt that was not rendered ahead (text with variables, a
        failed pre-rendering) is rendered now (off the event loop, cached on disk by text, engine
        and voice). None when no TTS engine speaks it."""
        if prompt.path is not None or prompt.kind != "tts":
            return prompt.path
        try:
            return str(await asyncio.to_thread(self.renderer.render, prompt.value, prompt.voice))
        except Exception as err:  # noqa: BLE001 - the caller hears the rest of the prompts
            log.warning("TTS for an IVR prompt failed: %s", err)
            return None

    async def _render_flow(self, flow_id: str | None, definition: dict[str, Any]) -> int:
        """Render a flow's prompts (``flow_id`` None: a draft, not reported); how many are new."""
        renderer = self.renderer
        prompts = flow_prompts(definition)
        if flow_id is not None:
            renderer.started(flow_id, len(prompts))
        new = 0
        for prompt in prompts:  # one at a time: a stop cancels between two prompts
            known = prompt.key in renderer.paths
            try:
                await asyncio.to_thread(renderer.render_prompt, prompt)
            except Exception as err:  # noqa: BLE001 - reported; the call renders it at play time
                log.warning("IVR prompt %r (voice %s) could not be rendered: %s", prompt.text[:60],
                            prompt.voice or "default", err)
                if flow_id is not None:
                    renderer.done(flow_id, prompt, str(err) or type(err).__name__)
                continue
            new += not known
            if flow_id is not None:
                renderer.done(flow_id, prompt)
        return new

    def _prerender(self, flows: list[tuple[str | None, dict[str, Any]]]) -> None:
        """Render these flows' prompts in the background, then give the published flows the audio."""
        if not self.services.settings.section(IvrSettings).prerender_tts or not flows:
            return
        self.renderer.pending += 1

        async def run() -> None:
            try:
                new = 0
                for flow_id, definition in flows:
                    new += await self._render_flow(flow_id, definition)
                if new:
                    await self.refresh()
            except Exception:  # noqa: BLE001 - calls fall back to rendering at play time
                log.exception("pre-rendering IVR prompts failed")
            finally:
                self.renderer.pending -= 1

        task = asyncio.create_task(run(), name="ivr-prerender")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def prerender_published(self) -> None:
        """Render every published flow's prompts (in the background): when the hub starts with
        voice on, so that calls find them ready."""
        self._prerender([(item["id"], item["definition"]) for item in await self.s.published()])

    def status(self) -> dict[str, Any]:
        """Whether calls reach the flows (voice on, its SIP port) and the published prompts'
        audio: how many are rendered, which failed, whether rendering runs."""
        voice = self.services.ports.voice
        return {"voice_enabled": voice is not None,
                "sip_port": voice.sip_port("UDP") if voice is not None else None,
                "prompt_audio": self.renderer.report()}

    async def tts_voices(self) -> dict[str, Any]:
        """The voices an IVR prompt may name, which engine speaks first, and why others are absent."""
        from voice.tts import TtsError

        try:
            tts = await asyncio.to_thread(self._engine)
        except TtsError as err:
            return {"engine": None, "voices": [], "skipped": err.details.get("skipped", {}),
                    "error": err.message}
        return {
            "engine": tts.name,
            "default_voice": tts.default_voice,
            "voices": [{"id": f"{v.engine}:{v.id}", "language": v.language, "engine": v.engine,
                        "native_rate": v.native_rate} for v in tts.voices()],
            "language_voices": {lang: f"{e}:{v}" for lang, (e, v) in tts.language_voices.items()},
            "skipped": tts.skipped,
        }

    async def wait_prerendered(self) -> None:
        """Wait for pending pre-rendering (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ helpers for handlers

    def _audit(self, tx: Any, flow_id: str, action: str, actor: str | None) -> None:
        tx.emit(Event(EventType.ADMIN_CHANGED, self.services.clock.now(), user_id=actor,
                      data={"entity": "ivr_flow", "id": flow_id, "action": action}))

    async def _known(self) -> dict[str, list[str]]:
        """What a flow may name: calendars, queues and agents (the ``problems`` keywords)."""
        return {"calendars": [c["name"] for c in await self.services.directory.list_calendars()],
                "queues": [q["id"] for q in await self.services.directory.list_queues()],
                "agents": sorted(self.services.routing.agent_ids)}

    async def flow_view(self, flow_id: str) -> dict[str, Any]:
        flow = await self.s.get_flow(flow_id)
        problems = await self.s.problems(flow_id, None, **await self._known())
        flow["problems"] = [p.as_dict() for p in problems]
        return flow

    async def _on_event(self, event: Event) -> None:
        if event.type == EventType.ADMIN_CHANGED and event.data.get("entity") == "calendar":
            task = asyncio.create_task(self.refresh(), name="ivr-refresh")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ HTTP

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        comp = self

        def guarded(fn: Any) -> Any:
            async def inner(request: Request) -> Response:
                try:
                    return await fn(request)
                except IvrError as err:
                    raise _problem(err) from err
            inner.__name__ = fn.__name__
            return inner

        def add(path: str, method: str, summary: str, **kw: Any) -> Any:
            def deco(fn: Any) -> Any:
                return api.add(path, method, summary, tag="ivr", **kw)(guarded(fn))
            return deco

        @add("/api/ivr/flows", "GET", "IVR flows", response=S.Flows, access="automation|supervise")
        async def list_flows(request: Request) -> Response:
            await _read_user(request)
            return json_response({"flows": await comp.s.list_flows()})

        @add("/api/ivr/voices", "GET", "Text-to-speech voices for prompts, and unavailable engines",
             response=S.TtsVoices, access="automation|supervise")
        async def list_voices(request: Request) -> Response:
            await _read_user(request)
            return json_response(await comp.tts_voices())

        @add("/api/ivr/status", "GET", "Whether voice answers the flows' numbers; the prompts' audio",
             response=S.IvrStatus, access="automation|supervise")
        async def ivr_status(request: Request) -> Response:
            await _read_user(request)
            return json_response(comp.status())

        @add("/api/ivr/flows", "POST", "Create an IVR flow (draft)", body=FlowBody, status=201, response=S.FlowDetail,
             access="automation")
        async def create_flow(request: Request) -> Response:
            user = await require(request, "automation")
            body = await parse_body(request, FlowBody)
            fid = await comp.s.create_flow(body.name, body.description, body.definition, user.id)
            comp._prerender([(None, body.definition)])
            return json_response(await comp.flow_view(fid), 201)

        @add("/api/ivr/flows/{id}", "GET", "An IVR flow: draft, problems, prompts, versions", response=S.FlowDetail,
             access="automation|supervise")
        async def get_flow(request: Request) -> Response:
            await _read_user(request)
            return json_response(await comp.flow_view(request.path_params["id"]))

        @add("/api/ivr/flows/{id}", "PATCH", "Edit an IVR flow's draft", body=FlowPatch, response=S.FlowDetail,
             access="automation")
        async def patch_flow(request: Request) -> Response:
            user = await require(request, "automation")
            body = await parse_body(request, FlowPatch)
            changes = body.model_dump(exclude_unset=True, exclude_none=True)
            await comp.s.update_flow(request.path_params["id"], changes, user.id)
            if "definition" in changes:
                comp._prerender([(None, changes["definition"])])
            return json_response(await comp.flow_view(request.path_params["id"]))

        @add("/api/ivr/flows/{id}", "DELETE", "Delete an IVR flow", status=204, access="automation")
        async def delete_flow(request: Request) -> Response:
            user = await require(request, "automation")
            await comp.s.delete_flow(request.path_params["id"], user.id)
            await comp.refresh()
            return Response(status_code=204)

        @add("/api/ivr/flows/{id}/validate", "POST", "Problems of a flow definition (not saved)",
             body=ValidateBody, response=S.Problems, access="automation")
        async def validate(request: Request) -> Response:
            await require(request, "automation")
            body = await parse_body(request, ValidateBody)
            problems = await comp.s.problems(request.path_params["id"], body.definition,
                                             **await comp._known())
            return json_response({"problems": [p.as_dict() for p in problems]})

        @add("/api/ivr/flows/{id}/publish", "POST", "Publish the draft as a new version", response=S.Published,
             access="automation")
        async def publish(request: Request) -> Response:
            user = await require(request, "automation")
            fid = request.path_params["id"]
            version = await comp.s.publish(fid, user.id, **await comp._known())
            await comp.refresh()
            comp._prerender([(fid, (await comp.s.version(fid, version))["definition"])])
            return json_response({"version": version, "flow": await comp.flow_view(fid)})

        @add("/api/ivr/flows/{id}/versions/{version:int}", "GET", "A published version", response=S.FlowVersion,
             access="automation|supervise")
        async def get_version(request: Request) -> Response:
            await _read_user(request)
            return json_response(await comp.s.version(request.path_params["id"],
                                                      int(request.path_params["version"])))

        @add("/api/ivr/flows/{id}/prompts/{name}", "PUT",
             "Upload a prompt (multipart 'file', WAV; stored as 8 kHz mono 16-bit)", status=201,
             response=S.PromptFile, access="automation")
        async def put_prompt(request: Request) -> Response:
            user = await require(request, "automation")
            data, filename = await comp._read_upload(request)
            saved = await comp.s.save_prompt(request.path_params["id"],
                                             request.path_params["name"], filename, data, user.id)
            await comp.refresh()
            return json_response(saved, 201)

        @add("/api/ivr/flows/{id}/prompts/{name}/audio", "GET", "A prompt's audio (WAV)", access="automation|supervise")
        async def prompt_audio(request: Request) -> Response:
            await _read_user(request)
            path = await comp.s.prompt_file(request.path_params["id"], request.path_params["name"])
            return FileResponse(path, media_type="audio/wav",
                                headers={"X-Content-Type-Options": "nosniff",
                                         "Cache-Control": "no-store"})

        @add("/api/ivr/flows/{id}/prompts/{name}", "DELETE", "Delete a prompt", status=204, access="automation")
        async def delete_prompt(request: Request) -> Response:
            user = await require(request, "automation")
            await comp.s.delete_prompt(request.path_params["id"], request.path_params["name"],
                                       user.id)
            await comp.refresh()
            return Response(status_code=204)

        @add("/api/ivr/numbers", "GET", "Dialled numbers routed to IVR flows", response=S.NumberRoutes,
             access="automation|supervise")
        async def list_numbers(request: Request) -> Response:
            await _read_user(request)
            return json_response({"numbers": await comp.s.list_numbers()})

        @add("/api/ivr/numbers/{number}", "PUT", "Route a dialled number to a flow", body=NumberBody,
             response=S.NumberSet, access="automation")
        async def put_number(request: Request) -> Response:
            user = await require(request, "automation")
            body = await parse_body(request, NumberBody)
            num = await comp.s.route_number(request.path_params["number"], body.flow_id, user.id)
            await comp.refresh()
            return json_response({"number": num, "flow_id": body.flow_id})

        @add("/api/ivr/numbers/{number}", "DELETE", "Stop routing a number to a flow", status=204, access="automation")
        async def delete_number(request: Request) -> Response:
            user = await require(request, "automation")
            await comp.s.unroute_number(request.path_params["number"], user.id)
            await comp.refresh()
            return Response(status_code=204)

    async def _read_upload(self, request: Request) -> tuple[bytes, str]:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise UnsupportedMediaType("upload the prompt as multipart/form-data with a 'file' field")
        limit = self.services.settings.max_upload_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit + 64 * 1024:
            raise PayloadTooLarge(f"the file is larger than the limit of {limit // 1024} KiB")
        try:
            form = await request.form(max_files=1, max_fields=5, max_part_size=limit + 1)
        except Exception as err:  # noqa: BLE001 - multipart parser errors are the client's fault
            if "size" in str(err).lower():
                raise PayloadTooLarge(f"the file is larger than the limit of {limit // 1024} KiB") from err
            raise ValidationFailed(f"could not read the upload: {err}") from err
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("the form needs a 'file' field with a file")
            chunks = []
            total = 0
            while chunk := await upload.read(64 * 1024):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLarge(f"the file is larger than the limit of {limit // 1024} KiB")
                chunks.append(chunk)
            return b"".join(chunks), upload.filename or "prompt.wav"
        finally:
            await form.close()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, services: Services) -> None:
        self._services = services
        self.store = IvrStore(services.db, services.clock.now,
                              services.settings.data_dir / "ivr" / "prompts", self._audit,
                              services.settings.max_upload_bytes)
        services.bus.subscribe(self._on_event, types=(EventType.ADMIN_CHANGED,), name="voice.ivr")
        ivr = services.settings.section(IvrSettings)
        self._renderer = PromptRenderer(Path(ivr.tts_cache_dir) if ivr.tts_cache_dir
                                        else services.settings.data_dir / "ivr" / "tts", self._build_engine)
        services.ports.ivr = self
        await self.refresh()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._tasks.clear()

    async def seed_demo(self, services: Services) -> None:
        from voice.ivr.demo import seed_demo_flow

        await seed_demo_flow(self, services)
