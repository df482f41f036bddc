"""Migrated template databases, made once per test process and copied for every hub under test.

Every hub start migrates its database (``hub.app.build_services``); on an empty database that is
the whole Alembic history. Tests start hundreds of hubs, so a hub's fresh SQLite file is a copy of
one migrated template file, and a fresh PostgreSQL database is ``CREATE DATABASE … TEMPLATE`` of
one migrated template database (``tests/support/postgres.py``). The hub still runs its migration
on start (a no-op at the newest revision); the migration from an empty database runs once per
test process for each engine, when the template is made, and a broken migration fails there."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_lock = threading.Lock()
_sqlite_template: Path | None = None
_seeded: dict[str, Path] = {}  # settings → a data folder where a hub seeded the demo and stopped


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _migrate(url: str) -> None:
    from hub.db.engine import make_engine, migrate

    engine = make_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


def migrate_url(url: str) -> None:
    """Migrate the database at ``url`` to the newest revision; callable from inside a running event
    loop (it runs on its own loop in a helper thread)."""
    with ThreadPoolExecutor(1, thread_name_prefix="template-migrate") as pool:
        pool.submit(asyncio.run, _migrate(url)).result()


def sqlite_template() -> Path:
    """The migrated template SQLite file of this test process (made on first use)."""
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            folder = Path(tempfile.mkdtemp(prefix="hub-sqlite-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "hub.db"
            migrate_url(sqlite_url(path))
            leftovers = [p.name for p in folder.iterdir() if p != path]
            assert not leftovers, f"the template database left {leftovers} behind"
            _sqlite_template = path
        return _sqlite_template


def fresh_sqlite(data_dir: Path) -> None:
    """Give a hub's data dir a migrated ``hub.db`` copied from the template, unless it already has
    one (a test restarting a hub on the same data dir keeps its data)."""
    target = data_dir / "hub.db"
    if target.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_template(), target)


async def fresh_seeded(data_dir: Path, key: str, seed: Callable[[Path], Awaitable[None]]) -> None:
    """Like :func:`fresh_sqlite`, for a hub on SQLite with demo data: its data folder starts as a
    copy of one where a hub with the same settings (``key``) already seeded the demo and stopped
    (``await seed(folder)`` makes it, once per test process and key). Seeding costs ~0.45 s of a
    hub's ~0.65 s start, and hundreds of tests start such a hub. A hub starting on the copy is
    a restarted hub: the demo's events are in its log, its consumers are past them."""
    if (data_dir / "hub.db").exists():
        return
    folder = _seeded.get(key)
    if folder is None:  # (two hubs of one test starting at once may both seed: the first one kept)
        folder = Path(tempfile.mkdtemp(prefix="hub-seeded-")) / "data"
        atexit.register(shutil.rmtree, folder.parent, True)
        fresh_sqlite(folder)
        await seed(folder)
        folder = _seeded.setdefault(key, folder)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, data_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("server-*.log"))
