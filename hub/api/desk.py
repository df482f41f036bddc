"""Auth, agent state and the agent's conversations (INBOX-2, AGENT-1, AGENT-2 for chat)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import hub.api.responses as R
from hub import __version__
from hub.api.http import (
    SESSION_COOKIE,
    Api,
    attachment_file,
    client_ip,
    current_user,
    json_response,
    parse_body,
    parse_query,
    request_client,
    require,
    save_upload,
    session_user,
)
from hub.api.schemas import (
    AgentStateIn,
    CloseIn,
    IdentityConfirmIn,
    InboxQuery,
    LinkContactIn,
    LoginIn,
    MessageIn,
    NoteIn,
    ProfilePatch,
    TransferIn,
)
from hub.errors import NotFound, ValidationFailed
from hub.ports import HUB_PORTS, PORT_NAMES
from hub.services.auth import User
from hub.services.routing import DISPOSITIONS, REASON_CODES


def _me(request: Request, user: User) -> dict[str, object]:
    """``/api/me``'s body: the user, their agent state and what runs on this hub."""
    s = request.app.state.services
    agent = s.routing.agent_state(user.id) if user.is_agent else None
    features = {name: getattr(s.ports, name) is not None for name in PORT_NAMES if name not in HUB_PORTS}
    return {**user.public(), "agent": agent, "features": features}


