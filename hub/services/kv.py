"""Small durable values keyed by name (``settings_kv``): checkpoints and markers components keep
across restarts, e.g. the email channel's IMAP UID checkpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.db import tables as t
from hub.db.uow import Database, Tx


class KeyValueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> Any | None:
        async with self.db.read() as conn:
            return (await conn.execute(select(t.settings_kv.c.value).where(
                t.settings_kv.c.key == key))).scalar()

    async def put(self, key: str, value: Any) -> None:
        async with self.db.tx() as tx:
            await self.put_in(tx, key, value)

    @staticmethod
    async def put_in(tx: Tx, key: str, value: Any) -> None:
        """``put`` inside the caller's transaction (a checkpoint that commits with its work)."""
        if len(key) > 64:
            raise ValueError(f"key {key[:20]!r}… is longer than 64 characters")
        updated = await tx.conn.execute(t.settings_kv.update().where(
            t.settings_kv.c.key == key).values(value=value))
        if not updated.rowcount:
            await tx.conn.execute(t.settings_kv.insert().values(key=key, value=value))
