"""Usage rows (issue #14): buffered in memory and written in batches, one transaction per batch
(an SQLAlchemy ``begin`` listener on the real engine counts them), nothing accepted lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select

from kb import tables as kt


def count_usage_transactions(engine: Any) -> tuple[list[int], Any]:
    """Transaction numbers of the INSERTs into kb_usage; and a function that stops counting."""
    seen: list[int] = []
    n = [0]

    def on_begin(conn: Any) -> None:
        n[0] += 1
        conn.info["test_tx"] = n[0]

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO KB_USAGE"):
            seen.append(conn.info.get("test_tx", 0))

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)

    def stop() -> None:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)
    return seen, stop


async def usage_rows(hub: Any, article_id: str) -> int:
    u = kt.kb_usage.c
    async with hub.services.db.read() as conn:
        return (await conn.execute(select(func.count()).where(u.article_id == article_id))).scalar()


async def until(probe: Any, expected: Any = True, within_s: float = 5.0) -> None:
    """Until ``probe()`` (or what it awaits) is truthy, or equals ``expected`` when given."""
    async with asyncio.timeout(within_s):
        while True:
            got = probe()
            if asyncio.iscoroutine(got):
                got = await got
            if (got == expected) if expected is not True else got:
                return
            await asyncio.sleep(0.01)


@pytest.mark.storage
async def test_usage_is_written_in_batches_and_flushed_at_stop(hub) -> None:  # type: ignore[no-untyped-def]
    kb = hub.services.ports.kb
    km = await hub.client("km")
    keep = await km.ok("POST", "/api/kb/articles", {
        "question": "How do I change my tariff?", "answer_html": "<p>In the app.</p>"}, status=201)
    gone = await km.ok("POST", "/api/kb/articles", {
        "question": "An article deleted before its uses are written",
        "answer_html": "<p>x</p>"}, status=201)
    txs, stop = count_usage_transactions(hub.services.db.engine.sync_engine)
    try:
        # 250 uses at once (over usage_flush_rows): written without waiting for the interval,
        # in one transaction
        await kb.record_usage_many([keep["id"]] * 250, conversation_id="c1", kind="suggested")
        await until(lambda: usage_rows(hub, keep["id"]), 250,
                    within_s=kb.usage_flush_interval_s * 0.8)
        assert len(set(txs)) == 1, txs
        # 20 single uses in quick succession: one more transaction, within the interval
        for _ in range(20):
            await kb.record_usage(keep["id"], conversation_id="c2", kind="viewed")
        await until(lambda: usage_rows(hub, keep["id"]), 270, within_s=2.0)
        assert len(set(txs)) == 2, txs
        # uses of an article deleted meanwhile are dropped, the others still written
        txs.clear()
        await kb.record_usage(gone["id"], kind="viewed", user_id=None)
        await kb.record_usage(keep["id"], kind="viewed", user_id=None)
        await km.ok("DELETE", f"/api/kb/articles/{gone['id']}", status=204)
        # stopping (as the component's stop does) writes what is buffered, at once
        await kb.stop_usage_writer()
        assert not kb.usage_pending() and len(set(txs)) == 1
        assert await usage_rows(hub, keep["id"]) == 271
        assert await usage_rows(hub, gone["id"]) == 0
        # without the writer (a knowledge base used on its own) a use is written at once
        await kb.record_usage(keep["id"], kind="inserted", user_id=None)
        assert await usage_rows(hub, keep["id"]) == 272
    finally:
        stop()
        kb.start_usage_writer()
    status = await kb.status()
    assert status["usage"]["written"] >= 272 and status["usage"]["waiting"] == 0
