"""Alembic environment: runs on a connection handed over by ``hub.db.engine.migrate``,
or, from the ``alembic`` command line, on its own engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hub.db.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from hub.db.engine import make_engine

    async def _main() -> None:
        # the command line: `alembic -x url=<database url> upgrade heads` in the repository root
        url = context.get_x_argument(as_dictionary=True).get("url")
        if not url:
            raise SystemExit("give the database: alembic -x url=sqlite+aiosqlite:///data/hub.db …")
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(_main())
