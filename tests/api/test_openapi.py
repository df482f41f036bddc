"""The OpenAPI document the web UI's types are generated from (web/scripts/gen-api.mjs): built
without a server, every answer the UI reads described by a response model, and the check of
answers against those models (on in every test hub: ``api_check_responses``) really catching a
misfit."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from bootstrap import build_app, load_settings, openapi_document
from hub.api.http import Api, Operation, json_response
from hub.api.responses import Permission, Role
from hub.api.schemas import ResponseModel
from hub.services.auth import ROLE_PERMISSIONS

REPO = Path(__file__).resolve().parents[2]
WEB_SRC = REPO / "web" / "src"

#: Operations the web UI calls whose answer is not JSON (files, CSV, audio, images): no model.
NOT_JSON = {
    ("GET", "/api/attachments/{id}"),
    ("GET", "/api/fax/faxes/{fax_id}/pages/{page_no}"),
    ("GET", "/api/fax/faxes/{fax_id}/original"),
    ("GET", "/api/ivr/flows/{id}/prompts/{name}/audio"),
    ("GET", "/api/kb/export"),
    ("GET", "/api/contacts/export"),
    ("GET", "/api/contacts/{id}/data-export"),  # a zip
    ("GET", "/api/voice/recordings/{id}/audio"),
    ("GET", "/api/voice/calls/export"),  # CSV or XLSX
    ("GET", "/api/workorders/{id}/attachments/{aid}"),
    ("GET", "/api/tickets/{id}/attachments/{aid}"),
}

#: JSON operations the web UI calls that do not declare a response model yet. Empty: keep it so
#: (declare the model with ``Api.add(..., response=...)``); an entry here is debt to pay back.
KNOWN_UNDECLARED: set[tuple[str, str]] = set()


def every_operation() -> list[Operation]:
    every = load_settings(environ={}, kb_enabled=True, email_enabled=True, sms_enabled=True,
                          fax_enabled=True, voice_enabled=True, voice_webrtc_enabled=True)
    api: Api = build_app(every).other_asgi_app.state.api
    return api.operations


def ui_paths() -> set[str]:
    """Every ``/api/...`` path written in the web UI's source, ``${…}`` parts as ``*``."""
    found: set[str] = set()
    for f in WEB_SRC.rglob("*"):
        if f.suffix not in (".ts", ".vue") or f.name == "schema.d.ts":
            continue
        for m in re.finditer(r"['`](/api/[^'`?]*)", f.read_text(encoding="utf-8")):
            found.add(re.sub(r"\$\{[^}]*\}", "*", m.group(1)).rstrip("/"))
    return found


def matches(ui: str, op_path: str) -> bool:
    a, b = ui.split("/"), op_path.split("/")
    return len(a) == len(b) and all(x == y or x == "*" or (y.startswith("{") and x) for x, y in zip(a, b, strict=True))


def models_in(tp: Any) -> list[type[BaseModel]]:
    """The pydantic models a response type is made of (recursively through fields)."""
    out: list[type[BaseModel]] = []
    todo = [tp]
    while todo:
        t = todo.pop()
        if isinstance(t, type) and issubclass(t, BaseModel):
            if t not in out:
                out.append(t)
                todo.extend(f.annotation for f in t.model_fields.values())
        else:
            todo.extend(typing.get_args(t))
    return out


def test_the_document_is_built_without_a_server_and_every_reference_resolves() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(doc).replace("'", '"')))
    assert refs and refs <= set(schemas), sorted(refs - set(schemas))
    declared = [(m, p) for p, item in doc["paths"].items() for m, o in item.items()
                if any("content" in r for k, r in o["responses"].items() if k != "default")]
    assert len(declared) >= 100, len(declared)


def test_operations_the_web_ui_calls_declare_their_answers() -> None:
    paths = ui_paths()
    assert "/api/conversations/*/accept" in paths and "/api/widget/config" in paths
    used = [op for op in every_operation() if any(matches(p, op.path) for p in paths)]
    assert len(used) > 100, len(used)
    missing = {(op.method, op.path) for op in used
               if op.response is None and op.status != 204 and (op.method, op.path) not in NOT_JSON}
    assert missing <= KNOWN_UNDECLARED, (
        "operations the web UI calls answer JSON without a response model (declare one with "
        f"Api.add(..., response=...)): {sorted(missing - KNOWN_UNDECLARED)}")
    stale = KNOWN_UNDECLARED - missing
    assert not stale, f"declared now: delete them from KNOWN_UNDECLARED: {sorted(stale)}"


def test_the_lists_name_operations_that_exist() -> None:
    ops = {(op.method, op.path) for op in every_operation()}
    assert NOT_JSON <= ops, sorted(NOT_JSON - ops)
    assert KNOWN_UNDECLARED <= ops, sorted(KNOWN_UNDECLARED - ops)


def test_response_models_refuse_fields_they_do_not_declare() -> None:
    """Every model of an answer is a ResponseModel (extra keys forbidden), so the check of the
    answers finds a field the handler adds but the model (and so the UI's types) lacks."""
    loose = {m.__qualname__ for op in every_operation() if op.response is not None
             for m in models_in(op.response) if not issubclass(m, ResponseModel)}
    assert not loose, sorted(loose)


def test_role_and_permission_types_list_what_the_roles_give() -> None:
    assert set(typing.get_args(Role)) == set(ROLE_PERMISSIONS)
    assert set(typing.get_args(Permission)) == set().union(*ROLE_PERMISSIONS.values())


class _Answer(ResponseModel):
    a: int
    b: str | None = None


def _app(check: bool, body: Any) -> Starlette:
    api = Api(check_responses=check)

    @api.add("/api/thing", "GET", "A thing", tag="test", access="public", response=_Answer)
    async def thing(request: Request) -> Response:
        return json_response(body)

    return Starlette(routes=api.routes)


@pytest.mark.parametrize(("body", "problem"), [
    ({"a": 1, "b": "x", "c": 2}, "c: Extra inputs are not permitted"),
    ({"b": "x"}, "a: Field required"),
    ({"a": "1"}, "a: Input should be a valid integer"),
])
async def test_an_answer_that_does_not_fit_its_model_is_a_response_mismatch(body: Any, problem: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(True, body)),
                                 base_url="http://hub") as c:
        r = await c.get("/api/thing")
    assert r.status_code == 500 and r.json()["code"] == "response_mismatch"
    assert problem in r.json()["detail"]
    # without the check (production) the answer goes out as the handler made it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(False, body)),
                                 base_url="http://hub") as c:
        r = await c.get("/api/thing")
    assert r.status_code == 200 and r.json() == body


async def test_a_fitting_answer_passes_unchanged() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app(True, {"a": 1})),
                                 base_url="http://hub") as c:
        r = await c.get("/api/thing")
    assert r.status_code == 200 and r.json() == {"a": 1}
