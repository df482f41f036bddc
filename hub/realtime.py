"""Socket.IO for staff (namespace ``/desk``): pushes every committed event to the agents and
supervisors allowed to see it. Authentication is the ``hub_session`` cookie of the connect
request; each client event re-checks who is asking. A socket lives no longer than its session:
it is closed when the session expires, and on every process when the session ends or the user's
access changes (``user.access_changed``: logout, an administrator's or the user's own "end
session", deactivation, a new password, new roles) — so pushes stop at once, and a socket whose
user still has a session reconnects with the rooms its access allows now."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import socketio

from hub.api.http import SESSION_COOKIE
from hub.errors import HubError
from hub.events import Event, EventType
from hub.origins import parse_origins, socket_origin_allowed

if TYPE_CHECKING:
    from hub.app import Services



# --- pushes to the desks ----------------------------------------------------------------------
# Live pushes to the agents' desks (the ``/desk`` namespace): the one way a component tells a
# desk something (``services.push``). A push names its audience by who should see it (a user,
# the supervisors, whoever handles a conversation), never by room: the rooms, and who joins which,
# are the rules of ``DeskNamespace.on_connect`` (a user's own room, the rooms of their queues,
# ``supervisors`` with the ``supervise`` or ``wallboard`` permission).
DESK = "/desk"
SUPERVISORS = "supervisors"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def queue_room(queue_id: str) -> str:
    return f"queue:{queue_id}"


class DeskPushes:
    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def to_user(self, user_id: str, event: str, data: Any) -> None:
        """The user's own desks (every tab they have open)."""
        await self._sio.emit(event, data, to=user_room(user_id), namespace=DESK)

    async def to_supervisors(self, event: str, data: Any, *, also: Iterable[str | None] = ()) -> None:
        """Supervisors, and the users in ``also`` (e.g. who started a bulk job)."""
        rooms = [SUPERVISORS, *(user_room(u) for u in dict.fromkeys(also) if u)]
        await self._sio.emit(event, data, to=rooms, namespace=DESK)

    async def about_conversation(self, event: str, data: Any, *, assignee_id: str | None,
                                 queue_id: str | None = None, also: Iterable[str | None] = ()) -> None:
        """Who may see a conversation: supervisors, its assignee, the members of its queue (when
        ``queue_id`` is given) and the users in ``also``."""
        rooms = [SUPERVISORS, *(user_room(u) for u in dict.fromkeys([assignee_id, *also]) if u)]
        if queue_id:
            rooms.append(queue_room(queue_id))
        await self._sio.emit(event, data, to=rooms, namespace=DESK)

    def has_desk(self, user_id: str) -> bool:
        """Whether the user has a desk connected to this process."""
        participants = self._sio.manager.get_participants(DESK, user_room(user_id))
        return next(iter(participants), None) is not None

log = logging.getLogger(__name__)

CONVERSATION_EVENTS = frozenset({
    EventType.CONVERSATION_CREATED, EventType.CONVERSATION_QUEUED, EventType.CONVERSATION_ASSIGNED,
    EventType.CONVERSATION_TRANSFERRED, EventType.CONVERSATION_OVERFLOWED,
    EventType.CONVERSATION_ABANDONED, EventType.CONVERSATION_CLOSED,
    EventType.CONVERSATION_CONTACT_LINKED, EventType.CONVERSATION_CSAT,
    EventType.CONVERSATION_OFFER_REVOKED,
})
WALLBOARD_EVENTS = CONVERSATION_EVENTS | {EventType.AGENT_STATE_CHANGED,
                                          EventType.CONVERSATION_OFFERED}


