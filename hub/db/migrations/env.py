"""Alembic environment: runs on a connection handed over by ``hub.db.engine.migrate``,
or, from the ``alembic`` command line, on its own engine."""

from __future__ import annotations

import asyncio

from alembic import context

from hub.db.tables import metadata

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
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
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(_main())
