"""Events are handled after commit, outside every lock and off the request path (issue #14).

The deadlock found on `make run`: a rule "on conversation.assigned → assign to queue Billing" made
the agent's accept never answer, because the rule ran inside the accept's routing lock. And a
property test: random rule sets over random sequences of what agents and customers do, with a
watchdog on every request, the ACD's invariants checked and every rule chain ending."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from sqlalchemy import select

from hub.acd.invariants import check_invariants
from hub.db import tables as t
from tests.api.helpers import queue_id
from tests.support.hub import ApiClient, InProcessHub
from tests.support.wait import eventually
from workflows.rules import MAX_DEPTH

WATCHDOG_S = 2.0


async def timed(client: ApiClient, method: str, path: str, body: Any = None,
                ok: tuple[int, ...] = (200, 201, 204)) -> Any:
    """One request, which must answer within the watchdog."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(WATCHDOG_S):
            r = await client.http.request(method, path, json=body)
    except TimeoutError:
        raise AssertionError(f"{method} {path} did not answer within {WATCHDOG_S} s") from None
    assert r.status_code in ok, f"{method} {path} -> {r.status_code} {r.text}"
    assert time.monotonic() - started < WATCHDOG_S
    return r.json() if r.content else None


async def open_chat(hub: InProcessHub, queue: str, name: str = "Zhang Wei", message: str = "hello") -> str:
    customer = await hub.client()
    session = await timed(customer, "POST", "/api/widget/sessions",
                          {"name": name, "email": f"{name.replace(' ', '.').lower()}@example.com",
                           "message": message, "queue_id": queue})
    return str(session["conversation_id"])


async def test_a_rule_that_reroutes_on_assignment_does_not_stop_the_acd(hub):
    """REST only: the agent's accept answers, the rule moves the chat to Billing, and routing goes
    on for everyone (another agent is offered a new chat at once)."""
    admin = await hub.client("admin")
    billing = await queue_id(admin, "Billing")
    general = await queue_id(admin, "General enquiries")
    await timed(admin, "POST", "/api/rules", {
        "name": "Assigned chats go to Billing", "event": "conversation.assigned",
        "conditions": {"all": [{"field": "conversation.queue_id", "op": "eq", "value": general}]},
        "actions": [{"type": "assign", "queue_id": billing}]})
    agent1 = await hub.client("agent1")
    await timed(agent1, "POST", "/api/agent/state", {"state": "ready"})
    cid = await open_chat(hub, general)

    async def offered_to(agent: ApiClient, conversation_id: str) -> bool:
        offers = await timed(agent, "GET", "/api/conversations?view=offered")
        return any(c["id"] == conversation_id for c in offers["items"])

    await eventually(lambda: offered_to(agent1, cid), 5.0, what="the chat is offered to agent1")
    await timed(agent1, "POST", f"/api/conversations/{cid}/accept")  # answered: no deadlock

    sup = await hub.client("supervisor")

    async def rerouted() -> bool:
        conv = await timed(sup, "GET", f"/api/conversations/{cid}")
        return conv["queue_id"] == billing

    await eventually(rerouted, 5.0, what="the rule moved the chat to Billing")
    # the ACD serves every queue and channel still: a second agent gets a new chat
    agent2 = await hub.client("agent2")
    await timed(agent2, "POST", "/api/agent/state", {"state": "ready"})
    other = await open_chat(hub, general, name="Li Na", message="second customer")

    async def offered_to_someone() -> bool:
        return await offered_to(agent1, other) or await offered_to(agent2, other)

    await eventually(offered_to_someone, 5.0, what="the new chat is offered to a ready agent")
    async with hub.services.db.read() as conn:
        fired = (await conn.execute(select(t.events.c.data).where(t.events.c.type == "rule.fired"))).scalars().all()
    assert any(f["rule"] == "Assigned chats go to Billing" and f["results"][0]["status"] == "done" for f in fired)
    await hub.services.bus.settled()
    check_invariants(hub.services.routing.engine)


ACTIONS = ("assign", "set_priority", "transfer", "notify", "ticket", "callback")
EVENTS = ("conversation.created", "conversation.assigned", "message.created", "ticket.created",
          "ticket.updated", "conversation.closed")