def cookie_value(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    jar = SimpleCookie()
    with contextlib.suppress(Exception):
        jar.load(raw)
    morsel = jar.get(name)
    return morsel.value if morsel else None


class DeskNamespace(socketio.AsyncNamespace):
    def __init__(self, services: Services) -> None:
        super().__init__("/desk")
        self.s = services
        self._wallboard_task: asyncio.Task[None] | None = None
        self._wallboard_dirty = False
        self._pushes: set[asyncio.Task[None]] = set()
        #: this process's sockets by session (token hash) and by user; each socket's expiry timer
        self._by_session: dict[str, set[str]] = {}
        self._by_user: dict[str, set[str]] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._socket: dict[str, tuple[str, str]] = {}  # sid → (user id, session hash)
        self._trusted = parse_origins(services.settings.trusted_origins)
        #: agents whose last desk on this process closed: the timer that sets them not ready
        self._gone: dict[str, asyncio.TimerHandle] = {}
        self._process = uuid.uuid4().hex[:12]  # this process's field in the shared desk counts

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not socket_origin_allowed(environ, self._trusted):  # a page of another site (hub/api/csrf.py)
            raise socketio.exceptions.ConnectionRefusedError("origin_not_allowed")
        found = await self.s.auth.session_for_token(cookie_value(environ, SESSION_COOKIE))
        if found is None:
            raise socketio.exceptions.ConnectionRefusedError("not_authenticated")
        user, session, expires_at = found
        await self.save_session(sid, {"user_id": user.id, "session": session})
        self._socket[sid] = (user.id, session)
        self._by_session.setdefault(session, set()).add(sid)
        self._by_user.setdefault(user.id, set()).add(sid)
        loop = asyncio.get_running_loop()
        self._expiry[sid] = loop.call_later(max(0.0, expires_at - self.s.clock.now()),
                                            self._close_soon, sid, "expired")
        await self.enter_room(sid, user_room(user.id))
        if user.id in self.s.routing.agent_ids:  # (the same test as on disconnect: counts stay paired)
            await self._desk_opened(user.id)
        if "wallboard" in user.permissions or "supervise" in user.permissions:
            await self.enter_room(sid, SUPERVISORS)
        for qid in self.s.conversations.user_queue_ids(user):
            await self.enter_room(sid, queue_room(qid))
        if user.is_agent:
            await self.emit("agent_state", {"agent_id": user.id, **self.s.routing.agent_state(user.id)},
                            to=sid)
            for cid, expires_at in self.s.routing.offers_for(user.id):
                await self._emit_offer(cid, expires_at, sid)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        timer = self._expiry.pop(sid, None)
        if timer is not None:
            timer.cancel()
        user_id, session = self._socket.pop(sid, (None, None))
        for index, key in ((self._by_user, user_id), (self._by_session, session)):
            if key is not None and key in index:
                index[key].discard(sid)
                if not index[key]:
                    del index[key]
        if user_id is not None and user_id in self.s.routing.agent_ids:
            await self._desk_closed(user_id)

    # --- presence: an agent whose desks are all closed is not offered work ---------------------
    def _shared_desks(self) -> Any:
        """Redis when several processes serve the centre (each counts its own desks), else None."""
        cluster = self.s.ports.cluster
        return getattr(cluster, "redis", None)

    async def _desk_opened(self, user_id: str) -> None:
        timer = self._gone.pop(user_id, None)
        if timer is not None:
            timer.cancel()
        redis = self._shared_desks()
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.hincrby(f"hub:desks:{user_id}", self._process, 1)

    async def _desk_closed(self, user_id: str) -> None:
        redis = self._shared_desks()
        if redis is not None:
            with contextlib.suppress(Exception):
                await redis.hincrby(f"hub:desks:{user_id}", self._process, -1)
        grace = self.s.settings.agent_disconnect_grace_s
        if grace <= 0 or user_id in self._by_user or user_id in self._gone:
            return
        self._gone[user_id] = asyncio.get_running_loop().call_later(grace, self._away_soon, user_id)

    def _away_soon(self, user_id: str) -> None:
        self._gone.pop(user_id, None)
        task = asyncio.create_task(self._away(user_id), name=f"desk-away-{user_id}")
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _away(self, user_id: str) -> None:
        """The grace period passed with no desk of the agent on this process (nor, with several
        processes, on another): a Ready agent (or one in wrap-up) becomes not ready,
        "disconnected", and what was offered to them goes to others. A chosen state (not ready
        for lunch, logged out) stays as it is; coming back, the agent chooses Ready again."""
        if user_id in self._by_user:
            return
        redis = self._shared_desks()
        if redis is not None:
            try:
                counts = await redis.hgetall(f"hub:desks:{user_id}")
            except Exception:  # noqa: BLE001 - unknown: leave the agent as they are
                return
            if any(int(n) > 0 for n in counts.values()):
                return
        if self.s.routing.agent_state(user_id)["state"] not in ("ready", "wrap_up"):
            return
        try:
            await self.s.routing.set_agent_state(user_id, "not_ready", "disconnected")
        except HubError as err:  # the agent left the centre meanwhile
            log.info("agent %s: not set not ready after the desk closed: %s", user_id, err.detail)
        else:
            log.info("agent %s: no desk open for %s s: not ready (disconnected)", user_id,
                     self.s.settings.agent_disconnect_grace_s)

    async def on_access_changed(self, ev: Event) -> None:
        """``user.access_changed`` (from any process): close this process's sockets of the ended
        sessions, or all of the user's."""
        sessions = ev.data.get("sessions")
        if sessions is None:
            sids = set(self._by_user.get(str(ev.user_id), ()))
        else:
            sids = {sid for h in sessions for sid in self._by_session.get(h, ())}
        for sid in sids:
            await self._close(sid, str(ev.data.get("reason") or "ended"))

    def _close_soon(self, sid: str, reason: str) -> None:
        task = asyncio.create_task(self._close(sid, reason), name=f"desk-close-{sid}")
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _close(self, sid: str, reason: str) -> None:
        """Tell the desk why (it shows the login page when its session is gone), then close."""
        with contextlib.suppress(Exception):
            await self.emit("session_ended", {"reason": reason}, to=sid)
        with contextlib.suppress(Exception):
            await self.disconnect(sid)

    async def _user(self, sid: str) -> Any:
        session = await self.get_session(sid)
        user = await self.s.auth.user_for_token_id(session.get("user_id")) if session else None
        return user

    async def on_typing(self, sid: str, data: Any) -> dict[str, Any]:
        user = await self._user(sid)
        if user is None:
            return {"ok": False, "code": "not_authenticated"}
        cid = data.get("conversation_id") if isinstance(data, dict) else None
        if not isinstance(cid, str):
            return {"ok": False, "code": "validation_error", "detail": "conversation_id is required"}
        try:
            row = await self.s.conversations.row(cid)
            self.s.conversations.require_handler(user, row)
        except HubError as err:
            return {"ok": False, "code": err.code, "detail": err.detail}
        await self.s.bus.dispatch([Event(EventType.TYPING, self.s.clock.now(), conversation_id=cid,
                                         user_id=user.id, data={"sender": "agent"})])
        return {"ok": True}

    # --- fan-out of committed events ------------------------------------------------------
    async def _emit_offer(self, cid: str, expires_at: float, to: str) -> None:
        _, summary = await self.s.conversations.row_and_summary(cid)
        await self.emit("offer", {"conversation": summary, "expires_at": expires_at}, to=to)

    async def on_hub_event(self, ev: Event) -> None:
        t = ev.type
        if t is EventType.MESSAGE_CREATED:
            msg = ev.data["message"]
            rooms = [SUPERVISORS]
            if ev.data.get("assignee_id"):
                rooms.append(user_room(ev.data['assignee_id']))
            self._push("message", msg, rooms)
        elif t is EventType.TYPING:
            if ev.data.get("sender") == "customer":
                row = await self.s.conversations.row(ev.conversation_id)  # type: ignore[arg-type]  # typing: in a conversation
                if row.assignee_id:
                    await self.emit("typing", {"conversation_id": ev.conversation_id,
                                               "sender": "customer"}, to=user_room(row.assignee_id))
        elif t is EventType.CONVERSATION_OFFERED:
            await self._emit_offer(ev.conversation_id, ev.data["expires_at"],  # type: ignore[arg-type]  # offers name it
                                   user_room(str(ev.user_id)))
        elif t is EventType.AGENT_STATE_CHANGED:
            await self.emit("agent_state", {"agent_id": ev.user_id,
                                            **self.s.routing.agent_state(ev.user_id)},  # type: ignore[arg-type]  # names the agent
                            to=user_room(str(ev.user_id)))
        if t is EventType.CONVERSATION_OFFER_REVOKED:
            await self.emit("offer_revoked", {"conversation_id": ev.conversation_id,
                                              "reason": ev.data.get("reason")}, to=user_room(str(ev.user_id)))
        if t in CONVERSATION_EVENTS and ev.conversation_id:
            row, summary = await self.s.conversations.row_and_summary(ev.conversation_id)
            conv_rooms = {SUPERVISORS}
            if row.queue_id:
                conv_rooms.add(queue_room(row.queue_id))
            for uid in (row.assignee_id, ev.user_id, ev.data.get("from_agent_id"),
                        ev.data.get("assignee_id")):
                if uid:
                    conv_rooms.add(user_room(uid))
            await self.emit("conversation", summary, to=sorted(conv_rooms))
            if t is EventType.CONVERSATION_ASSIGNED:
                agent = await self.s.auth.user_for_token_id(ev.user_id)
                if agent is not None:  # the contact's history as far as this agent may see it
                    pop = await self.s.conversations.screen_pop(agent, ev.conversation_id)
                    await self.emit("screen_pop", pop, to=user_room(agent.id))
        if t in WALLBOARD_EVENTS:
            self._schedule_wallboard()

    def _push(self, event: str, data: Any, to: str | list[str]) -> None:
        """Emit without waiting for the sends to every recipient: an emit costs event-loop turns
        (a task per recipient), and the next event should not wait for them. Emits started in
        order are queued to each socket in order."""
        task = asyncio.create_task(self.emit(event, data, to=to))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    def _schedule_wallboard(self) -> None:
        self._wallboard_dirty = True
        if self._wallboard_task is None or self._wallboard_task.done():
            self._wallboard_task = asyncio.create_task(self._push_wallboard(), name="wallboard-push")

    async def _push_wallboard(self) -> None:
        while self._wallboard_dirty:
            self._wallboard_dirty = False
            try:
                await self.emit("wallboard", await self.s.wallboard.snapshot(), to=SUPERVISORS)
            except Exception:  # noqa: BLE001
                log.exception("wallboard push failed")
            await asyncio.sleep(self.s.settings.wallboard_interval_s)

    async def close(self) -> None:
        for timer in [*self._expiry.values(), *self._gone.values()]:
            timer.cancel()
        self._expiry.clear()
        self._gone.clear()
        if self._pushes:
            await asyncio.wait(list(self._pushes), timeout=2)
        if self._wallboard_task is not None:
            self._wallboard_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._wallboard_task
