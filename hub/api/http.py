"""Small HTTP toolkit: a route registry that also produces the OpenAPI document, JSON body
validation with pydantic, problem responses and the session lookup."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hub.errors import (
    Conflict,
    Forbidden,
    HubError,
    MalformedJson,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    ResponseMismatch,
    UnsupportedMediaType,
    ValidationFailed,
)
from hub.services.attachments import AttachmentStore
from hub.services.auth import ROLE_PERMISSIONS, Client, User

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
SESSION_COOKIE = "hub_session"
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64  # arrays and objects inside each other: no request of the API needs more

Handler = Callable[[Request], Awaitable[Response]]


def problem_response(err: HubError) -> JSONResponse:
    retry_after = getattr(err, "retry_after", None)  # 429 (hub/ratelimit.py)
    return JSONResponse(err.problem(), status_code=err.status, media_type="application/problem+json",
                        headers={"Retry-After": str(retry_after)} if retry_after else None)


def json_response(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


async def read_json(request: Request) -> Any:
    ctype = request.headers.get("content-type", "")
    if "json" not in ctype:
        raise UnsupportedMediaType("send the body as application/json")
    raw = await request.body()
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge("the JSON body is larger than 1 MiB")
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MalformedJson(f"the body is not valid JSON: {err}") from err
    except RecursionError as err:
        raise MalformedJson(f"the body is nested more than {MAX_JSON_DEPTH} levels deep") from err
    except ValueError as err:  # an integer of more than 4,300 digits
        raise MalformedJson(f"the body is not valid JSON: {err}") from err
    if not _shallow(data, MAX_JSON_DEPTH):
        raise MalformedJson(f"the body is nested more than {MAX_JSON_DEPTH} levels deep")
    return data


def _shallow(value: Any, limit: int) -> bool:
    """Whether no array or object in ``value`` is nested more than ``limit`` levels deep
    (iterative: a deep body must not be what overflows the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


async def parse_body(request: Request, model: type[M]) -> M:
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise _invalid(err, "body") from err


def parse_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as err:
        raise _invalid(err, "query") from err


def _invalid(err: ValidationError, where: str) -> ValidationFailed:
    """A 422 naming each field: ``loc``, the English ``msg``, and the error's ``type`` (pydantic's,
    e.g. ``string_too_short``) with its plain ``ctx`` values (e.g. ``min_length``), from which the web
    UI writes the message in the user's language."""
    errors: list[dict[str, Any]] = []
    for e in err.errors():
        item: dict[str, Any] = {"loc": [where, *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]}
        ctx = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, str | int | float | bool)}
        if ctx:
            item["ctx"] = ctx
        errors.append(item)
    return ValidationFailed(errors[0]["msg"] if errors else f"invalid {where}", details={"errors": errors})


def client_ip(request: Request) -> str:
    """The caller's address ("-" when unknown); behind a proxy, uvicorn takes it from
    X-Forwarded-For sent by an address in its ``forwarded_allow_ips``. Rate limits and the
    sessions list key on it."""
    return request.client.host if request.client else "-"


def request_client(request: Request) -> Client:
    """Where the request came from, for the audit trail: ``client_ip`` and the user agent."""
    return Client(client_ip(request), request.headers.get("user-agent"))


async def attachment_file(request: Request, row: Any, user: User | None, *, via: str) -> FileResponse:
    """An attachment's file for a caller the route has let see it. One that only its own route
    serves (``attachments.route``: a call recording, with its permission and audit) is answered
    as if it did not exist; a user's download (``user``; a customer's own chat file: None) is
    stored in the audit trail with the byte range asked (``via``: the route's name)."""
    if row.route:
        raise NotFound("attachment does not exist")
    store: AttachmentStore = request.app.state.services.attachments
    if user is not None:
        await store.downloaded(row, user.id, request_client(request), via=via,
                               byte_range=request.headers.get("range"))
    return FileResponse(store.path_for(row.id), media_type=row.content_type, filename=row.filename,
                        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


async def session_user(request: Request) -> User | None:
    """The user of the request's session cookie, or None; looked up once per request (the access
    check of :meth:`Api.add` and the handler share it)."""
    if "hub_user" not in request.scope:
        request.scope["hub_user"] = await request.app.state.services.auth.user_for_token(
            request.cookies.get(SESSION_COOKIE))
    user: User | None = request.scope["hub_user"]
    return user


async def current_user(request: Request) -> User:
    user = await session_user(request)
    if user is None:
        raise NotAuthenticated("log in first")
    return user


async def require(request: Request, permission: str) -> User:
    user = await current_user(request)
    user.require(permission)
    return user


# --- who may call an operation ---------------------------------------------------------------------
# Every operation declares it once, ``Api.add(..., access=...)``; the declaration is checked before
# the handler runs (401 without credentials, 403 without the permission) and published in the
# OpenAPI document as ``x-access``, from which tests/api/test_rbac_matrix.py derives what every
# role must get. Handlers still check what depends on the data (a conversation's queue, a work
# order's department) after it.
#: anyone, no credentials (health, login, the widget's configuration and start, the offline form)
PUBLIC = "public"
#: a machine holding a shared secret the handler checks (Kannel's token, the fax provider's
#: signature): no user or customer credentials
SECRET = "secret"
#: a web chat customer: the widget's bearer token of a conversation (``Authorization: Bearer``)
CUSTOMER = "customer"
#: any logged-in user, whatever the roles (their own profile, sessions, notifications)
AUTHENTICATED = "authenticated"
#: every permission a role can hold (hub/services/auth.py ROLE_PERMISSIONS)
PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())