def random_rule(rng: random.Random, i: int, queues: list[str]) -> dict[str, Any]:
    event = rng.choice(EVENTS)
    actions: list[dict[str, Any]] = []
    for kind in rng.sample(ACTIONS, rng.randint(1, 3)):
        if kind in ("assign", "transfer"):
            actions.append({"type": "assign", "queue_id": rng.choice(queues)})
        elif kind == "set_priority":
            actions.append({"type": "set_priority", "priority": rng.choice(["low", "normal", "high", "urgent"])})
        elif kind == "notify":
            actions.append({"type": "notify", "targets": [{"kind": "supervisors"}], "message": f"rule {i}"})
        elif kind == "ticket":
            actions.append({"type": "create_ticket", "ticket_type": "inquiry", "subject": f"from rule {i}"})
        else:
            actions.append({"type": "callback", "delay_s": 3600, "note": f"rule {i}"})
    return {"name": f"random {i}", "event": event, "conditions": {"all": []}, "actions": actions}


async def test_random_rule_sets_never_block_a_request_and_every_chain_ends(tmp_path):
    """Property test over seeds (each a fresh hub): random rules, random steps; every request
    answers within the watchdog, the ACD invariants hold, and every rule chain ends (the bus
    settles, no chain deeper than the limit)."""
    from tests.support.hub import running_hub
    from tests.workflows.conftest import LEAN

    for seed in range(3):
        rng = random.Random(seed)
        async with running_hub(tmp_path / f"data{seed}", **LEAN) as hub:
            admin = await hub.client("admin")
            queues = [q["id"] for q in await timed(admin, "GET", "/api/queues")]
            for i in range(rng.randint(2, 5)):
                await timed(admin, "POST", "/api/rules", random_rule(rng, i, queues))
            agents = [await hub.client(f"agent{n}") for n in (1, 2, 3)]
            for a in agents:
                await timed(a, "POST", "/api/agent/state", {"state": "ready"})
            chats: list[str] = []
            for _step in range(25):
                step = rng.choice(("chat", "chat", "accept", "reply", "close", "ticket", "update"))
                agent = rng.choice(agents)
                if step == "chat":
                    chats.append(await open_chat(hub, rng.choice(queues), name=f"Customer {len(chats)}"))
                elif step == "ticket":
                    await timed(agent, "POST", "/api/tickets", {"type": "complaint", "subject": "x"})
                elif step == "update":
                    items = (await timed(agent, "GET", "/api/tickets"))["items"]
                    if items:
                        await timed(agent, "PATCH", f"/api/tickets/{rng.choice(items)['id']}",
                                    {"priority": rng.choice(["low", "high"])}, ok=(200, 403, 404, 409))
                elif chats:
                    cid = rng.choice(chats)
                    path = {"accept": f"/api/conversations/{cid}/accept",
                            "reply": f"/api/conversations/{cid}/messages",
                            "close": f"/api/conversations/{cid}/close"}[step]
                    body = {"body": "reply"} if step == "reply" else ({} if step == "close" else None)
                    # another agent may hold it, or it may be closed already: a refusal is fine
                    await timed(agent, "POST", path, body, ok=(200, 201, 204, 403, 404, 409))
                check_invariants(hub.services.routing.engine)
            await hub.services.bus.settled(within_s=20)  # every chain ended
            check_invariants(hub.services.routing.engine)
            async with hub.services.db.read() as conn:
                rows = (await conn.execute(select(t.events.c.type, t.events.c.data).where(
                    t.events.c.type.in_(("rule.fired", "rule.loop_blocked"))))).all()
            assert all(r.data["depth"] <= MAX_DEPTH for r in rows)
            assert hub.services.bus.stats()["consumers"]["workflows.rules"]["failures"] == 0


