"""Steps shared by the workflow tests."""

from __future__ import annotations

from typing import Any

from tests.support.hub import ApiClient, InProcessHub


async def department_id(client: ApiClient, name: str) -> str:
    deps = await client.ok("GET", "/api/departments")
    return next(d["id"] for d in deps if d["name"] == name)


async def new_work_order(hub: InProcessHub, agent: ApiClient, **extra: Any) -> dict[str, Any]:
    body = {"title": "Gas smell at 12 Park Road", "description": "customer smells gas in the kitchen",
            "priority": "high", "address": "12 Park Road", **extra}
    return await agent.ok("POST", "/api/workorders", body, status=201)


async def dispatch(hub: InProcessHub, dispatcher: ApiClient, wid: str, dep: str,
                   start_in: float = 600, length: float = 7200) -> dict[str, Any]:
    now = hub.services.clock.now()
    return await dispatcher.ok("POST", f"/api/workorders/{wid}/transitions", {
        "action": "dispatch", "department_id": dep, "planned_start": now + start_in,
        "planned_end": now + start_in + length})


async def act(client: ApiClient, wid: str, action: str, **extra: Any) -> dict[str, Any]:
    return await client.ok("POST", f"/api/workorders/{wid}/transitions", {"action": action, **extra})


async def notifications(client: ApiClient) -> list[dict[str, Any]]:
    return (await client.ok("GET", "/api/notifications"))["items"]