def access_alternatives(access: str) -> list[str]:
    """The alternatives of an ``access`` declaration: :data:`PUBLIC` or :data:`SECRET` alone, or
    ``|``-separated :data:`CUSTOMER`, :data:`AUTHENTICATED` and permission names (any one of them
    lets the caller in: ``"desk|supervise"``). ValueError for anything else (a typo)."""
    alts = access.split("|")
    if access in (PUBLIC, SECRET):
        return alts
    unknown = [a for a in alts if a not in PERMISSIONS | {CUSTOMER, AUTHENTICATED}]
    if unknown or not access:
        raise ValueError(f"access={access!r}: {unknown or access!r} is neither a permission of "
                         f"ROLE_PERMISSIONS nor {PUBLIC!r}, {SECRET!r}, {CUSTOMER!r} or {AUTHENTICATED!r}")
    return alts


def _auth_of(access: str) -> str:
    """The OpenAPI security scheme an access declaration implies (``session | widget | none``)."""
    if access in (PUBLIC, SECRET):
        return "none"
    return "widget" if access == CUSTOMER else "session"


async def check_access(request: Request, access: str) -> None:
    """Refuse a request its operation's ``access`` does not let in: 401 without (valid) credentials,
    403 for a logged-in user holding none of the permissions."""
    alts = access_alternatives(access)
    if access in (PUBLIC, SECRET):
        return
    staff = [a for a in alts if a != CUSTOMER]
    user = await session_user(request) if staff else None
    if user is not None and (AUTHENTICATED in staff or not user.permissions.isdisjoint(staff)):
        return
    if CUSTOMER in alts:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token and await request.app.state.services.conversations.customer_conversation(token) is not None:
            return
    if user is not None:
        raise Forbidden(f"this needs the {staff[0]!r} permission" if len(staff) == 1
                        else f"this needs one of the permissions {staff}")
    raise NotAuthenticated("start a chat first (the widget token is missing or unknown)"
                           if alts == [CUSTOMER] else "log in first")


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
    # what a successful JSON answer is: a pydantic model or a type of them (list[Model] …);
    # None: not declared (a file, an empty answer, or not described yet)
    response: Any = None
    # who may call it (see PUBLIC … above): the OpenAPI document's ``x-access``
    access: str = AUTHENTICATED


@dataclass
class Api:
    routes: list[Route] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    # Check every successful JSON answer of an operation with a declared ``response`` against it
    # (``api_check_responses``, on in the tests): an answer that does not fit — a field missing,
    # one the model does not declare, a wrong type — becomes a 500 ``response_mismatch``. Off, the
    # answer goes out as the handler made it (the model describes it, never filters it).
    check_responses: bool = False

    def add(self, path: str, method: str, summary: str, *, tag: str, access: str,
            body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
            auth: str | None = None, status: int = 200, response: Any = None) -> Callable[[Handler], Handler]:
        """Register an operation. ``access`` (required) says who may call it: :data:`PUBLIC`,
        :data:`SECRET`, or ``|``-separated :data:`CUSTOMER`, :data:`AUTHENTICATED` and permission
        names; it is checked before the handler runs. ``auth`` (the OpenAPI security scheme)
        follows from it."""
        access_alternatives(access)  # a typo fails when the app is built
        if auth is not None and auth != _auth_of(access):
            raise ValueError(f"{method} {path}: auth={auth!r} contradicts access={access!r}")

        def deco(fn: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                try:
                    await check_access(request, access)
                    resp = await fn(request)
                except HubError as err:
                    return problem_response(err)
                except (OverflowError, DataError) as err:  # a number beyond what its column holds
                    log.info("%s %s: %s", method, path, err)
                    return problem_response(ValidationFailed("a number in the request is out of range"))
                except IntegrityError as err:  # the database refused a row the checks let through
                    refusal = _integrity_problem(err)
                    if refusal is None:
                        raise
                    log.warning("%s %s: %s", method, path, err.orig)
                    return problem_response(refusal)
                except StatementError as err:
                    if not isinstance(err.orig, OverflowError):
                        raise
                    return problem_response(ValidationFailed("a number in the request is out of range"))
                if response is not None and self.check_responses:
                    mismatch = response_mismatch(adapter_for(response), resp)
                    if mismatch is not None:
                        log.error("%s %s: %s", method, path, mismatch.detail)
                        return problem_response(mismatch)
                return resp
            endpoint.__name__ = fn.__name__
            self.routes.append(Route(path, endpoint, methods=[method]))
            self.operations.append(Operation(path, method, summary, tag, body, query, _auth_of(access),
                                             status, response, access))
            return fn
        return deco

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        # every body and answer in one pass: models of the same name in two modules get distinct
        # names instead of one overwriting the other
        keyed: list[tuple[tuple[int, str], JsonSchemaMode, TypeAdapter[Any]]] = []
        for i, op in enumerate(self.operations):
            if op.body is not None:
                keyed.append(((i, "body"), "validation", adapter_for(op.body)))
            if op.response is not None:
                keyed.append(((i, "response"), "serialization", adapter_for(op.response)))
        by_key, defs = TypeAdapter.json_schemas(keyed, ref_template="#/components/schemas/{model}")
        schemas: dict[str, Any] = dict(defs.get("$defs", {}))
        if "Problem" in schemas:
            raise ValueError("a model is named Problem: that name is the problem document's; rename it")
        for i, op in enumerate(self.operations):
            problem = {"description": "Problem", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}
            ok: dict[str, Any] = {"description": "OK"}
            if op.response is not None:
                ok["content"] = {"application/json": {"schema": by_key[((i, "response"), "serialization")]}}
            item: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "x-access": op.access,
                                    "responses": {str(op.status): ok, "default": problem}}
            security: list[dict[str, list[str]]] = []
            if op.auth != "none":
                alts = access_alternatives(op.access)
                security += [{"session": []}] if any(a != CUSTOMER for a in alts) else []
                security += [{"widget": []}] if CUSTOMER in alts else []
            if security:
                item["security"] = security
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
                item["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": by_key[((i, "body"), "validation")]}}}
            paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = item
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


