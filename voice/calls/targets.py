"""Where a desk phone sends a call (REFER, a consultation's INVITE): the queue a SIP user part
names. A queue is named by its id, ``queue-<id>``, its name (any case, URL-escaped in the URI) or
its extension — a dialled number routed to it by ``voice_routes`` (``5000=general``)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

__all__ = ["queue_for"]


def queue_for(user: str, queue_names: Mapping[str, str], extensions: Mapping[str, str]) -> str | None:
    """The id of the queue ``user`` names, or None. ``queue_names``: id → name; ``extensions``:
    number → queue id (``voice_routes``)."""
    user = unquote(user).strip()
    if not user:
        return None
    if user in queue_names:
        return user
    if user.startswith("queue-") and user[6:] in queue_names:
        return user[6:]
    by_name = {name.strip().lower(): qid for qid, name in queue_names.items()}
    if user.lower() in by_name:
        return by_name[user.lower()]
    qid = extensions.get(user)
    return qid if qid in queue_names else None
