"""``Database.write`` on SQLite commits the writes that queue up together (group commit,
hub/db/uow.py). What a caller sees must not change: its own result or its own error, its events
stored and published in commit order, and nothing of a failed write kept."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import event, select

from hub.db import tables as t
from hub.db.uow import MAX_GROUP, Database
from hub.events import Event, EventType
from tests.scheduler.conftest import OpenDb


def _put(key: str, fail: bool = False) -> Any:
    def work(conn: Any, emit: Any) -> str:
        conn.execute(t.settings_kv.insert().values(key=key, value={"v": key}))
        emit(Event(EventType.ADMIN_CHANGED, 0.0, data={"key": key}))
        if fail:
            raise ValueError(f"refused {key}")
        return key
    return work


async def _stored(db: Database) -> set[str]:
    async with db.read() as conn:
        return set((await conn.execute(select(t.settings_kv.c.key))).scalars())


async def test_concurrent_writes_share_commits_and_only_the_failing_one_fails(open_db: OpenDb) -> None:
    db = await open_db()
    published: list[Event] = []
    db.bus.publish = published.extend  # type: ignore[method-assign]  # what the bus is handed, in order
    commits = 0

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    await db.write(_put("warm-up"))  # makes the writer's engine
    assert db._sync_engine is not None
    event.listen(db._sync_engine, "commit", count)
    keys = [f"k{i:02}" for i in range(40)]
    results = await asyncio.gather(*(db.write(_put(k, fail=(k == "k35"))) for k in keys),
                                   return_exceptions=True)

    assert [r if isinstance(r, str) else str(r) for r in results] == [
        "refused k35" if k == "k35" else k for k in keys]
    assert await _stored(db) == {"warm-up", *keys} - {"k35"}
    order = [e.data["key"] for e in published]
    assert order == ["warm-up", *(k for k in keys if k != "k35")]  # commit order = call order
    ids = [e.id for e in published]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # 40 writers at once: a group of MAX_GROUP (one commit), then the last 8 with the failing one,
    # which run again one by one (7 commits); one transaction each would be 39
    assert MAX_GROUP == 32
    assert commits <= 10, commits
    await db.close()


async def test_a_write_cancelled_before_its_turn_is_not_made(open_db: OpenDb) -> None:
    db = await open_db()
    release = threading.Event()

    def slow(conn: Any, emit: Any) -> str:
        release.wait(5)
        return _put("first")(conn, emit)

    first = asyncio.ensure_future(db.write(slow))
    await asyncio.sleep(0.1)  # "first" is in the writer thread now
    second = asyncio.ensure_future(db.write(_put("second")))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    assert await asyncio.wait_for(first, 5) == "first"
    assert await db.write(_put("third")) == "third"  # the writer goes on after the skipped one
    assert await _stored(db) == {"first", "third"}
    await db.close()
