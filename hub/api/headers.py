"""Security headers on every HTTP answer of the hub (issue #16, item 9; docs/SECURITY.md,
"Security headers").

Every answer carries ``X-Content-Type-Options: nosniff`` (an attachment served as ``text/plain``
is never run as HTML or script), ``Referrer-Policy: same-origin`` (a link in a chat or an email
does not tell another site which desk page it was opened from) and, when ``secret_cookie_secure``
says the hub is reached over HTTPS, ``Strict-Transport-Security``.

HTML pages also get a Content Security Policy: scripts only from the hub's own files (no inline
script, no ``eval``; the Vue build needs neither), connections only to the hub itself (its API and
the Socket.IO WebSocket), no plugins, forms and ``<base>`` only to the hub. Two kinds of page:

* the staff UI (every page but ``/widget.html``) may not be framed by anyone
  (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY`` for old browsers). An email is shown
  in a sandboxed ``srcdoc`` iframe that inherits this policy on top of its own (which blocks remote
  images until the agent consents), so the desk policy allows inline styles and, once consented,
  remote images: the mail's own ``<style>``, and its pictures;
* the widget's chat panel (``/widget.html``, framed by the company's sites through ``widget.js``)
  may be framed by the hub's own pages and the sites in ``widget_origins`` (any site while that
  setting is empty, as for the widget's socket, hub/api/csrf.py). Its policy is stricter: no
  inline style, no remote images."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WIDGET_PAGE = "/widget.html"
HSTS_MAX_AGE_S = 365 * 24 * 3600

# what a Host header may be to be named in connect-src (anything else: 'self' alone)
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _base_directives(host: str | None) -> dict[str, str]:
    connect = "'self'"
    if host and _HOST.fullmatch(host):
        # 'self' covers ws:/wss: of the same host in CSP 3; older browsers need them named
        connect += f" ws://{host} wss://{host}"
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data: blob:",
        "media-src": "'self' blob:",
        "font-src": "'self' data:",
        "connect-src": connect,
        "frame-src": "'self'",
        "worker-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
    }


def desk_policy(host: str | None) -> str:
    """The staff UI's policy (every HTML page but the widget's)."""
    d = _base_directives(host)
    # emails: their own <style> and, once the agent consents, their remote images (module docstring)
    d["style-src"] = "'self' 'unsafe-inline'"
    d["img-src"] = "'self' data: blob: https: http:"
    d["frame-ancestors"] = "'none'"
    return _policy(d)


def widget_policy(host: str | None, widget_origins: frozenset[str]) -> str:
    """The chat panel's policy: framable by the hub's pages and ``widget_origins`` (empty or
    ``*``: any site)."""
    d = _base_directives(host)
    if not widget_origins or "*" in widget_origins:
        d["frame-ancestors"] = "*"
    else:
        d["frame-ancestors"] = " ".join(["'self'", *sorted(widget_origins)])
    return _policy(d)


@dataclass(frozen=True)
class HeaderPolicy:
    widget_origins: frozenset[str]
    hsts: bool

    def headers(self, path: str, host: str | None, content_type: str) -> list[tuple[bytes, bytes]]:
        """The headers to add to an answer to ``path`` of type ``content_type``."""
        out = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if self.hsts:
            out.append((b"strict-transport-security", f"max-age={HSTS_MAX_AGE_S}".encode()))
        widget = path == WIDGET_PAGE
        if not widget:
            out.append((b"x-frame-options", b"DENY"))
        if content_type.split(";", 1)[0].strip().lower() == "text/html":
            policy = widget_policy(host, self.widget_origins) if widget else desk_policy(host)
            out.append((b"content-security-policy", policy.encode()))
        return out


class SecurityHeaders:
    """ASGI middleware adding :class:`HeaderPolicy`'s headers to every HTTP answer (headers the
    route set itself are kept)."""

    def __init__(self, app: Any, policy: HeaderPolicy) -> None:
        self.app = app
        self.policy = policy
        self.state = app.state  # the Starlette app's (services), as for the CSRF guard

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
                headers += [(k, v) for k, v in self.policy.headers(scope["path"], host, content_type)
                            if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
