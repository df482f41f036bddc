"""A rule's callback with the voice component running (one callback path): when it falls due on
the manual clock, the voice callback task (the same one the IVR opens: a ``voice`` conversation
with ``meta.callback``) appears in the row's queue for the contact's phone, the row links it and
the queue's agents are still notified. Without voice the notify-only behaviour is
``test_rules.test_callback_records_a_task_and_notifies_when_due``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bootstrap import build_app
from hub.clock import ManualClock
from hub.db import tables as t
from tests.api.helpers import queue_id, start_chat
from tests.support.hub import InProcessHub
from tests.workflows.conftest import LEAN
from workflows import tables as w

# voice on with ephemeral SIP/RTP ports (as tests/voice/calls/conftest.py); no trunk is needed to
# open a callback task, only to dial it
VOICE = {"voice_enabled": True, "voice_sip_udp_port": 0, "voice_sip_tcp_port": -1, "voice_rtp_port_min": 0,
         "voice_rtp_port_max": 0}


async def voice_conversations(hub: InProcessHub) -> list[str]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t.conversations.c.id)
                                         .where(t.conversations.c.channel == "voice"))).scalars())


@pytest.fixture
async def voice_clocked_hub(tmp_path, clock: ManualClock) -> AsyncIterator[InProcessHub]:  # type: ignore[no-untyped-def]
    h = InProcessHub(tmp_path / "data", session_ttl_s=60 * 86400, **LEAN, **VOICE)
    h.app = build_app(h.settings, clock)
    await h.start()
    await h.services.scheduler.stop()
    try:
        yield h
    finally:
        await h.stop()


async def test_a_due_rule_callback_opens_the_voice_callback_task_in_its_queue(voice_clocked_hub, clock):
    hub = voice_clocked_hub
    admin = await hub.client("admin")
    billing = await queue_id(admin, "Billing")
    rule = await admin.ok("POST", "/api/rules", {
        "name": "Call back chatters", "event": "conversation.created",
        "conditions": {"all": [{"field": "conversation.channel", "op": "eq", "value": "chat"}]},
        "actions": [{"type": "callback", "delay_s": 3600, "note": "about {conversation.channel}"}]}, status=201)
    # Zhang Wei's email and the number to call typed in the pre-chat form: the chat's customer has
    # not proven they are the stored Zhang Wei, so the callback goes to the number they typed
    _customer, widget, _session = await start_chat(hub, queue=billing, phone="+86 138 0000 1111")
    await widget.close()
    await hub.services.bus.settled()  # the rule runs after commit, off the request
    [cb] = await admin.ok("GET", "/api/callbacks")
    assert (cb["status"], cb["phone"], cb["queue_id"], cb["task_conversation_id"]) == (
        "pending", "+8613800001111", billing, None)

    sup = await hub.client("supervisor")
    assert not await voice_conversations(hub)  # not before it is due
    clock.advance(3601)
    await hub.services.scheduler.run_due()

    [cb] = await admin.ok("GET", "/api/callbacks")
    assert cb["status"] == "opened" and cb["task_conversation_id"]
    task = await sup.ok("GET", f"/api/conversations/{cb['task_conversation_id']}")
    row = task
    assert (row["channel"], row["queue_id"]) == ("voice", billing)
    meta_cb = row["meta"]["callback"]
    assert (meta_cb["number"], meta_cb["status"], meta_cb["queue_id"], meta_cb["rule_id"]) == (
        "+8613800001111", "requested", billing, rule["id"])
    # the task's contact is found by the number it calls (the claim itself linked no contact)
    assert cb["contact_id"] is None and row["contact"]["name"] == "Zhang Wei"
    bodies = [m["body"] for m in task["messages"]]
    assert any("please call +8613800001111" in b and "about chat" in b and "Call back chatters" in b
               for b in bodies), bodies
    async with hub.services.db.read() as conn:
        titles = {r.title for r in (await conn.execute(
            select(w.notifications).where(w.notifications.c.kind == "callback_due"))).all()}
    assert titles == {"Callback due: +8613800001111 (in the queue)"}  # the queue's agents, still told
    # the task is the voice callback task itself: the desk's "Call back" endpoint knows it
    # (refused here only for want of a trunk)
    err = await sup.post(f"/api/voice/callbacks/{cb['task_conversation_id']}/dial")
    assert err.status_code == 409 and err.json()["code"] == "no_trunk"


async def test_a_callback_retried_after_a_crash_opens_its_task_once(voice_clocked_hub, clock):
    """The hub died after opening the task but before recording it (row ``opening``, timer not
    completed, as the handler leaves them): the timer fires again and finds the task by the id
    the row chose, so the customer gets one callback task, linked, and the agents one notice."""
    hub = voice_clocked_hub
    admin = await hub.client("admin")
    billing = await queue_id(admin, "Billing")
    await admin.ok("POST", "/api/rules", {
        "name": "Call back chatters", "event": "conversation.created",
        "conditions": {"all": [{"field": "conversation.channel", "op": "eq", "value": "chat"}]},
        "actions": [{"type": "callback", "delay_s": 60}]}, status=201)
    _customer, widget, _session = await start_chat(hub, queue=billing, phone="+86 138 0000 1111")
    await widget.close()
    await hub.services.bus.settled()  # the rule runs after commit, off the request
    [cb] = await admin.ok("GET", "/api/callbacks")
    chosen = "crashretry" + "0" * 22
    async with hub.services.db.tx() as tx:  # what the first firing wrote before opening the task
        await tx.conn.execute(w.callbacks.update().where(w.callbacks.c.id == cb["id"]).values(
            status="opening", task_conversation_id=chosen))
    callbacks = hub.services.ports.voice.callbacks
    opened = await callbacks.open_task(cb["phone"], queue_id=billing, identity={"phone": cb["phone"]},
                                       requested_by_text="an automation rule",
                                       origin={"workflow_callback_id": cb["id"]}, conversation_id=chosen)
    assert opened == chosen and await voice_conversations(hub) == [chosen]

    clock.advance(61)
    await hub.services.scheduler.run_due()  # the timer, never completed, fires again
    [cb] = await admin.ok("GET", "/api/callbacks")
    assert (cb["status"], cb["task_conversation_id"]) == ("opened", chosen)
    assert await voice_conversations(hub) == [chosen]  # not a second task
    async with hub.services.db.read() as conn:
        notices = (await conn.execute(select(w.notifications.c.user_id).where(
            w.notifications.c.kind == "callback_due"))).all()
    assert notices and len(notices) == len({n.user_id for n in notices})  # each agent told once
    clock.advance(3600)
    await hub.services.scheduler.run_due()
    assert await voice_conversations(hub) == [chosen]
