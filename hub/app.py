"""The one wiring point of the hub: builds the services and the ASGI application.

Channel adapters and the other components are handed in by the caller (``bootstrap.py``); the hub
never imports them. They reach each other through ``services.ports`` (hub/ports.py); the order they
start in follows from what each declares it ``provides`` and ``uses``."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

import socketio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from hub import __version__
from hub.api import admin, crm, desk, privacy, sessions, supervisor, texts
from hub.api.csrf import CsrfGuard
from hub.api.headers import HeaderPolicy, SecurityHeaders
from hub.api.http import Api
from hub.clock import Clock, ShiftedClock, SystemClock
from hub.config import Settings, enabled_consumers
from hub.db.consumers import EventLogStore
from hub.db.engine import make_engine, migrate
from hub.db.uow import Database
from hub.events import EventBus, EventType
from hub.memory import keep_large_buffers_unretained, release_free_memory
from hub.origins import parse_origins
from hub.ports import Ports, start_order
from hub.ratelimit import RateLimits
from hub.realtime import DeskNamespace, DeskPushes
from hub.security import ScryptParams
from hub.services.attachments import AttachmentStore
from hub.services.auth import AuthService
from hub.services.contacts import ContactService
from hub.services.conversations import ConversationService
from hub.services.directory import DirectoryService
from hub.services.eventlog import EventLog
from hub.services.identity import IdentityService
from hub.services.kv import KeyValueStore
from hub.services.privacy import PrivacyService
from hub.services.routing import RoutingService
from hub.services.scheduler import Scheduler
from hub.services.texts import TextService
from hub.services.wallboard import WallboardService

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    bus: EventBus
    auth: AuthService
    directory: DirectoryService
    contacts: ContactService
    conversations: ConversationService
    routing: RoutingService
    attachments: AttachmentStore
    wallboard: WallboardService
    eventlog: EventLog
    sio: socketio.AsyncServer
    # live pushes to the desks (hub/realtime.py): components push through it, not sio
    push: DeskPushes
    # what the components offer each other (hub/ports.py); each None while not running
    ports: Ports = field(default_factory=Ports)
    # the durable scheduler (hub/services/scheduler.py); always set by build_services
    scheduler: Scheduler = None  # type: ignore[assignment]
    # durable named values for components (hub/services/kv.py); always set by build_services
    kv: KeyValueStore = None  # type: ignore[assignment]
    # rate limits for what anonymous callers and customers do (hub/ratelimit.py)
    limits: RateLimits = None  # type: ignore[assignment]
    # data-subject export and erasure, retention (hub/services/privacy.py); components register
    # their personal-data holders with it; always set by build_services
    privacy: PrivacyService = None  # type: ignore[assignment]
    # the customer-facing texts per language (hub/services/texts.py); always set by build_services
    texts: TextService = None  # type: ignore[assignment]
    # chat customers proving a claimed identity (hub/services/identity.py); always set by build_services
    identity: IdentityService = None  # type: ignore[assignment]


class Channel(Protocol):
    """A component handed in by the composition root (a channel adapter, the knowledge base,
    workflows, voice): registers its endpoints/namespaces, then runs while the hub runs. It may
    also define ``async seed_demo(services)``, called after start when demo data is on.

    ``provides`` names the ports (attributes of :class:`hub.ports.Ports`) it fills in ``start``;
    ``uses`` the ports it reads, whose providers start before it and stop after it;
    ``uses_later`` ports it reads only while serving (a mail, a call, a timer), outside the start
    order. Any of them may be None at run time: its component is off."""

    name: str
    provides: tuple[str, ...]
    uses: tuple[str, ...]
    uses_later: tuple[str, ...]

    def register(self, api: Api, sio: socketio.AsyncServer) -> None: ...

    async def start(self, services: Services) -> None: ...

    async def stop(self) -> None: ...


async def build_services(settings: Settings, sio: socketio.AsyncServer,
                         clock: Clock | None = None) -> Services:
    clock = clock or (ShiftedClock(settings.clock_start_epoch) if settings.clock_start else SystemClock())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    await migrate(engine)
    bus = EventBus()
    bus.enabled = enabled_consumers(settings)
    db = Database(engine, bus)
    await bus.open(EventLogStore(db, clock))
    auth = AuthService(db, clock, settings.session_ttl_s, settings.login_max_failures,
                       scrypt=ScryptParams(settings.password_scrypt_n), demo=settings.demo)
    directory = DirectoryService(db, clock)
    contacts = ContactService(db, clock)
    conversations = ConversationService(db, clock, contacts, settings.widget_session_ttl_s)
    routing: RoutingService
    if settings.redis_url:
        # several processes (docs/SCALING.md): the ACD runs in the leader, the others forward
        import redis.asyncio as aioredis

        from hub.services.routing_cluster import ClusterRouting

        def local_routing() -> RoutingService:
            return RoutingService(db, clock, directory, auth, conversations)

        redis_client = aioredis.Redis.from_url(settings.redis_url)
        # ClusterRouting has RoutingService's interface (a facade, not a subclass)
        routing = cast(RoutingService, ClusterRouting(local_routing, redis_client, clock, directory,
                                                      auth, conversations))
    else:
        routing = RoutingService(db, clock, directory, auth, conversations)
    attachments = AttachmentStore(db, clock, settings.attachments_dir, settings.max_upload_bytes,
                                  settings.allowed_upload_types)
    wallboard = WallboardService(db, clock, directory, auth, routing)
    scheduler = Scheduler(db, clock, poll_interval_s=settings.scheduler_poll_interval_s,
                          lease_s=settings.scheduler_lease_s,
                          handler_timeout_s=settings.scheduler_handler_timeout_s,
                          max_attempts=settings.scheduler_max_attempts,
                          retry_base_s=settings.scheduler_retry_base_s)
    kv = KeyValueStore(db)
    privacy = PrivacyService(db, clock, settings, attachments, kv, scheduler, bus)
    return Services(settings, clock, db, bus, auth, directory, contacts, conversations, routing,
                    attachments, wallboard, EventLog(db), sio, DeskPushes(sio), scheduler=scheduler,
                    kv=kv, limits=RateLimits(settings), privacy=privacy,
                    texts=TextService(db, clock, settings.default_language),
                    identity=IdentityService(db, clock, code_ttl_s=settings.identity_code_ttl_s,
                                             max_attempts=settings.identity_code_max_attempts))


class SpaFiles(StaticFiles):
    """The built web UI; unknown non-API paths get ``index.html`` (client-side routing)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(("api/", "socket.io")) or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)


