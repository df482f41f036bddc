"""The async engine (SQLite in WAL mode by default, or PostgreSQL) and migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

#: ``[tool.alembic]`` of this file lists the folders of the one Alembic history: the hub's
#: (``hub/db/migrations/versions``) and each component's own ``migrations`` folder
ALEMBIC_TOML = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # Readers run concurrently (WAL): keep enough connections open that a burst does not open
        # and close overflow connections (each new one opens the file and runs the pragmas).
        engine = create_async_engine(url, connect_args={"timeout": 30}, pool_size=40, max_overflow=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    """The Alembic configuration of ``[tool.alembic]`` in pyproject.toml (script location and the
    version locations: the hub's folder and each component's), on the database ``url``."""
    from alembic.config import Config

    if not ALEMBIC_TOML.is_file():
        raise RuntimeError(f"{ALEMBIC_TOML} is missing: its [tool.alembic] section lists the migration folders")
    cfg = Config(toml_file=ALEMBIC_TOML)
    if not cfg.get_version_locations_list():
        raise RuntimeError(f"{ALEMBIC_TOML} has no [tool.alembic] version_locations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _upgrade(connection: Connection, url: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")


#: the PostgreSQL advisory lock key held while one process migrates the schema
MIGRATION_LOCK = 7_246_105_375


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision."""
    url = engine.url.render_as_string(hide_password=False)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # several hub processes starting at once (docs/SCALING.md): one migrates, the others
            # wait for its commit and find nothing left to do
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        await conn.run_sync(_upgrade, url)


def migrate_sync(engine: AsyncEngine) -> None:
    asyncio.run(migrate(engine))
