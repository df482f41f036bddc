"""Supervisor (SUP-1): wallboard and forced agent states."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import hub.api.responses as R
from hub.api.http import Api, json_response, parse_body, parse_query, require
from hub.api.schemas import AgentStateIn, HistoryQuery


def register(api: Api) -> None:
    @api.add("/api/wallboard", "GET", "Queues and agents, live figures", tag="supervisor", response=R.Wallboard,
             access="wallboard")
    async def wallboard(request: Request) -> Response:
        await require(request, "wallboard")
        return json_response(await request.app.state.services.wallboard.snapshot())

    @api.add("/api/agents/{id}/state", "POST", "Force an agent's state", tag="supervisor",
             body=AgentStateIn, response=R.AgentState, access="supervise")
    async def force_state(request: Request) -> Response:
        actor = await require(request, "supervise")
        body = await parse_body(request, AgentStateIn)
        s = request.app.state.services
        return json_response(await s.routing.set_agent_state(
            request.path_params["id"], body.state, body.reason, forced_by=actor))

    @api.add("/api/agent/history", "GET", "My state history, newest first", tag="agent",
             query=HistoryQuery, response=list[R.AgentStateEntry], access="desk")
    async def my_history(request: Request) -> Response:
        user = await require(request, "desk")
        q = parse_query(request, HistoryQuery)
        s = request.app.state.services
        return json_response(await s.eventlog.agent_states(user.id, q.limit, q.before))

    @api.add("/api/agents/{id}/history", "GET", "An agent's state history", tag="supervisor",
             query=HistoryQuery, response=list[R.AgentStateEntry], access="supervise")
    async def agent_history(request: Request) -> Response:
        await require(request, "supervise")
        q = parse_query(request, HistoryQuery)
        s = request.app.state.services
        await s.auth.get_user(request.path_params["id"])
        return json_response(await s.eventlog.agent_states(request.path_params["id"], q.limit, q.before))

    @api.add("/api/audit", "GET", "Audit log: admin changes and logins", tag="admin",
             query=HistoryQuery, response=list[R.AuditEntry], access="admin")
    async def audit(request: Request) -> Response:
        await require(request, "admin")
        q = parse_query(request, HistoryQuery)
        return json_response(await request.app.state.services.eventlog.audit(q.limit, q.before))