async def test_a_stopping_component_gets_what_was_queued_for_it_and_nothing_after() -> None:
    """The hub stops components in reverse order; one that stops early (voice) closes calls, and the
    events of that must not reach a component already stopped (the web chat channel asserted it
    was not started). ``release`` drains a component's live subscribers, then takes them away."""
    from hub.events import Event, EventBus, EventType

    bus = EventBus()
    got: list[str] = []
    gate = asyncio.Event()

    async def widget(ev: Event) -> None:
        await gate.wait()  # slow: events queue up behind this one
        got.append(str(ev.conversation_id))

    async def desk(ev: Event) -> None:
        got.append(f"desk:{ev.conversation_id}")

    with bus.owned_by("webchat"):
        bus.subscribe(widget, name="webchat.widget")
    bus.subscribe(desk, name="realtime.desk")
    bus.publish([Event(EventType.CONVERSATION_CLOSED, 1.0, conversation_id=c) for c in ("a", "b")])
    release = asyncio.create_task(bus.release("webchat"))
    await asyncio.sleep(0.05)
    assert not release.done()  # waits for what is queued
    gate.set()
    await asyncio.wait_for(release, 2)
    bus.publish([Event(EventType.CONVERSATION_CLOSED, 2.0, conversation_id="c")])
    await bus.settled(2)
    assert [g for g in got if not g.startswith("desk:")] == ["a", "b"]  # not "c": it has stopped
    assert [g for g in got if g.startswith("desk:")] == ["desk:a", "desk:b", "desk:c"]
    await bus.close()


class MemoryLog:
    """A ``ConsumerStore`` in memory (the real one, over the events table, is tested by the crash
    tests): the events published so far and the saved checkpoints."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.saved: dict[str, int] = {}

    async def head(self) -> int:
        return self.events[-1].id if self.events else 0

    async def checkpoints(self) -> dict[str, int]:
        return dict(self.saved)

    async def save(self, checkpoints: dict[str, int]) -> None:
        self.saved.update(checkpoints)

    async def read_after(self, after_id: int, types: Any, limit: int) -> list[Any]:
        return [e for e in self.events if e.id > after_id][:limit]


async def test_a_concurrent_consumer_keeps_each_conversation_in_order_and_its_checkpoint_honest() -> None:
    """``consume(…, concurrency=n)`` (the widget bot's): events of different conversations are
    handled at once, each conversation's in order; the checkpoint never passes an event still being
    handled, so a stop (or crash) then replays it, and what was done after it, on the next start."""
    from hub.events import Event, EventBus, EventType

    def ev(i: int, cid: str) -> Event:
        return Event(EventType.MESSAGE_CREATED, float(i), conversation_id=cid, id=i)

    log = MemoryLog()
    gate = asyncio.Event()
    handled: list[tuple[str, int]] = []

    async def handler(e: Event) -> None:
        if e.id == 2:
            await gate.wait()  # conversation b's first event is slow
        handled.append((str(e.conversation_id), int(e.id or 0)))

    bus = EventBus(checkpoint_interval_s=3600)
    await bus.open(log)
    bus.consume("bot", handler, concurrency=4)
    await bus.start()
    log.events = [ev(1, "a"), ev(2, "b"), ev(3, "a"), ev(4, "b"), ev(5, "a"), ev(6, "c")]
    bus.publish(log.events)
    await eventually(lambda: len(handled) == 4, 5.0, what="a's and c's events while b waits")
    assert sorted(handled) == [("a", 1), ("a", 3), ("a", 5), ("c", 6)]  # b's second waits for its first
    assert [h for h in handled if h[0] == "a"] == [("a", 1), ("a", 3), ("a", 5)]
    assert bus.stats()["consumers"]["bot"]["last_id"] == 1  # not past b's event 2
    await bus.flush_checkpoints()
    assert log.saved["bot"] == 1

    # stopped now (as a crash would): the next start hands 2..6 over again, b in order
    await bus.stop_consumers(drain_s=0.1)
    assert log.saved["bot"] == 1
    handled.clear()
    gate.set()
    again = EventBus(checkpoint_interval_s=3600)
    await again.open(log)
    again.consume("bot", handler, concurrency=4)
    await again.start()
    await again.settled(5)
    assert sorted(handled) == [("a", 3), ("a", 5), ("b", 2), ("b", 4), ("c", 6)]
    assert [h for h in handled if h[0] == "b"] == [("b", 2), ("b", 4)]
    assert again.stats()["consumers"]["bot"]["last_id"] == 6
    await again.stop_consumers()
    assert log.saved["bot"] == 6
    await bus.close()
    await again.close()