@functools.cache
def adapter_for(tp: Any) -> TypeAdapter[Any]:
    """The pydantic adapter of a body or response type, built once per process when first needed
    (building them all at each app start would cost every hub start in the tests ~70 ms)."""
    return TypeAdapter(tp)


def response_mismatch(adapter: TypeAdapter[Any], resp: Response) -> ResponseMismatch | None:
    """Why a successful JSON answer does not fit its declared type, or None when it does (or it is
    not a successful JSON answer: a problem, a 204, a file)."""
    if not 200 <= resp.status_code < 300 or not isinstance(resp, JSONResponse):
        return None
    try:
        adapter.validate_json(bytes(resp.body), strict=True)
    except ValidationError as err:
        errors = [{"loc": ["response", *map(str, e["loc"])], "msg": e["msg"]} for e in err.errors()]
        return ResponseMismatch("the answer does not fit its declared response model: " + "; ".join(
            f"{'.'.join(e['loc'][1:]) or '(root)'}: {e['msg']}" for e in errors[:10]), details={"errors": errors})
    return None


def _integrity_problem(err: IntegrityError) -> HubError | None:
    """What a request the database refused is to its caller (SQLite's and PostgreSQL's words): a
    duplicate of a unique value is a conflict, a reference to a row that does not exist invalid
    input; anything else (a missing value the hub should have filled) stays a server error."""
    text = str(err.orig).lower()
    if "unique" in text or "duplicate key" in text:
        return Conflict("something with these values exists already", code="duplicate")
    if "foreign key" in text:
        return ValidationFailed("the request refers to something that does not exist", code="unknown_reference")
    return None


def openapi_path(path: str) -> str:
    """A route's path as OpenAPI templates it: ``{n:int}`` (Starlette's converter) is ``{n}``."""
    return "/".join(f"{{{part[1:-1].split(':')[0]}}}" if part.startswith("{") and part.endswith("}") else part
                    for part in path.split("/"))


def _path_params(path: str) -> list[str]:
    out = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            out.append(part[1:-1].split(":")[0])
    return out


async def save_upload(request: Request, store: AttachmentStore, uploaded_by: str,
                      conversation_id: str | None = None) -> dict[str, Any]:
    """Stream a multipart upload into the attachment store without reading it all in memory."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise UnsupportedMediaType("upload the file as multipart/form-data with a 'file' field")
    length = request.headers.get("content-length")
    limit = store.max_bytes
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise PayloadTooLarge(f"the file is larger than the limit of {limit // 1024} KiB")
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=limit + 1)
    except Exception as err:  # noqa: BLE001 - multipart parser errors are the client's fault
        if "size" in str(err).lower():
            raise PayloadTooLarge(f"the file is larger than the limit of {limit // 1024} KiB") from err
        raise ValidationFailed(f"could not read the upload: {err}") from err
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("the form needs a 'file' field with a file")

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await upload.read(64 * 1024):
                yield chunk

        return await store.save(upload.filename or "file", upload.content_type or "",
                                        chunks(), uploaded_by, conversation_id)
    finally:
        await form.close()
