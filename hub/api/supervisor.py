"""Supervisor (SUP-1): wallboard and forced agent states."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.api.http import Api, json_response, parse_body, require
from hub.api.schemas import AgentStateIn


def register(api: Api) -> None:
    @api.add("/api/wallboard", "GET", "Queues and agents, live figures", tag="supervisor")
    async def wallboard(request: Request) -> Response:
        await require(request, "wallboard")
        return json_response(await request.app.state.services.wallboard.snapshot())

    @api.add("/api/agents/{id}/state", "POST", "Force an agent's state", tag="supervisor",
             body=AgentStateIn)
    async def force_state(request: Request) -> Response:
        actor = await require(request, "supervise")
        body = await parse_body(request, AgentStateIn)
        s = request.app.state.services
        return json_response(await s.routing.set_agent_state(
            request.path_params["id"], body.state, body.reason, forced_by=actor))