def create_app(settings: Settings, *, channels: Sequence[Channel] = (), clock: Clock | None = None,
               seed_demo: Any = None) -> socketio.ASGIApp:
    keep_large_buffers_unretained()
    # several processes: rooms and emits span them through Redis (docs/SCALING.md)
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], logger=False,
                               engineio_logger=False, ping_interval=25, ping_timeout=20,
                               max_http_buffer_size=256 * 1024, client_manager=manager)
    # providers first (hub/ports.py); a cycle or a port with two providers fails here, at build
    started = start_order(channels)
    api = Api(check_responses=settings.api_check_responses)
    desk.register(api)
    crm.register(api)
    admin.register(api)
    supervisor.register(api)
    sessions.register(api)
    privacy.register(api)
    texts.register(api)
    for ch in channels:
        ch.register(api, sio)

    document: list[bytes] = []  # rendered on the first request (~0.1 s of CPU), then served as is

    async def openapi(request: Request) -> Response:
        if not document:
            document.append(bytes(JSONResponse(api.openapi("Contact hub API", __version__)).body))
        return Response(document[0], media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await build_services(settings, sio, clock)
        app.state.services = services
        if seed_demo is not None:
            await seed_demo(services)
        desk_ns = DeskNamespace(services)
        sio.register_namespace(desk_ns)
        # pushes to sockets: only this process's events (with several processes, the Redis
        # manager delivers the emits to every process's clients)
        services.bus.subscribe(desk_ns.on_hub_event, name="realtime.desk", local_only=True)
        # every process closes its own sockets of an ended session
        services.bus.subscribe(desk_ns.on_access_changed, name="realtime.access",
                               types=(EventType.USER_ACCESS_CHANGED,))
        services.bus.subscribe(services.wallboard.on_event, name="wallboard")
        cluster = None
        if settings.redis_url:
            from hub.cluster import Cluster
            from hub.services.routing_cluster import ClusterRouting

            cluster = Cluster(services, cast(ClusterRouting, services.routing),
                              cast(ClusterRouting, services.routing).redis)
            services.ports.cluster = cluster
            await cluster.start()  # leads (ACD restored) or follows
        else:
            await services.routing.start()
        await services.wallboard.start()
        for ch in started:
            with services.bus.owned_by(ch.name):  # its subscribers leave when it stops
                await ch.start(services)
        if seed_demo is not None:
            # Components (channels, kb, workflows, voice) may seed their own demo data once the
            # hub's demo users and queues exist and they are started.
            for ch in started:
                seed = getattr(ch, "seed_demo", None)
                if seed is not None:
                    await seed(services)
        # the retention timer and the erased files' consumer, once the components' personal-data
        # holders are registered (in their start)
        await services.privacy.start()
        # Durable event consumers catch up, and timers fire, once every component has registered
        # its handlers (in its start).
        if cluster is not None:
            services.bus.start_live()
            await cluster.ready()  # durable consumers on the leader only
        else:
            await services.bus.start()
        await services.scheduler.start()
        # Start-up objects (models, routes, configuration) live for the whole run: keep them out of
        # the collector's generations so full collections stay short under load.
        gc.collect()
        gc.freeze()
        release_free_memory()  # what the start-up work freed
        log.info("hub ready on %s://%s:%s (%s)", "https" if settings.tls_certfile else "http",
                 settings.host, settings.port, services.db.dialect)
        try:
            yield
        finally:
            # Every step runs even when one before it fails (logged): the database is always
            # closed, whatever a component's stop raised.
            steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("scheduler", services.scheduler.stop)]
            if cluster is not None:
                steps.append(("cluster", cluster.stop))
            steps.append(("event consumers", services.bus.stop_consumers))
            for ch in reversed(started):
                steps.append((f"{ch.name} subscribers", partial(services.bus.release, ch.name)))
                steps.append((ch.name, ch.stop))
            steps += [("desk namespace", desk_ns.close), ("routing", services.routing.stop),
                      ("event bus", services.bus.close)]
            if cluster is not None:
                steps.append(("cluster connection", cluster.close))
            try:
                for what, stop in steps:
                    try:
                        await stop()
                    except Exception:  # noqa: BLE001 - the next steps must still run
                        log.exception("stopping %s failed", what)
            finally:
                await services.db.close()

    routes: list[Any] = [Route("/api/openapi.json", openapi, methods=["GET"]), *api.routes]

    async def api_not_found(request: Request) -> Response:
        return JSONResponse({"status": 404, "code": "not_found", "title": "Not found",
                             "detail": f"no API endpoint {request.method} {request.url.path}"},
                            status_code=404, media_type="application/problem+json")

    routes.append(Route("/api/{rest:path}", api_not_found,
                        methods=["GET", "POST", "PATCH", "PUT", "DELETE"]))
    web_dir = Path(settings.web_dir)
    if (web_dir / "index.html").exists():
        routes.append(Mount("/", SpaFiles(directory=web_dir, html=True), name="web"))
    else:
        async def no_ui(request: Request) -> Response:
            return JSONResponse({"detail": f"the web UI is not built ({web_dir} is missing); "
                                           "run `make web`"}, status_code=503)
        routes.append(Route("/{rest:path}", no_ui))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.api = api
    guarded = CsrfGuard(app, parse_origins(settings.trusted_origins))  # hub/api/csrf.py
    # CSP, frame-ancestors, nosniff, Referrer-Policy, HSTS (hub/api/headers.py)
    headed = SecurityHeaders(guarded, HeaderPolicy(parse_origins(settings.widget_origins),
                                                   hsts=settings.secret_cookie_secure))
    return socketio.ASGIApp(sio, other_asgi_app=headed, socketio_path="socket.io")


