"""Issue #14: assist's expensive work is bounded. Against a real hub (the real knowledge base,
model and Socket.IO clients); the knowledge base's ``search`` is wrapped on the running instance
to count (and, where a test needs a burst to overlap a search, to hold) the searches."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import event, func, select

from hub.db import tables as t
from hub.events import Event, EventType
from kb import tables as kt
from tests.api.helpers import agent_desk, start_chat
from tests.support.hub import InProcessHub
from tests.support.wait import eventually

QUEUED_TEXTS = ["my gas bill is much higher than last month",
                "I think the meter reading they used is wrong",
                "how can I pay my gas bill online"]


class SearchCounter:
    """Wraps ``KnowledgeBase.search`` of the running hub: counts the queries; while ``gate`` is
    set, a search waits for it before running."""

    def __init__(self, kb: Any) -> None:
        self.kb = kb
        self.queries: list[str] = []
        self.gate: asyncio.Event | None = None
        self._search = kb.search
        kb.search = self

    async def __call__(self, query: str, **kwargs: Any) -> Any:
        self.queries.append(query)
        if self.gate is not None:
            await self.gate.wait()
        return await self._search(query, **kwargs)

    def restore(self) -> None:
        del self.kb.search


async def settle(hub: InProcessHub, pause: float = 0.3) -> None:
    """Until the events so far are handled and assist has no search running or waiting."""
    settled = getattr(hub.services.bus, "settled", None)
    if settled is not None:
        await settled()
    svc = hub.services.ports.assist
    await asyncio.sleep(pause)
    for _ in range(100):
        if not svc._running and not svc._pending:
            return
        await asyncio.sleep(0.05)


async def status_of(hub: InProcessHub, cid: str) -> str:
    return (await hub.services.conversations.row(cid)).status


async def test_a_queued_chat_costs_no_search_until_an_agent_gets_it(bot_hub) -> None:  # type: ignore[no-untyped-def]
    svc, bot = bot_hub.services.ports.assist, bot_hub.services.ports.bot
    kb = bot_hub.services.ports.kb
    await eventually(lambda: bot.loaded)
    agent1, desk1 = await agent_desk(bot_hub, "agent1", ready=False)
    counter = SearchCounter(kb)
    bot_runs: list[str] = []
    handle = bot._handle_if_bot

    async def counting_handle(cid: str, msg: dict[str, Any]) -> None:
        bot_runs.append(cid)
        await handle(cid, msg)

    bot._handle_if_bot = counting_handle
    try:
        customer, widget, session = await start_chat(bot_hub, message="Talk to a person please")
        cid = session["conversation_id"]
        await eventually(lambda: _is(bot_hub, cid, "queued"))  # the bot handed over; nobody is ready
        await settle(bot_hub)
        bot_runs.clear()  # (the opening message was the bot's)
        skipped = svc.stats["skipped_inactive"]
        for i, text in enumerate(QUEUED_TEXTS):
            ack = await widget.call("message", {"body": text, "client_id": f"q{i}"})
            assert ack["ok"]
        await settle(bot_hub)
        assert await status_of(bot_hub, cid) == "queued"
        # (a) nothing searched (neither assist nor the bot), and the bot did not even look
        assert counter.queries == []
        assert svc.stats["skipped_inactive"] - skipped == len(QUEUED_TEXTS)
        assert bot_runs == []
        assert not [a for a in desk1.received("assist") if a["conversation_id"] == cid]
        # (b) an agent gets ready: offered, then accepted -> suggestions for the latest text,
        # computed once
        await agent1.ok("POST", "/api/agent/state", {"state": "ready"})
        await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
        await eventually(lambda: counter.queries)
        await agent1.ok("POST", f"/api/conversations/{cid}/accept")
        got = await desk1.wait("assist", lambda a: a["conversation_id"] == cid, timeout=10)
        assert got["query"] == QUEUED_TEXTS[-1]
        assert "bill" in got["suggestions"][0]["question"].lower()
        cur = await agent1.ok("GET", f"/api/assist/conversations/{cid}/suggestions")
        assert cur["query"] == QUEUED_TEXTS[-1]
        await settle(bot_hub)
        assert counter.queries == [QUEUED_TEXTS[-1]]
        status = await agent1.ok("GET", "/api/assist/status")
        assert status["suggestions"]["skipped_inactive"] >= len(QUEUED_TEXTS)
    finally:
        counter.restore()
        del bot._handle_if_bot
    await desk1.close()
    await widget.close()


async def _is(hub: InProcessHub, cid: str, status: str) -> bool:
    return await status_of(hub, cid) == status


async def test_a_burst_of_customer_messages_costs_at_most_two_searches(bot_hub) -> None:  # type: ignore[no-untyped-def]
    svc, kb = bot_hub.services.ports.assist, bot_hub.services.ports.kb
    agent1, desk1 = await agent_desk(bot_hub, "agent1")
    customer, widget, session = await start_chat(bot_hub, message="Talk to a person please")
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
    await agent1.ok("POST", f"/api/conversations/{cid}/accept")
    await settle(bot_hub)
    counter = SearchCounter(kb)
    counter.gate = asyncio.Event()  # the first search waits until the whole burst is in
    texts = [f"question number {i}: how do I read my gas meter" for i in range(7)]
    texts[-1] = "I think there is a gas leak in my kitchen"
    coalesced = svc.stats["coalesced"]
    try:
        for i, text in enumerate(texts):
            ack = await widget.call("message", {"body": text, "client_id": f"b{i}"})
            assert ack["ok"]
        settled = getattr(bot_hub.services.bus, "settled", None)
        if settled is not None:
            await settled()
        await eventually(lambda: counter.queries)
        counter.gate.set()
        got = await desk1.wait("assist", lambda a: a["query"] == texts[-1], timeout=10)
        await settle(bot_hub)
    finally:
        counter.restore()
    assert len(counter.queries) <= 2, counter.queries
    assert counter.queries[-1] == texts[-1]  # latest wins
    assert svc.stats["coalesced"] - coalesced >= len(texts) - 2
    assert "Leave the building" in got["suggestions"][0]["answer"]
    await desk1.close()
    await widget.close()


async def test_waiting_searches_are_bounded_and_the_oldest_is_dropped(bot_hub) -> None:  # type: ignore[no-untyped-def]
    svc, kb = bot_hub.services.ports.assist, bot_hub.services.ports.kb
    svc.max_pending, svc.concurrency = 2, 1
    now = time.time()
    cids = [f"load-test-{i}" for i in range(4)]
    for cid in cids:  # handled by an agent, as far as assist knows
        svc.states.apply(Event(EventType.CONVERSATION_ASSIGNED, now, conversation_id=cid,
                               user_id="nobody"))
    counter = SearchCounter(kb)
    counter.gate = asyncio.Event()
    dropped = svc.stats["dropped"]
    try:
        for cid in cids:
            svc.push_text(cid, f"how do I read my gas meter ({cid})")
        # one runs (held), two wait, the oldest waiting one was shed
        assert list(svc._running) == [cids[0]] and list(svc._pending) == cids[2:]
        assert svc.stats["dropped"] - dropped == 1
        counter.gate.set()
        await settle(bot_hub)
    finally:
        counter.restore()
    assert [q.rsplit("(", 1)[1].rstrip(")") for q in counter.queries] == [cids[0], *cids[2:]]
    assert svc.load()["dropped"] >= 1


@pytest.mark.storage  # transactions and what survives a stop: on SQLite and PostgreSQL
async def test_the_suggested_uses_of_one_set_are_one_transaction_and_survive_stop(bot_hub) -> None:  # type: ignore[no-untyped-def]
    kb = bot_hub.services.ports.kb
    agent1, desk1 = await agent_desk(bot_hub, "agent1")
    customer, widget, session = await start_chat(bot_hub, message="Talk to a person please")
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
    await agent1.ok("POST", f"/api/conversations/{cid}/accept")
    await settle(bot_hub)
    await kb.flush_usage()

    engine = bot_hub.services.db.engine.sync_engine
    txs = [0]
    usage_inserts: list[tuple[int, bool]] = []  # (transaction number, executemany)

    def on_begin(conn: Any) -> None:
        txs[0] += 1
        conn.info["test_tx"] = txs[0]

    def on_execute(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                   executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO KB_USAGE"):
            usage_inserts.append((conn.info.get("test_tx", 0), executemany))

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        text = "I think there is a gas leak in my kitchen"
        await widget.call("message", {"body": text, "client_id": "u1"})
        got = await desk1.wait("assist", lambda a: a["query"] == text, timeout=10)
        assert len(got["suggestions"]) == 3
        # written by the usage writer within its interval (no read forces it here)
        await eventually(lambda: usage_inserts, 5)
        await settle(bot_hub)
        assert len({tx for tx, _ in usage_inserts}) == 1, usage_inserts
        assert len(usage_inserts) == 1 and usage_inserts[0][1], "one executemany insert"
        # many uses in a short time: still one transaction per flush, not one per row
        usage_inserts.clear()
        ids = [s["article_id"] for s in got["suggestions"]]
        for i in range(30):
            await kb.record_usage(ids[i % 3], conversation_id=cid, user_id=None,
                                  kind="suggested")
        # stopping the writer (as the component's stop does) writes what is buffered
        await kb.stop_usage_writer()
        assert not kb.usage_pending()
        assert len({tx for tx, _ in usage_inserts}) <= 2, usage_inserts
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)
        kb.start_usage_writer()
    u = kt.kb_usage.c
    async with bot_hub.services.db.read() as conn:
        n = (await conn.execute(select(func.count()).where(
            u.conversation_id == cid, u.kind == "suggested", u.article_id.in_(ids)))).scalar()
        assert (await conn.execute(select(t.conversations.c.status).where(
            t.conversations.c.id == cid))).scalar() == "assigned"
    assert n >= 33  # the suggestion set's 3 rows and the 30 recorded directly
    # reads that count uses see buffered rows at once (they flush first)
    await kb.record_usage(ids[0], conversation_id=cid, user_id=None, kind="inserted")
    assert (await kb.get(ids[0]))["stats"]["inserted"] == 1
    assert (await kb.status())["usage"]["dropped"] == 0
    await desk1.close()
    await widget.close()


async def test_a_search_slot_rests_so_suggestions_take_only_their_share_of_a_core(bot_hub) -> None:  # type: ignore[no-untyped-def]
    svc, kb = bot_hub.services.ports.assist, bot_hub.services.ports.kb
    svc.concurrency, svc.cpu_share = 1, 0.5
    now = time.time()
    cids = ["share-test-0", "share-test-1"]
    for cid in cids:
        svc.states.apply(Event(EventType.CONVERSATION_ASSIGNED, now, conversation_id=cid,
                               user_id="nobody"))
    spans: list[tuple[float, float]] = []
    search = kb.search

    async def slow_search(query: str, **kwargs: Any) -> Any:
        began = time.monotonic()
        await asyncio.sleep(0.2)  # a search that takes 0.2 s
        hits = await search(query, **kwargs)
        spans.append((began, time.monotonic()))
        return hits

    kb.search = slow_search
    try:
        for cid in cids:
            svc.push_text(cid, f"how do I read my gas meter ({cid})")
        await settle(bot_hub, pause=0.6)
    finally:
        del kb.search
    assert len(spans) == 2
    # at a share of 0.5, the slot rests as long as the search took before the next one starts
    assert spans[1][0] - spans[0][1] >= 0.15
    assert svc.load()["cpu_share"] == 0.5
