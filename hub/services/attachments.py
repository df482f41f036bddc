"""Attachment storage: size and type limits checked before anything is kept; files land under
``<data_dir>/attachments`` and the row is committed only after the file is on disk."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Insert, delete, select

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.auth import Client

MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}


def sniff_ok(content_type: str, head: bytes) -> bool:
    if content_type in MAGIC:
        return head.startswith(MAGIC[content_type])
    if content_type == "text/plain":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as err:
            # a multi-byte character cut at the end of the sniffed block is fine
            return err.start >= len(head) - 3
        return b"\x00" not in head
    return True


def attachment_public(row: Any) -> dict[str, Any]:
    out = {"id": row.id, "filename": row.filename, "content_type": row.content_type,
           "size": row.size}
    if row.route:  # served only by its own route (a call recording): where to fetch it
        out["url"] = row.route
    return out


class AttachmentStore:
    def __init__(self, db: Database, clock: Clock, root: Path, max_bytes: int,
                 allowed_types: tuple[str, ...]) -> None:
        self.db = db
        self.clock = clock
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_types = allowed_types

    def path_for(self, aid: str) -> Path:
        return self.root / aid[:2] / aid

    async def save(self, filename: str, content_type: str, chunks: AsyncIterator[bytes],
                   uploaded_by: str, conversation_id: str | None = None, *,
                   route: str | None = None) -> dict[str, Any]:
        """Check and store a file, then commit its row (one hop to the writer). ``route``: the
        path of the attachment's own route when only that may serve it (a call recording's: its
        permission and audit), never ``GET /api/attachments/{id}``."""
        att, insert = await self.write_file(filename, content_type, chunks, uploaded_by, conversation_id,
                                            route=route)
        try:
            await self.db.write(lambda conn, _emit: conn.execute(insert))
        except BaseException:
            self.path_for(att["id"]).unlink(missing_ok=True)
            raise
        return att

    async def write_file(self, filename: str, content_type: str, chunks: AsyncIterator[bytes],
                         uploaded_by: str, conversation_id: str | None = None, *,
                         route: str | None = None) -> tuple[dict[str, Any], Insert]:
        """Check a file and put it on disk (synced) without storing its row: returns the
        attachment as ``save`` does and the row's insert, for the caller to run in its own unit of
        work (e.g. with the message it belongs to). If that unit of work does not commit, the
        caller removes the file (``path_for``)."""
        content_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
        if content_type not in self.allowed_types:
            raise UnsupportedMediaType(
                f"files of type {content_type} are not accepted; allowed: {', '.join(self.allowed_types)}")
        name = os.path.basename(filename or "").strip() or "file"
        if len(name) > 200:
            raise ValidationFailed("file name is longer than 200 characters")
        self.root.mkdir(parents=True, exist_ok=True)
        aid = new_id()
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(
                            f"the file is larger than the limit of {self.max_bytes // 1024} KiB")
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                await asyncio.to_thread(os.fsync, fh.fileno())  # not on the event loop
            if size == 0:
                raise ValidationFailed("the file is empty")
            if not sniff_ok(content_type, head):
                raise UnsupportedMediaType(f"the file's content is not {content_type}")
            dest = self.path_for(aid)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        insert = t.attachments.insert().values(
            id=aid, conversation_id=conversation_id, filename=name, content_type=content_type,
            size=size, sha256=digest.hexdigest(), uploaded_by=uploaded_by,
            created_at=self.clock.now(), route=route)
        att: dict[str, Any] = {"id": aid, "filename": name, "content_type": content_type, "size": size}
        if route:
            att["url"] = route
        return att, insert

    async def describe(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Attachment id → its id, filename, content type and size (unknown ids left out)."""
        wanted = set(ids)
        if not wanted:
            return {}
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.attachments).where(t.attachments.c.id.in_(wanted)))).all()
        return {a.id: {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in rows}

    async def forget(self, tx: Tx, ids: Sequence[str]) -> None:
        """Delete attachment rows in the caller's transaction; once it has committed, the caller
        removes the files with :meth:`unlink` (a failed commit leaves them in place)."""
        if ids:
            await tx.conn.execute(delete(t.attachments).where(t.attachments.c.id.in_(list(ids))))

    async def unlink(self, ids: Iterable[str]) -> None:
        for aid in ids:
            await asyncio.to_thread(self.path_for(aid).unlink, missing_ok=True)

    async def downloaded(self, row: Any, user_id: str, client: Client, *, via: str,
                         byte_range: str | None = None) -> None:
        """Store who downloaded an attachment (``attachment.downloaded``, in the audit trail):
        the user, their IP address and user agent, the route (``via``) and the byte range asked."""
        async with self.db.tx() as tx:
            tx.emit(Event(EventType.ATTACHMENT_DOWNLOADED, self.clock.now(), user_id=user_id,
                          conversation_id=row.conversation_id,
                          data={"attachment_id": row.id, "filename": row.filename, "via": via,
                                "range": byte_range, **client.audit()}))

    async def get(self, aid: str) -> Any:
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.attachments).where(t.attachments.c.id == aid))).first()
        if row is None:
            raise NotFound(f"attachment {aid} does not exist")
        return row
