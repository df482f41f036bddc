"""Origins (``scheme://host[:port]``) for the cross-site checks of hub/api/csrf.py and the settings
that list trusted ones."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL (None when it is not one)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def parse_origins(value: str) -> frozenset[str]:
    """A comma-separated setting of origins, normalised (``*`` is kept as is)."""
    out = set()
    for item in value.split(","):
        item = item.strip()
        if item == "*":
            out.add("*")
        elif item:
            o = origin_of(item)
            if o is None:
                raise ValueError(f"{item!r} is not an origin (scheme://host[:port])")
            out.add(o)
    return frozenset(out)


def same_origin(origin: str | None, host: str | None, trusted: Iterable[str]) -> bool:
    """Whether ``origin`` is the hub's own (the ``Host`` the request went to, any scheme: TLS may
    end at a proxy) or a trusted one."""
    if origin is None:
        return False
    if origin in trusted:
        return True
    netloc = urlsplit(origin).netloc
    return bool(host) and netloc == (host or "").lower()


def socket_origin_allowed(environ: dict[str, Any], allowed: frozenset[str]) -> bool:
    """Whether a Socket.IO connect request's ``Origin`` is the hub's own or in ``allowed`` (``*``:
    any). No ``Origin`` (not a browser) is allowed: the cookie or token still has to be valid."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None or "*" in allowed:
        return True
    return same_origin(origin_of(origin), environ.get("HTTP_HOST"), allowed)
