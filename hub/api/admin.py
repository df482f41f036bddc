"""Admin (ADMIN-1): users, queues, skills, calendars. Changes reach the running ACD at once."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

import hub.api.responses as R
from hub.api.http import Api, current_user, json_response, parse_body, require
from hub.api.schemas import (
    CalendarIn,
    CalendarPatch,
    QueueIn,
    QueuePatch,
    SkillIn,
    SkillPatch,
    UserIn,
    UserPatch,
)


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


def register(api: Api) -> None:
    @api.add("/api/users", "GET", "Users", tag="admin", response=list[R.UserPublic] | list[R.UserBrief],
             access="admin|desk")
    async def list_users(request: Request) -> Response:
        user = await current_user(request)
        users = await request.app.state.services.auth.list_users()
        if "admin" in user.permissions:
            return json_response([u.public() for u in users])
        # Everyone on the desk may see who the agents are (transfer targets), nothing more.
        user.require("desk")
        return json_response([{"id": u.id, "display_name": u.display_name, "roles": list(u.roles)}
                              for u in users if u.active and u.is_agent])

    @api.add("/api/users", "POST", "Create a user", tag="admin", body=UserIn, status=201, response=R.UserPublic,
             access="admin")
    async def create_user(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, UserIn)
        s = request.app.state.services
        user = await s.auth.create_user(body.model_dump(), actor)
        await s.routing.reload_directory()
        return json_response(user.public(), 201)

    @api.add("/api/users/{id}", "PATCH", "Edit a user", tag="admin", body=UserPatch, response=R.UserPublic,
             access="admin")
    async def update_user(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, UserPatch)
        s = request.app.state.services
        user = await s.auth.update_user(request.path_params["id"], _dump(body), actor)
        await s.routing.reload_directory()
        return json_response(user.public())

    @api.add("/api/users/{id}", "DELETE", "Deactivate a user", tag="admin", status=204, access="admin")
    async def delete_user(request: Request) -> Response:
        actor = await require(request, "admin")
        s = request.app.state.services
        await s.auth.delete_user(request.path_params["id"], actor)
        await s.routing.reload_directory()
        return Response(status_code=204)

    @api.add("/api/queues", "GET", "Queues", tag="admin", response=list[R.Queue], access="authenticated")
    async def list_queues(request: Request) -> Response:
        await current_user(request)
        return json_response(await request.app.state.services.directory.list_queues())

    @api.add("/api/queues", "POST", "Create a queue", tag="admin", body=QueueIn, status=201, response=R.Queue,
             access="admin")
    async def create_queue(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, QueueIn)
        s = request.app.state.services
        q = await s.directory.create_queue(body.model_dump(), actor.id)
        await s.routing.reload_directory()
        return json_response(q, 201)

    @api.add("/api/queues/{id}", "PATCH", "Edit a queue", tag="admin", body=QueuePatch, response=R.Queue,
             access="admin")
    async def update_queue(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, QueuePatch)
        s = request.app.state.services
        q = await s.directory.update_queue(request.path_params["id"], _dump(body), actor.id)
        await s.routing.reload_directory()
        return json_response(q)

    @api.add("/api/queues/{id}", "DELETE", "Delete a queue", tag="admin", status=204, access="admin")
    async def delete_queue(request: Request) -> Response:
        actor = await require(request, "admin")
        s = request.app.state.services
        await s.routing.remove_queue(request.path_params["id"], actor.id)
        return Response(status_code=204)

    @api.add("/api/skills", "GET", "Skills", tag="admin", response=list[R.Skill], access="authenticated")
    async def list_skills(request: Request) -> Response:
        await current_user(request)
        return json_response(await request.app.state.services.directory.list_skills())

    @api.add("/api/skills", "POST", "Create a skill", tag="admin", body=SkillIn, status=201, response=R.Skill,
             access="admin")
    async def create_skill(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, SkillIn)
        s = request.app.state.services
        return json_response(await s.directory.create_skill(body.name, body.label or body.name,
                                                            actor.id), 201)

    @api.add("/api/skills/{id}", "PATCH", "Rename a skill", tag="admin", body=SkillPatch, response=R.Skill,
             access="admin")
    async def update_skill(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, SkillPatch)
        s = request.app.state.services
        return json_response(await s.directory.update_skill(request.path_params["id"], body.label,
                                                            actor.id))

    @api.add("/api/skills/{id}", "DELETE", "Delete a skill", tag="admin", status=204, access="admin")
    async def delete_skill(request: Request) -> Response:
        actor = await require(request, "admin")
        await request.app.state.services.directory.delete_skill(request.path_params["id"], actor.id)
        return Response(status_code=204)

    @api.add("/api/calendars", "GET", "Business-hours calendars", tag="admin", response=list[R.CalendarDef],
             access="admin")
    async def list_calendars(request: Request) -> Response:
        await require(request, "admin")
        return json_response(await request.app.state.services.directory.list_calendars())

    @api.add("/api/calendars", "POST", "Create a calendar", tag="admin", body=CalendarIn, status=201,
             response=R.CalendarDef, access="admin")
    async def create_calendar(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, CalendarIn)
        s = request.app.state.services
        cal = await s.directory.create_calendar(body.model_dump(), actor.id)
        await s.routing.reload_directory()
        return json_response(cal, 201)

    @api.add("/api/calendars/{id}", "PATCH", "Edit a calendar", tag="admin", body=CalendarPatch, response=R.CalendarDef,
             access="admin")
    async def update_calendar(request: Request) -> Response:
        actor = await require(request, "admin")
        body = await parse_body(request, CalendarPatch)
        s = request.app.state.services
        cal = await s.directory.update_calendar(request.path_params["id"], _dump(body), actor.id)
        await s.routing.reload_directory()
        return json_response(cal)

    @api.add("/api/calendars/{id}", "DELETE", "Delete a calendar", tag="admin", status=204, access="admin")
    async def delete_calendar(request: Request) -> Response:
        actor = await require(request, "admin")
        await request.app.state.services.directory.delete_calendar(request.path_params["id"], actor.id)
        return Response(status_code=204)
