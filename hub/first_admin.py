"""``python server.py create-admin``: the first administrator of a hub without demo data (issue #16,
item 12; README "First start"). The command line (password prompt, file, environment) is in
``server.py``; this is the part that touches the database."""

from __future__ import annotations

import re
from collections.abc import Callable

import socketio

from hub.app import build_services
from hub.config import Settings
from hub.errors import Conflict, ValidationFailed

#: the usernames POST /api/users accepts (hub/api/schemas.py, UserIn)
USERNAME_RE = re.compile(r"[A-Za-z0-9_.\-]{2,64}")


async def create_admin(settings: Settings, username: str, password: Callable[[], str], *,
                       display_name: str | None = None, if_missing: bool = False) -> str:
    """Create ``username`` with the admin role on the configured database (migrated first) and
    return what happened in a sentence. ``password`` is asked only when a user is created.
    ``if_missing``: nothing to do when an active administrator exists (container start scripts).
    Raises ValidationFailed (bad username, password policy) or Conflict (username taken)."""
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(f"the username {username!r} must be 2 to 64 letters, digits, '.', '_' or '-'")
    services = await build_services(settings, socketio.AsyncServer(async_mode="asgi"))
    try:
        users = await services.auth.list_users()
        admins = [u.username for u in users if "admin" in u.roles and u.active]
        if if_missing and admins:
            return f"an administrator exists already ({', '.join(admins)}): nothing to do"
        if any(u.username == username for u in users):
            raise Conflict(f"a user called {username!r} exists already; choose another username "
                           "(an administrator can then reset that user's password in Admin → Users)")
        user = await services.auth.create_user({"username": username, "password": password(),
                                                "display_name": display_name or username,
                                                "roles": ["admin"]})
        return f"administrator {user.username!r} created; log in at http://{settings.host}:{settings.port}/"
    finally:
        await services.db.close()
