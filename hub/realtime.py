"""Socket.IO for staff (namespace ``/desk``): pushes every committed event to the agents and
supervisors allowed to see it. Authentication is the ``hub_session`` cookie of the connect
request; each client event re-checks who is asking."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import socketio

from hub.api.http import SESSION_COOKIE
from hub.errors import HubError
from hub.events import Event, EventType

if TYPE_CHECKING:
    from hub.app import Services

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

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        user = await self.s.auth.user_for_token(cookie_value(environ, SESSION_COOKIE))
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("not_authenticated")
        await self.save_session(sid, {"user_id": user.id})
        await self.enter_room(sid, f"user:{user.id}")
        if "wallboard" in user.permissions or "supervise" in user.permissions:
            await self.enter_room(sid, "supervisors")
        for qid in self.s.conversations.user_queue_ids(user):
            await self.enter_room(sid, f"queue:{qid}")
        if user.is_agent:
            await self.emit("agent_state", {"agent_id": user.id, **self.s.routing.agent_state(user.id)},
                            to=sid)
            for cid, expires_at in self.s.routing.offers_for(user.id):
                await self._emit_offer(cid, expires_at, sid)

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
            rooms = ["supervisors"]
            if ev.data.get("assignee_id"):
                rooms.append(f"user:{ev.data['assignee_id']}")
            self._push("message", msg, rooms)
        elif t is EventType.TYPING:
            if ev.data.get("sender") == "customer":
                row = await self.s.conversations.row(ev.conversation_id)  # type: ignore[arg-type]  # typing: in a conversation
                if row.assignee_id:
                    await self.emit("typing", {"conversation_id": ev.conversation_id,
                                               "sender": "customer"}, to=f"user:{row.assignee_id}")
        elif t is EventType.CONVERSATION_OFFERED:
            await self._emit_offer(ev.conversation_id, ev.data["expires_at"],  # type: ignore[arg-type]  # offers name it
                                   f"user:{ev.user_id}")
        elif t is EventType.AGENT_STATE_CHANGED:
            await self.emit("agent_state", {"agent_id": ev.user_id,
                                            **self.s.routing.agent_state(ev.user_id)},  # type: ignore[arg-type]  # names the agent
                            to=f"user:{ev.user_id}")
        if t is EventType.CONVERSATION_OFFER_REVOKED:
            await self.emit("offer_revoked", {"conversation_id": ev.conversation_id,
                                              "reason": ev.data.get("reason")}, to=f"user:{ev.user_id}")
        if t in CONVERSATION_EVENTS and ev.conversation_id:
            row, summary = await self.s.conversations.row_and_summary(ev.conversation_id)
            conv_rooms = {"supervisors"}
            if row.queue_id:
                conv_rooms.add(f"queue:{row.queue_id}")
            for uid in (row.assignee_id, ev.user_id, ev.data.get("from_agent_id"),
                        ev.data.get("assignee_id")):
                if uid:
                    conv_rooms.add(f"user:{uid}")
            await self.emit("conversation", summary, to=sorted(conv_rooms))
            if t is EventType.CONVERSATION_ASSIGNED:
                pop = await self.s.conversations.screen_pop(ev.conversation_id)
                await self.emit("screen_pop", pop, to=f"user:{ev.user_id}")
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
                await self.emit("wallboard", await self.s.wallboard.snapshot(), to="supervisors")
            except Exception:  # noqa: BLE001
                log.exception("wallboard push failed")
            await asyncio.sleep(self.s.settings.wallboard_interval_s)

    async def close(self) -> None:
        if self._pushes:
            await asyncio.wait(list(self._pushes), timeout=2)
        if self._wallboard_task is not None:
            self._wallboard_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._wallboard_task
