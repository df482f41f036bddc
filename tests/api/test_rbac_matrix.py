"""Issue #16, item 4: who may call what, for every operation of the API and every role.

Each operation declares once, in code, who may call it (``Api.add(..., access=...)``, published as
``x-access`` in ``/api/openapi.json``; the values are described in hub/api/http.py). This test reads
the document of a hub with every component it can start on (email, SMS, fax, voice with the
browser softphone, the knowledge base), calls every operation as every role and checks the answer
against what the declaration and ROLE_PERMISSIONS imply:

* a caller the declaration lets in never gets 401 or 403 (a harmless request: unknown ids, a body
  that fails validation — 400/404/409/415/422 after the access check are fine);
* anyone else gets 401 (no credentials, or a customer token on a staff route, or a staff session
  on a customer route) or 403 (logged in without the permission), and never a 2xx;
* nobody ever gets a 5xx.

An operation without a declaration cannot be registered (``access`` is a required argument: the
app does not build), and a declaration naming an unknown permission fails too."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bootstrap import openapi_document
from hub.api.http import AUTHENTICATED, CUSTOMER, PUBLIC, SECRET, Api, access_alternatives
from hub.services.auth import ROLE_PERMISSIONS
from tests.support.hub import InProcessHub, running_hub
from tests.voice.calls.conftest import VOICE_SETTINGS

#: the roles of the matrix: the demo user holding each staff role (hub/demo.py); "anonymous" sends
#: no credentials, "customer" the web chat widget's token of its own conversation
STAFF = {"agent": "agent1", "dispatcher": "dispatch", "department": "pipes", "knowledge_manager": "km",
         "supervisor": "supervisor", "admin": "admin"}
ROLES = ("anonymous", "customer", *STAFF)

#: operations of the full document (every component on) the test hub does not mount, with why.
#: Empty: the test hub runs every component. An entry here is an operation the matrix does not try.
NOT_MOUNTED: dict[tuple[str, str], str] = {}

#: calls that end the caller's credentials: made after every other call of the same caller
LAST = {("POST", "/api/auth/logout"), ("POST", "/api/widget/close")}

#: a body no operation accepts (every body is a JSON object, or multipart): it fails validation
#: after the access check, so an allowed caller changes nothing
PROBE_BODY = '"rbac-probe"'


def allowed(access: str, role: str) -> bool:
    """Whether ``access`` lets ``role`` in (a staff role through ROLE_PERMISSIONS)."""
    alts = access_alternatives(access)
    if access == PUBLIC:
        return True
    if access == SECRET or role == "anonymous":
        return False
    if role == "customer":
        return CUSTOMER in alts
    return AUTHENTICATED in alts or not ROLE_PERMISSIONS[role].isdisjoint(alts)


def refusal(access: str, role: str) -> set[int]:
    """The answers a refused caller may get: 401 without fitting credentials, 403 with a staff
    session lacking the permission; a missing or wrong shared secret is 401 or 403."""
    if access == SECRET:
        return {401, 403}
    staff_route = any(a != CUSTOMER for a in access_alternatives(access))
    if role in STAFF and staff_route:
        return {403}
    return {401}


@dataclass
class Call:
    method: str
    path: str  # concrete: ids filled in
    template: str
    access: str
    body: bool


def concrete(template: str) -> str:
    """The path with every parameter an id that does not exist (a number where it must be one)."""
    numeric = {"version", "n", "page_no"}
    return re.sub(r"\{(\w+)\}", lambda m: "999999" if m.group(1) in numeric else f"rbac-{uuid.uuid4().hex[:12]}",
                  template)


def calls(doc: dict[str, Any]) -> list[Call]:
    out = [Call(m.upper(), concrete(p), p, op["x-access"], "requestBody" in op)
           for p, item in doc["paths"].items() for m, op in item.items()]
    return sorted(out, key=lambda c: (c.method, c.template) in LAST)


@pytest.fixture
async def full_hub(tmp_path: Path) -> AsyncIterator[InProcessHub]:
    # the machines' callbacks configured, so their shared-secret checks are what answers
    async with running_hub(tmp_path / "data", **VOICE_SETTINGS, sms_inbound_token="kannel-secret-0123",
                           fax_inbound_secret="fax-provider-secret-0123") as h:
        yield h


async def clients(hub: InProcessHub) -> dict[str, httpx.AsyncClient]:
    out: dict[str, httpx.AsyncClient] = {"anonymous": (await hub.client()).http}
    customer = await hub.client()
    session = await customer.ok("POST", "/api/widget/sessions", {"name": "Rbac Probe", "message": "hello"},
                                status=201)
    customer.http.headers["Authorization"] = f"Bearer {session['token']}"
    out["customer"] = customer.http
    for role, username in STAFF.items():
        out[role] = (await hub.client(username)).http
    return out


def test_every_operation_declares_who_may_call_it() -> None:
    doc = openapi_document()
    undeclared = [(m, p) for p, item in doc["paths"].items() for m, op in item.items() if "x-access" not in op]
    assert not undeclared, f"operations without x-access: {undeclared}"
    for item in doc["paths"].values():
        for op in item.values():
            access_alternatives(op["x-access"])  # a known value
    assert {a for item in doc["paths"].values() for op in item.values()
            for a in access_alternatives(op["x-access"])} >= {PUBLIC, SECRET, CUSTOMER, AUTHENTICATED, "desk"}


def test_a_route_without_a_declaration_or_with_an_unknown_permission_is_refused() -> None:
    api = Api()

    async def handler(request: Any) -> Any:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="access"):
        api.add("/api/new", "GET", "A new route", tag="test")(handler)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="deks"):
        api.add("/api/new", "GET", "A new route", tag="test", access="deks")(handler)
    with pytest.raises(ValueError, match="public"):
        api.add("/api/new", "GET", "A new route", tag="test", access="public|desk")(handler)


async def test_every_operation_answers_every_role_as_declared(full_hub: InProcessHub) -> None:
    hub = full_hub
    r = await (await hub.client()).get("/api/openapi.json")
    mounted = r.json()
    full = openapi_document()
    ops = {(m.upper(), p) for p, item in full["paths"].items() for m in item}
    here = {(m.upper(), p) for p, item in mounted["paths"].items() for m in item}
    assert here <= ops
    assert ops - here == set(NOT_MOUNTED), (
        "operations not mounted on the test hub (turn their component on in full_hub, or list them in "
        f"NOT_MOUNTED with why): {sorted(ops - here - set(NOT_MOUNTED))}; mounted now: "
        f"{sorted(set(NOT_MOUNTED) & here)}")
    who = await clients(hub)
    wrong: list[str] = []
    tried = 0
    for role in ROLES:
        http = who[role]
        for call in calls(mounted):
            kw: dict[str, Any] = {}
            if call.body:
                kw = {"content": PROBE_BODY, "headers": {"Content-Type": "application/json"}}
            resp = await http.request(call.method, call.path, **kw)
            tried += 1
            status = resp.status_code
            ok = allowed(call.access, role)
            if status >= 500:
                wrong.append(f"{role:18} {call.method} {call.template} [{call.access}]: {status} {resp.text[:160]}")
            elif ok and status in (401, 403):
                wrong.append(f"{role:18} {call.method} {call.template} [{call.access}]: refused {status} "
                             f"{resp.text[:160]}")
            elif not ok and status not in refusal(call.access, role):
                wrong.append(f"{role:18} {call.method} {call.template} [{call.access}]: expected "
                             f"{sorted(refusal(call.access, role))}, got {status} {resp.text[:160]}")
    assert tried == len(ROLES) * len(here)
    assert not wrong, f"{len(wrong)} of {tried} calls answered against the declaration:\n" + "\n".join(wrong)