def register(api: Api) -> None:
    @api.add("/api/health", "GET", "Liveness and database check", tag="system", auth="none", response=R.Health,
             access="public")
    async def health(request: Request) -> Response:
        s = request.app.state.services
        from sqlalchemy import text

        async with s.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        body = {"status": "ok", "database": "ok", "version": __version__, "dialect": s.db.dialect}
        cluster = s.ports.cluster
        if cluster is not None:  # several processes (docs/SCALING.md)
            body["cluster"] = cluster.stats()
        return json_response(body)

    @api.add("/api/auth/login", "POST", "Log in; sets the session cookie", tag="auth",
             body=LoginIn, auth="none", response=R.LoginResult, access="public")
    async def login(request: Request) -> Response:
        s = request.app.state.services
        body = await parse_body(request, LoginIn)
        ip = client_ip(request)
        s.limits.login.take(ip)
        token, user = await s.auth.login(body.username, body.password, ip=ip,
                                         user_agent=request.headers.get("user-agent"))
        resp = json_response({"user": user.public()})
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=s.settings.secret_cookie_secure, max_age=s.settings.session_ttl_s,
                        path="/")
        return resp

    @api.add("/api/auth/logout", "POST", "Log out", tag="auth", status=204, access="authenticated")
    async def logout(request: Request) -> Response:
        await current_user(request)
        await request.app.state.services.auth.logout(request.cookies[SESSION_COOKIE], request_client(request))
        resp = Response(status_code=204)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @api.add("/api/me", "GET", "The logged-in user with permissions and agent state", tag="auth", response=R.Me,
             access="authenticated")
    async def me(request: Request) -> Response:
        return json_response(_me(request, await current_user(request)))

    @api.add("/api/auth/session", "GET", "Who this browser is signed in as (null: nobody), without a 401",
             tag="auth", auth="none", response=R.Session_, access="public")
    async def session(request: Request) -> Response:
        user = await session_user(request)
        return json_response({"user": None if user is None else _me(request, user)})

    @api.add("/api/directory", "GET", "The queues and agents to pick from (transfer targets, owners)",
             tag="agent", response=R.Directory, access="authenticated")
    async def directory(request: Request) -> Response:
        user = await current_user(request)
        s = request.app.state.services
        with_state = bool(user.permissions & {"desk", "supervise"})
        agents = [{"id": u.id, "display_name": u.display_name,
                   "state": s.routing.agent_state(u.id)["state"] if with_state else None}
                  for u in await s.auth.list_users() if u.active and u.is_agent]
        queues = [{"id": q["id"], "name": q["name"]} for q in await s.directory.list_queues()]
        return json_response({"queues": queues, "agents": agents})

    @api.add("/api/me", "PATCH", "Change my own profile (the web UI's language)", tag="auth",
             body=ProfilePatch, response=R.Me, access="authenticated")
    async def update_me(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, ProfilePatch)
        s = request.app.state.services
        if "language" in body.model_fields_set:
            user = await s.auth.set_language(user, body.language)
        return json_response(_me(request, user))

    @api.add("/api/agent/state", "GET", "My agent state", tag="agent", response=R.AgentState, access="desk")
    async def get_state(request: Request) -> Response:
        user = await require(request, "desk")
        return json_response(request.app.state.services.routing.agent_state(user.id))

    @api.add("/api/agent/state", "POST", "Change my agent state", tag="agent", body=AgentStateIn, response=R.AgentState,
             access="desk")
    async def set_state(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, AgentStateIn)
        s = request.app.state.services
        return json_response(await s.routing.set_agent_state(user.id, body.state, body.reason))

    @api.add("/api/agent/wrapup/end", "POST", "End my wrap-up early", tag="agent", response=R.AgentState, access="desk")
    async def end_wrapup(request: Request) -> Response:
        user = await require(request, "desk")
        return json_response(await request.app.state.services.routing.end_wrapup(user.id))

    @api.add("/api/reason-codes", "GET", "Not-ready reason codes", tag="agent", response=list[R.CodeLabel],
             access="authenticated")
    async def reason_codes(request: Request) -> Response:
        await current_user(request)
        return json_response(REASON_CODES)

    @api.add("/api/dispositions", "GET", "Disposition codes", tag="agent", response=list[R.CodeLabel],
             access="authenticated")
    async def dispositions(request: Request) -> Response:
        await current_user(request)
        return json_response(DISPOSITIONS)

    @api.add("/api/conversations", "GET", "The unified inbox", tag="conversations", query=InboxQuery, response=R.Inbox,
             access="desk")
    async def inbox(request: Request) -> Response:
        user = await require(request, "desk")
        q = parse_query(request, InboxQuery)
        s = request.app.state.services
        return json_response(await s.conversations.inbox(user, q.view, q.channel, q.queue_id, q.q,
                                                         q.limit, q.before))

    @api.add("/api/conversations/{id}", "GET", "One conversation with messages and contact",
             tag="conversations", response=R.ConversationDetail, access="desk")
    async def detail(request: Request) -> Response:
        user = await require(request, "desk")
        s = request.app.state.services
        return json_response(await s.conversations.detail(user, request.path_params["id"]))

    @api.add("/api/conversations/{id}/accept", "POST", "Accept an offer", tag="conversations",
             response=R.ConversationDetail, access="desk")
    async def accept(request: Request) -> Response:
        user = await require(request, "desk")
        s = request.app.state.services
        cid = request.path_params["id"]
        row = await s.conversations.row(cid)
        s.conversations.require_view(user, row)
        await s.routing.accept(cid, user)
        return json_response(await s.conversations.detail(user, cid))

    @api.add("/api/conversations/{id}/reject", "POST", "Reject an offer", tag="conversations",
             status=204, access="desk")
    async def reject(request: Request) -> Response:
        user = await require(request, "desk")
        s = request.app.state.services
        cid = request.path_params["id"]
        s.conversations.require_view(user, await s.conversations.row(cid))
        await s.routing.reject(cid, user)
        return Response(status_code=204)

    @api.add("/api/conversations/{id}/messages", "POST", "Reply to the customer",
             tag="conversations", body=MessageIn, status=201, response=R.Message, access="desk")
    async def reply(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, MessageIn)
        s = request.app.state.services
        cid = request.path_params["id"]
        s.conversations.require_handler(user, await s.conversations.row(cid))
        msg = await s.conversations.add_message(cid, sender="agent", body=body.body, user=user,
                                                attachment_ids=body.attachment_ids or None)
        return json_response(msg, 201)

    @api.add("/api/conversations/{id}/notes", "POST", "Add an internal note", tag="conversations",
             body=NoteIn, status=201, response=R.Message, access="desk")
    async def note(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, NoteIn)
        s = request.app.state.services
        cid = request.path_params["id"]
        s.conversations.require_view(user, await s.conversations.row(cid))
        msg = await s.conversations.add_message(cid, sender="agent", kind="note", body=body.body,
                                                user=user)
        return json_response(msg, 201)

    @api.add("/api/conversations/{id}/transfer", "POST", "Transfer to a queue or an agent",
             tag="conversations", body=TransferIn, response=R.ConversationSummary, access="desk")
    async def transfer(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, TransferIn)
        s = request.app.state.services
        cid = request.path_params["id"]
        await s.routing.transfer(cid, user, body.queue_id, body.agent_id, body.note)
        row = await s.conversations.row(cid)
        summary = (await s.conversations.inbox_rows([row]))[0]
        return json_response(summary)

    @api.add("/api/conversations/{id}/close", "POST", "Close with a disposition",
             tag="conversations", body=CloseIn, response=R.ConversationSummary, access="desk")
    async def close(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, CloseIn)
        s = request.app.state.services
        cid = request.path_params["id"]
        s.conversations.require_handler(user, await s.conversations.row(cid))
        if body.disposition and body.disposition not in {d["code"] for d in DISPOSITIONS}:
            raise ValidationFailed(f"unknown disposition {body.disposition!r}")
        row = await s.conversations.close(cid, by=user, disposition=body.disposition, note=body.note)
        await s.routing.release(cid)
        return json_response((await s.conversations.inbox_rows([row]))[0])

    @api.add("/api/conversations/{id}/contact", "POST", "Link the conversation to a contact",
             tag="conversations", body=LinkContactIn, response=R.ConversationSummary, access="desk")
    async def link_contact(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, LinkContactIn)
        s = request.app.state.services
        cid = request.path_params["id"]
        if (await s.conversations.row(cid)).claimed_contact_id is not None:
            # a chat whose customer claimed a contact: linking it is confirming who they are
            return await _confirm_identity(request, user, cid, body.contact_id)
        row = await s.conversations.link_contact(cid, body.contact_id, user)
        return json_response((await s.conversations.inbox_rows([row]))[0])

    @api.add("/api/conversations/{id}/identity/confirm", "POST",
             "Confirm who the chat customer is (this is …): links the contact, verified",
             tag="conversations", body=IdentityConfirmIn, response=R.ConversationSummary,
             access="verify_identity")
    async def confirm_identity(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, IdentityConfirmIn)
        return await _confirm_identity(request, user, request.path_params["id"], body.contact_id)

    async def _confirm_identity(request: Request, user: User, cid: str,
                                contact_id: str | None) -> Response:
        """The handling agent (or a supervisor) with ``verify_identity`` confirms the customer:
        audited (``conversation.identity_verified``); a VIP's priority applies from then."""
        s = request.app.state.services
        row = await s.conversations.row(cid)
        s.conversations.require_view(user, row)
        user.require("verify_identity")
        if "supervise" not in user.permissions:
            s.conversations.require_handler(user, row)
        if contact_id is not None:
            await s.contacts.get(contact_id)
        row = await s.identity.confirm_by_agent(cid, user, contact_id)
        await s.routing.reprioritise(cid)
        return json_response((await s.conversations.inbox_rows([row]))[0])

    @api.add("/api/attachments", "POST", "Upload an attachment (multipart field 'file')",
             tag="conversations", status=201, response=R.Attachment, access="desk")
    async def upload(request: Request) -> Response:
        user = await require(request, "desk")
        s = request.app.state.services
        return json_response(await save_upload(request, s.attachments, f"user:{user.id}"), 201)

    @api.add("/api/attachments/{id}", "GET", "Download an attachment", tag="conversations",
             auth="session", access="authenticated|customer")
    async def download(request: Request) -> Response:
        s = request.app.state.services
        row = await s.attachments.get(request.path_params["id"])
        user = await s.auth.user_for_token(request.cookies.get(SESSION_COOKIE))
        allowed = False
        if user is not None:
            if row.conversation_id:
                conv = await s.conversations.row(row.conversation_id)
                allowed = s.conversations.can_view(user, conv)
            else:
                allowed = row.uploaded_by == f"user:{user.id}"
        else:
            auth = request.headers.get("authorization", "")
            widget = await s.conversations.customer_conversation(
                auth[7:] if auth.lower().startswith("bearer ") else None)
            allowed = widget is not None and (row.conversation_id == widget.id
                                              or row.uploaded_by == f"widget:{widget.id}")
        if not allowed:
            raise NotFound("attachment does not exist")
        return await attachment_file(request, row, user, via="attachment")
