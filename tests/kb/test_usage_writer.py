"""Usage rows (issue #14): buffered in memory and written in batches, one transaction per batch
(an SQLAlchemy ``begin`` listener on the real engine counts them), nothing accepted lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select

from kb import tables as kt
from tests.support.wait import eventually


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
        await eventually(lambda: usage_rows(hub, keep["id"]), kb.usage_flush_interval_s * 0.8,
                         until=lambda n: n == 250, every=0.01)
        assert len(set(txs)) == 1, txs
        # 20 single uses in quick succession: one more transaction, within the interval
        for _ in range(20):
            await kb.record_usage(keep["id"], conversation_id="c2", kind="viewed")
        await eventually(lambda: usage_rows(hub, keep["id"]), 2.0, until=lambda n: n == 270, every=0.01)
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
