"""The web chat channel adapter.

A customer's widget gets an access token when it starts a conversation (pre-chat form); the token
is the only thing the widget holds and it opens exactly that conversation. Customer messages are
acknowledged only after they are committed (the ack carries the stored message)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import socketio
from starlette.requests import Request
from starlette.responses import Response

import channels.webchat.schemas as S
import channels.webchat.texts as texts
from hub.api.http import Api, client_ip, json_response, parse_body, parse_query, save_upload
from hub.api.responses import Attachment
from hub.api.schemas import (
    CsatIn,
    IdentityCodeIn,
    IdentityVerifyIn,
    OfflineIn,
    WidgetConfigQuery,
    WidgetSessionIn,
)
from hub.errors import HubError, InvalidState, NotAuthenticated, ValidationFailed
from hub.events import Event, EventType
from hub.origins import parse_origins, socket_origin_allowed
from hub.security import new_token, token_hash
from hub.services.identity import IssuedCode, NothingToVerify, VerificationLocked
from hub.services.language import normalise_language

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

#: the pre-chat form's fields (key, required); their labels are texts ``widget.prechat.<key>``
PRECHAT_FIELDS = (("name", True), ("email", False), ("phone", False))


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


class WidgetNamespace(socketio.AsyncNamespace):
    def __init__(self, channel: WebchatChannel) -> None:
        super().__init__("/widget")
        self.ch = channel

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        s = self.ch.services
        if not socket_origin_allowed(environ, self.ch.origins):
            raise socketio.exceptions.ConnectionRefusedError("origin_not_allowed")
        token = auth.get("token") if isinstance(auth, dict) else None
        row = await s.conversations.customer_conversation(token if isinstance(token, str) else None)
        if row is None:
            raise socketio.exceptions.ConnectionRefusedError("not_authenticated")
        await self.save_session(sid, {"conversation_id": row.id})
        await self.enter_room(sid, f"widget:{row.id}")

    async def _conversation_id(self, sid: str) -> str | None:
        session = await self.get_session(sid)
        return session.get("conversation_id") if session else None

    async def on_message(self, sid: str, data: Any) -> dict[str, Any]:
        cid = await self._conversation_id(sid)
        if cid is None:
            return {"ok": False, "code": "not_authenticated", "detail": "no conversation"}
        if not isinstance(data, dict) or not isinstance(data.get("body", ""), str):
            return {"ok": False, "code": "validation_error", "detail": "send {body, client_id}"}
        ids = data.get("attachment_ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 10:
            return {"ok": False, "code": "validation_error", "detail": "attachment_ids must be a list of ids"}
        try:
            self.ch.services.limits.widget_messages.take(cid)
            msg = await self.ch.services.conversations.add_message(
                cid, sender="customer", body=data.get("body", ""), client_id=data.get("client_id"),
                attachment_ids=ids or None)
        except HubError as err:
            return {"ok": False, "code": err.code, "detail": err.detail, **err.details}
        return {"ok": True, "message": msg}

    async def on_typing(self, sid: str, data: Any = None) -> None:
        cid = await self._conversation_id(sid)
        if cid is None:
            return
        s = self.ch.services
        await s.bus.dispatch([Event(EventType.TYPING, s.clock.now(), conversation_id=cid,
                                    data={"sender": "customer"})])


class WebchatChannel:
    name = "webchat"
    provides: tuple[str, ...] = ()
    uses: tuple[str, ...] = ("bot",)
    # the verification codes of a claimed identity go out by email or SMS (while serving)
    uses_later: tuple[str, ...] = ("email", "sms")

    def __init__(self, default_queue: str | None = None) -> None:
        self.default_queue = default_queue
        self._services: Services | None = None
        self.origins: frozenset[str] = frozenset({"*"})
        self.namespace = WidgetNamespace(self)

    @property
    def services(self) -> Services:
        assert self._services is not None, "the web chat channel is not started"
        return self._services

    async def start(self, services: Services) -> None:
        self._services = services
        # the sites that embed the widget (widget_origins; empty: any: the widget has its own token)
        self.origins = parse_origins(services.settings.widget_origins or "*")
        services.texts.register(texts.catalogue())
        services.bus.subscribe(self.on_hub_event, name="webchat.widget", local_only=True)  # pushes

    async def stop(self) -> None:
        self._services = None

    # --- the hub's events, as the customer sees them ----------------------------------------
    async def _conversation(self, cid: str | None) -> Any:
        if not cid:
            return None
        row = await self.services.conversations.row(cid)
        return row if row.channel == "chat" else None

    async def on_hub_event(self, ev: Event) -> None:
        t = ev.type
        room = f"widget:{ev.conversation_id}"
        emit = self.namespace.emit
        if t is EventType.MESSAGE_CREATED:
            msg = ev.data["message"]
            if msg["kind"] != "note" and msg["sender"] != "customer" and await self._conversation(ev.conversation_id):
                await emit("message", _customer_view(msg), to=room)
        elif t is EventType.TYPING and ev.data.get("sender") == "agent":
            await emit("typing", {"sender": "agent"}, to=room)
        elif t in (EventType.CONVERSATION_QUEUED, EventType.CONVERSATION_ASSIGNED, EventType.CONVERSATION_TRANSFERRED,
                   EventType.CONVERSATION_CLOSED, EventType.CONVERSATION_OVERFLOWED,
                   EventType.CONVERSATION_ABANDONED):
            row = await self._conversation(ev.conversation_id)
            if row is None:
                return
            await emit("status", await self._status(row), to=room)
            if row.status == "closed" and row.csat_rating is None:
                await emit("csat_request", await self._csat_texts(row.language), to=room)

    async def _status(self, row: Any) -> dict[str, Any]:
        """The status as the customer sees it, with its line in the conversation's language."""
        agent_name = None
        if row.assignee_id:
            agent_name = (await self.services.auth.get_user(row.assignee_id)).display_name
        key = texts.STATUS_TEXT.get(row.status)
        text = await self.services.texts.render(key, row.language, agent_name=agent_name or "") if key else None
        return {"status": row.status, "agent_name": agent_name, "text": text,
                "language": self.services.texts.language(row.language)}

    async def _csat_texts(self, language: str | None) -> dict[str, str]:
        render = self.services.texts.render
        return {"prompt": await render("widget.csat.prompt", language),
                "thanks": await render("widget.csat.thanks", language)}

    # --- HTTP -------------------------------------------------------------------------------
    async def _online(self, queue_id: str) -> bool:
        s = self.services
        queue = await s.directory.get_queue(queue_id)
        snap = s.routing.engine.queue_snapshot(queue_id, s.clock.now())
        if not snap.is_open:
            return False
        return any(s.routing.agent_state(m)["state"] in ("ready", "not_ready", "wrap_up")
                   for m in queue["members"])

    async def _queue_id(self, requested: str | None) -> str:
        queues = await self.services.directory.list_queues()
        ids = {q["id"] for q in queues}
        if requested:
            if requested not in ids:
                raise ValidationFailed(f"queue {requested} does not exist")
            return requested
        if self.default_queue is not None and self.default_queue in ids:
            return self.default_queue
        if not queues:
            raise InvalidState("no queue is configured")
        return queues[0]["id"]

    async def _customer_row(self, request: Request) -> Any:
        row = await self.services.conversations.customer_conversation(_bearer(request))
        if row is None:
            raise NotAuthenticated("start a chat first (the widget token is missing or unknown)")
        return row

    async def _identity_state(self, cid: str) -> dict[str, Any]:
        """``IdentityService.methods`` with only the ways that run here (email, SMS channels)."""
        s = self.services
        state = await s.identity.methods(cid)
        running = {"email": s.ports.email is not None, "sms": s.ports.sms is not None}
        state["methods"] = [m for m in state["methods"] if running[m]]
        return state

    async def _send_code(self, issued: IssuedCode, language: str) -> None:
        """Send a verification code through the email or SMS channel's public port (after the
        code's hash is committed; a code that could not be sent is asked for again)."""
        s = self.services
        lang = s.texts.language(language)
        values = {"code": issued.code, "minutes": max(1, round(s.identity.code_ttl_s / 60))}
        subject, body, sms = [await s.texts.render(f"widget.identity.code_{part}", lang, **values)
                              for part in ("subject", "email", "sms")]
        try:
            if issued.method == "email":
                email = s.ports.email
                if email is None:
                    raise InvalidState("email is not running here", code="identity_method_unavailable")
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = email.address, issued.address, subject
                msg.set_content(body)
                await email.send_mail(msg)
            else:
                if s.ports.sms is None:
                    raise InvalidState("SMS is not running here", code="identity_method_unavailable")
                await s.ports.sms.send_text(issued.address, sms, kind="identity_code")
        except HubError:
            raise
        except Exception as err:  # noqa: BLE001 - the relay's failure, told to the customer
            log.warning("could not send a verification code by %s: %s", issued.method, err)
            raise InvalidState("the code could not be sent; try again later",
                               code="identity_code_not_sent") from err

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        sio.register_namespace(self.namespace)
        ch = self

        @api.add("/api/widget/config", "GET", "Widget settings and whether anyone can serve",
                 tag="widget", query=WidgetConfigQuery, auth="none", response=S.WidgetConfig, access="public")
        async def config(request: Request) -> Response:
            q = parse_query(request, WidgetConfigQuery)
            s = ch.services
            qid = await ch._queue_id(q.queue)
            queues = await s.directory.list_queues()
            lang = s.texts.language(q.lang)
            return json_response({
                "online": await ch._online(qid), "queue_id": qid,
                "queues": [{"id": x["id"], "name": x["name"]} for x in queues],
                "prechat": [{"key": key, "label": await s.texts.render(f"widget.prechat.{key}", lang),
                             "required": required} for key, required in PRECHAT_FIELDS],
                "language": lang,
                "offline_notice": await s.texts.render("widget.offline.intro", lang),
                "max_upload_bytes": s.settings.max_upload_bytes,
                "allowed_types": list(s.settings.allowed_upload_types),
            })

        @api.add("/api/widget/sessions", "POST", "Start a chat (pre-chat form)", tag="widget",
                 body=WidgetSessionIn, auth="none", status=201, response=S.WidgetSession, access="public")
        async def start(request: Request) -> Response:
            body = await parse_body(request, WidgetSessionIn)
            s = ch.services
            s.limits.widget_sessions.take(client_ip(request))
            qid = await ch._queue_id(body.queue_id)
            identity = {"name": body.name, "email": body.email, "phone": body.phone}
            # Validate the identity the same way the CRM does before anything is stored.
            await s.contacts.validate({k: v for k, v in identity.items() if v}, partial=False)
            token = new_token()
            # The self-service bot (assist/, optional) may take the chat first: it is opened
            # with status "bot" and handed to the ACD by the bot when it cannot help.
            bot = s.ports.bot
            with_bot = bot is not None and await bot.wants(qid)
            row = await s.conversations.open(
                channel="chat", queue_id=qid, identity=identity, first_message=body.message or None,
                subject=(body.message or "")[:80] or None, widget_token_hash=token_hash(token),
                meta={"prechat": body.model_dump(exclude_none=True),
                      "user_agent": request.headers.get("user-agent", "")[:200]},
                status="bot" if with_bot else "queued", language=normalise_language(body.lang),
                identity_claimed=True)
            if not with_bot:  # (with the bot, it greets the chat from the conversation.created event)
                await s.routing.enqueue(row)
            return json_response({"token": token, "conversation_id": row.id}, 201)

        @api.add("/api/widget/conversation", "GET", "The customer's own conversation", tag="widget",
                 auth="widget", response=S.WidgetConversation, access="customer")
        async def conversation(request: Request) -> Response:
            row = await ch._customer_row(request)
            s = ch.services
            msgs = await s.conversations.messages(row.id, include_notes=False)
            return json_response({
                "id": row.id, **await ch._status(row),
                "messages": [_customer_view(m) for m in msgs],
                "csat": {"rating": row.csat_rating} if row.csat_rating else None,
                # the rating request's texts once the chat is over (a widget that connects after
                # the close missed the csat_request push)
                "csat_texts": await ch._csat_texts(row.language) if row.status == "closed" else None,
            })

        @api.add("/api/widget/attachments", "POST", "Upload a file into the chat", tag="widget",
                 auth="widget", status=201, response=Attachment, access="customer")
        async def upload(request: Request) -> Response:
            row = await ch._customer_row(request)
            if row.status in ("closed", "abandoned"):
                raise InvalidState("the chat has ended")
            return json_response(await save_upload(request, ch.services.attachments, f"widget:{row.id}", row.id), 201)

        @api.add("/api/widget/offline", "POST", "Leave a message when nobody can chat",
                 tag="widget", body=OfflineIn, auth="none", status=201, response=S.OfflineMessage, access="public")
        async def offline(request: Request) -> Response:
            body = await parse_body(request, OfflineIn)
            s = ch.services
            s.limits.widget_offline.take(client_ip(request))
            qid = await ch._queue_id(body.queue_id)
            identity = {"name": body.name, "email": body.email}
            await s.contacts.validate(identity, partial=False)
            lang = normalise_language(body.lang)
            subject = " ".join(body.message.split())[:80]
            # The customer has left the page: with an email channel the message is an email
            # conversation (routed like a mail, the agent's reply sent by the email channel to the
            # address given here) offered when an agent is ready; without one it waits in Pending.
            by_email = s.ports.email is not None
            row = await s.conversations.open(
                channel="email" if by_email else "chat", queue_id=qid, identity=identity,
                first_message=body.message, subject=subject, status="queued" if by_email else "pending",
                meta={"offline_form": True, **({"reply_to": body.email} if by_email else {})},
                language=lang, identity_claimed=True)
            if by_email:
                await s.routing.enqueue(row)
            notice = await s.texts.render("widget.offline.received", row.language, name=body.name)
            return json_response({"id": row.id, "notice": notice, "language": s.texts.language(row.language)}, 201)

        @api.add("/api/widget/identity", "GET", "Whether the customer has proven who they are",
                 tag="widget", auth="widget", response=S.WidgetIdentity, access="customer")
        async def identity(request: Request) -> Response:
            row = await ch._customer_row(request)
            return json_response(await ch._identity_state(row.id))

        @api.add("/api/widget/identity/code", "POST", "Send a one-time code to the claimed contact",
                 tag="widget", body=IdentityCodeIn, auth="widget", status=202,
                 response=S.IdentityCodeSent, access="customer")
        async def send_code(request: Request) -> Response:
            row = await ch._customer_row(request)
            body = await parse_body(request, IdentityCodeIn)
            s = ch.services
            state = await s.identity.methods(row.id)  # refused before a code is counted
            if not state["claimed"]:
                raise NothingToVerify("there is no claimed identity to verify")
            if state["locked"]:
                raise VerificationLocked("too many wrong codes: an agent can confirm who you are")
            s.limits.identity_codes.take(f"chat:{row.id}")
            s.limits.identity_codes.take(f"contact:{row.claimed_contact_id}")
            issued = await s.identity.issue_code(row.id, body.method)
            await ch._send_code(issued, body.language)
            return json_response({"method": issued.method, "sent_to": issued.masked,
                                  "expires_at": issued.expires_at}, 202)

        @api.add("/api/widget/identity/verify", "POST", "Enter the one-time code", tag="widget",
                 body=IdentityVerifyIn, auth="widget", response=S.WidgetIdentity, access="customer")
        async def verify(request: Request) -> Response:
            row = await ch._customer_row(request)
            body = await parse_body(request, IdentityVerifyIn)
            s = ch.services
            await s.identity.confirm_code(row.id, body.code)
            await s.routing.reprioritise(row.id)
            return json_response(await ch._identity_state(row.id))

        @api.add("/api/widget/csat", "POST", "Rate the chat", tag="widget", body=CsatIn,
                 auth="widget", status=204, access="customer")
        async def csat(request: Request) -> Response:
            row = await ch._customer_row(request)
            body = await parse_body(request, CsatIn)
            if row.status not in ("closed", "abandoned"):
                raise InvalidState("rate the chat after it has ended")
            await ch.services.conversations.rate(row.id, body.rating, body.comment)
            return Response(status_code=204)

        @api.add("/api/widget/close", "POST", "The customer ends the chat", tag="widget",
                 auth="widget", status=204, access="customer")
        async def close(request: Request) -> Response:
            row = await ch._customer_row(request)
            s = ch.services
            if row.status in ("closed", "abandoned"):
                return Response(status_code=204)
            await s.conversations.close(row.id, by=None, reason="customer")
            await s.routing.release(row.id)
            return Response(status_code=204)


def _customer_view(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: msg[k] for k in ("id", "kind", "sender", "sender_name", "body", "attachments",
                                "client_id", "created_at")}

