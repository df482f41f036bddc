"""A conversation its customer ended stays ended, whatever the routing does next (issue 18,
finding 1, at the level of the hub's services): enqueueing it once it is closed puts nothing in
the ACD; an offer or the requeue when an agent logs out never reopens it; a channel moving it
gets a clear error."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.db import tables as t
from hub.errors import InvalidState

pytestmark = pytest.mark.storage  # the guarded updates on SQLite and PostgreSQL


async def _open(hub: Any) -> Any:
    return await hub.services.conversations.open(
        channel="voice", queue_id="general", identity={"phone": "+8613800138000", "name": "Caller"},
        subject="Call", meta={}, status="pending")


async def _events(hub: Any, cid: str) -> list[str]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t.events.c.type).where(t.events.c.conversation_id == cid))).scalars())


async def test_a_closed_conversation_is_never_queued_offered_or_requeued(hub):
    s = hub.services
    # the caller hung up while the call was being queued: closed first, enqueued after
    gone = await _open(hub)
    await s.conversations.close(gone.id, by=None, reason="customer")
    assert await s.routing.enqueue(gone, status="queued", queue_id="general") is False
    assert s.routing.engine.contact_location(gone.id) is None
    assert (await s.conversations.row(gone.id)).status == "closed"
    assert "conversation.queued" not in await _events(hub, gone.id)
    with pytest.raises(InvalidState) as err:
        await s.conversations.set_status(gone.id, "queued")
    assert err.value.code == "conversation_ended"

    # offered to a Ready agent, then abandoned before the ACD let go of it: her logging out (the
    # offer withdrawn, the contact requeued) and logging in again (a new offer) leave it abandoned
    agent = await s.auth.user_by_username("agent1")
    await s.routing.set_agent_state(agent.id, "ready")
    waiting = await _open(hub)
    assert await s.routing.enqueue(waiting, status="queued") is True
    assert [cid for cid, _ in s.routing.offers_for(agent.id)] == [waiting.id]
    assert (await s.conversations.close(waiting.id, by=None, reason="customer")).status == "abandoned"
    await s.routing.set_agent_state(agent.id, "logged_out")
    assert (await s.conversations.row(waiting.id)).status == "abandoned"
    await s.routing.set_agent_state(agent.id, "ready")
    assert (await s.conversations.row(waiting.id)).status == "abandoned"
    await s.routing.release(waiting.id)
    assert s.routing.engine.contact_location(waiting.id) is None
    assert s.routing.offers_for(agent.id) == []
