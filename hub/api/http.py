"""Small HTTP toolkit: a route registry that also produces the OpenAPI document, JSON body
validation with pydantic, problem responses and the session lookup."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.errors import HubError, MalformedJson, NotAuthenticated, ValidationFailed
from hub.services.auth import User

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
SESSION_COOKIE = "hub_session"
MAX_JSON_BYTES = 1024 * 1024

Handler = Callable[[Request], Awaitable[Response]]


def problem_response(err: HubError) -> JSONResponse:
    return JSONResponse(err.problem(), status_code=err.status,
                        media_type="application/problem+json")


def json_response(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


async def read_json(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype:
        raise ValidationFailed("send the body as application/json", code="unsupported_media_type")
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise ValidationFailed("the JSON body is too large", code="payload_too_large")
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MalformedJson(f"the body is not valid JSON: {err}") from err


async def parse_body(request: Request, model: type[M]) -> M:
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = [{"loc": ["body", *map(str, e["loc"])], "msg": e["msg"]} for e in err.errors()]
        raise ValidationFailed(errors[0]["msg"] if errors else "invalid body",
                               details={"errors": errors}) from err


def parse_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as err:
        errors = [{"loc": ["query", *map(str, e["loc"])], "msg": e["msg"]} for e in err.errors()]
        raise ValidationFailed(errors[0]["msg"] if errors else "invalid query",
                               details={"errors": errors}) from err


async def current_user(request: Request) -> User:
    user = await request.app.state.services.auth.user_for_token(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise NotAuthenticated("log in first")
    return user


async def require(request: Request, permission: str) -> User:
    user = await current_user(request)
    user.require(permission)
    return user


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: str = "session"  # session | widget | none
    status: int = 200


@dataclass
class Api:
    routes: list[Route] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)

    def add(self, path: str, method: str, summary: str, *, tag: str, body: type[BaseModel] | None = None,
            query: type[BaseModel] | None = None, auth: str = "session",
            status: int = 200) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                try:
                    return await fn(request)
                except HubError as err:
                    return problem_response(err)
            endpoint.__name__ = fn.__name__
            self.routes.append(Route(path, endpoint, methods=[method]))
            self.operations.append(Operation(path, method, summary, tag, body, query, auth, status))
            return fn
        return deco

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        schemas: dict[str, Any] = {}
        for op in self.operations:
            problem = {"description": "Problem", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}
            item: dict[str, Any] = {"summary": op.summary, "tags": [op.tag],
                                    "responses": {str(op.status): {"description": "OK"}, "default": problem}}
            if op.auth == "session":
                item["security"] = [{"session": []}]
            elif op.auth == "widget":
                item["security"] = [{"widget": []}]
            params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in _path_params(op.path)]
            if op.query is not None:
                qs = op.query.model_json_schema()
                for name, prop in qs.get("properties", {}).items():
                    params.append({"name": name, "in": "query",
                                   "required": name in qs.get("required", []), "schema": prop})
            if params:
                item["parameters"] = params
            if op.body is not None:
                schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in schema.pop("$defs", {}).items():
                    schemas[name] = sub
                schemas[op.body.__name__] = schema
                item["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
            paths.setdefault(op.path, {})[op.method.lower()] = item
        schemas["Problem"] = {"type": "object", "required": ["status", "code", "title", "detail"],
                              "properties": {"status": {"type": "integer"}, "code": {"type": "string"},
                                             "title": {"type": "string"}, "detail": {"type": "string"},
                                             "errors": {"type": "array", "items": {"type": "object"}}}}
        return {
            "openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": schemas, "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                "widget": {"type": "http", "scheme": "bearer"}}},
        }


def _path_params(path: str) -> list[str]:
    out = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out.append(part[1:-1].split(":")[0])
    return out
