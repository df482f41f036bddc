"""Requests from elsewhere (issue #16, item 5): cross-site request forgery and cross-origin sockets.

The staff UI authenticates with the ``hub_session`` cookie, which a browser also sends with
requests another site makes it send (a form on ``evil.example``; a page on another port of the same
host is even "same-site", so ``SameSite=Lax`` does not stop it). So a state-changing request
(``POST``/``PUT``/``PATCH``/``DELETE``) that carries the cookie is refused (``403 csrf_refused``)
unless it comes from the hub's own origin:

* ``Origin`` (every current browser sends it on such requests) must be the hub's own origin — the
  ``Host`` the request was sent to — or one of ``trusted_origins`` (e.g. the public origin behind a
  reverse proxy that rewrites ``Host``);
* without ``Origin``, ``Referer`` is checked the same way;
* with neither (not a browser: scripts, the tests), the body must be ``application/json`` (a
  browser cannot send that to another origin without a CORS preflight, which the hub never
  grants) or absent.

Requests without the cookie (the widget's bearer token, Kannel's and the mail relay's callbacks)
are not affected: a token in a header is not sent by a browser on its own.

Sockets: ``/desk`` (cookie) accepts only the hub's own origin and ``trusted_origins``
(``hub.origins.socket_origin_allowed``); ``/widget`` (bearer token) accepts any origin unless
``widget_origins`` lists the sites that embed it."""

from __future__ import annotations

import json
from typing import Any

from hub.api.http import SESSION_COOKIE
from hub.origins import origin_of, same_origin

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _has_session_cookie(cookie: str) -> bool:
    return any(part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookie.split(";"))


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class CsrfGuard:
    """ASGI middleware in front of the HTTP routes (see the module's docstring)."""

    def __init__(self, app: Any, trusted_origins: frozenset[str]) -> None:
        self.app = app
        self.trusted = trusted_origins
        self.state = app.state  # the Starlette app's (services), as before the guard was put in front

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") in UNSAFE:
            refusal = self.refusal(_headers(scope))
            if refusal is not None:
                await _problem(send, refusal)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: dict[str, str]) -> str | None:
        """Why this state-changing request is refused, or None."""
        if not _has_session_cookie(headers.get("cookie", "")):
            return None
        host = headers.get("host")
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            if same_origin(origin_of(origin), host, self.trusted):
                return None
            return f"a request from {origin_of(origin) or origin!r} may not use this session"
        if origin == "null":
            return "a request from an opaque origin may not use this session"
        referer = headers.get("referer")
        if referer:
            if same_origin(origin_of(referer), host, self.trusted):
                return None
            return "a request from another site may not use this session"
        body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
        if body and _media_type(headers.get("content-type", "")) != "application/json":
            return "send the body as application/json (or from the hub's own pages)"
        return None


async def _problem(send: Any, detail: str) -> None:
    body = json.dumps({"status": 403, "code": "csrf_refused", "title": "Refused: not from this site",
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
