"""Sessions (issue #16): a user lists and ends their own; an administrator lists and ends anyone's.
Ending a session logs its browser out at once, open Socket.IO connections included (see
``AuthService.end_sessions`` and ``hub/realtime.py``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.api import responses as R
from hub.api.http import SESSION_COOKIE, Api, current_user, json_response, require


def register(api: Api) -> None:
    @api.add("/api/auth/sessions", "GET", "My sessions (where and when each was opened)", tag="auth",
             response=R.SessionList, access="authenticated")
    async def my_sessions(request: Request) -> Response:
        user = await current_user(request)
        items = await request.app.state.services.auth.sessions(user.id, request.cookies.get(SESSION_COOKIE))
        return json_response({"items": items})

    @api.add("/api/auth/sessions/{id}", "DELETE", "End one of my sessions (logs that browser out)",
             tag="auth", status=204, access="authenticated")
    async def end_my_session(request: Request) -> Response:
        user = await current_user(request)
        await request.app.state.services.auth.end_sessions(
            user.id, actor=user, session=request.path_params["id"], reason="ended_by_user")
        return Response(status_code=204)

    @api.add("/api/users/{id}/sessions", "GET", "A user's sessions", tag="admin", response=R.SessionList,
             access="admin")
    async def user_sessions(request: Request) -> Response:
        await require(request, "admin")
        auth = request.app.state.services.auth
        user = await auth.get_user(request.path_params["id"])
        return json_response({"items": await auth.sessions(user.id)})

    @api.add("/api/users/{id}/sessions", "DELETE", "End all of a user's sessions", tag="admin",
             status=204, access="admin")
    async def end_user_sessions(request: Request) -> Response:
        admin = await require(request, "admin")
        auth = request.app.state.services.auth
        user = await auth.get_user(request.path_params["id"])
        await auth.end_sessions(user.id, actor=admin, reason="ended_by_admin")
        return Response(status_code=204)

    @api.add("/api/users/{id}/sessions/{session}", "DELETE", "End one of a user's sessions",
             tag="admin", status=204, access="admin")
    async def end_user_session(request: Request) -> Response:
        admin = await require(request, "admin")
        auth = request.app.state.services.auth
        user = await auth.get_user(request.path_params["id"])
        await auth.end_sessions(user.id, actor=admin, session=request.path_params["session"],
                                reason="ended_by_admin")
        return Response(status_code=204)
