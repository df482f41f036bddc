"""Import jobs: an upload becomes a job row the UI polls for progress; rows are saved one by one
(each in its own transaction: a bad row is reported with its number and reason, good rows are
kept) and indexed in batches (one batched embedding per batch)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert, select, update

from hub.db.uow import Database
from hub.errors import HubError, NotFound
from hub.security import new_id
from hub.services.auth import User
from kb import tables as kt
from kb.service import KnowledgeBase
from kb.transfer import ID_RE, Row

log = logging.getLogger(__name__)
BATCH = 50
MAX_ERRORS_KEPT = 1000


def job_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "format": row.format, "filename": row.filename,
            "status": row.status, "total": row.total, "processed": row.processed,
            "created": row.created, "updated": row.updated, "errors": list(row.errors or []),
            "detail": row.detail, "user_id": row.user_id, "created_at": row.created_at,
            "finished_at": row.finished_at}


class ImportJobs:
    def __init__(self, db: Database, kb: KnowledgeBase) -> None:
        self.db = db
        self.kb = kb
        self._tasks: set[asyncio.Task[None]] = set()

    async def fail_interrupted(self) -> int:
        """Jobs left running by a previous process: their saved rows stay; say so."""
        async with self.db.tx() as tx:
            res = await tx.conn.execute(update(kt.kb_jobs).where(kt.kb_jobs.c.status == "running")
                                        .values(status="failed", finished_at=self.kb.clock.now(),
                                                detail="interrupted by a restart; the rows "
                                                       "counted as processed were saved"))
        return res.rowcount or 0

    async def get(self, job_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(kt.kb_jobs).where(kt.kb_jobs.c.id == job_id))).first()
        if row is None:
            raise NotFound(f"import job {job_id} does not exist")
        return job_public(row)

    async def start(self, rows: list[Row], parse_errors: list[dict[str, Any]], *, fmt: str,
                    filename: str, actor: User) -> dict[str, Any]:
        job_id = new_id()
        async with self.db.tx() as tx:
            await tx.conn.execute(insert(kt.kb_jobs).values(
                id=job_id, kind="import", format=fmt, filename=filename[:255], status="running",
                total=len(rows) + len(parse_errors), processed=len(parse_errors), created=0,
                updated=0, errors=parse_errors[:MAX_ERRORS_KEPT], user_id=actor.id,
                created_at=self.kb.clock.now()))
        task = asyncio.create_task(self._run(job_id, rows, list(parse_errors), actor),
                                   name=f"kb-import-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self.get(job_id)

    async def _save_row(self, row: Row, actor: User) -> tuple[str, str]:
        """Create or update one article: ``("created" | "updated", id)``. Raises on a bad row."""
        data = dict(row.data)
        article_id = data.pop("id", None)
        if article_id is not None and not ID_RE.match(str(article_id)):
            raise HubError("id may use letters, digits, - and _ (at most 32)", code="bad_id")
        exists = False
        if article_id:
            async with self.db.read() as conn:
                exists = (await conn.execute(select(kt.kb_articles.c.id).where(
                    kt.kb_articles.c.id == article_id))).first() is not None
        async with self.db.tx() as tx:
            if exists:
                await self.kb.update(article_id, data, actor, action="imported", tx=tx)
                return "updated", article_id
            article = await self.kb.create(data, actor, action="imported", article_id=article_id,
                                           tx=tx)
            return "created", article["id"]

    async def _run(self, job_id: str, rows: list[Row], errors: list[dict[str, Any]],
                   actor: User) -> None:
        counts = {"created": 0, "updated": 0}
        processed = len(errors)
        try:
            for start in range(0, len(rows), BATCH):
                batch = rows[start:start + BATCH]
                saved: list[str] = []
                for row in batch:
                    try:
                        kind, article_id = await self._save_row(row, actor)
                    except HubError as err:
                        reason = err.detail
                        if err.details.get("errors"):
                            first = err.details["errors"][0]
                            field = first.get("loc", ["", ""])[-1]
                            reason = f"{field}: {first['msg']}" if field else first["msg"]
                        errors.append({"row": row.row, "reason": reason,
                                       "question": str(row.data.get("question") or "")[:200]})
                    else:
                        counts[kind] += 1
                        saved.append(article_id)
                    processed += 1
                await self.kb.index.sync(saved)
                async with self.db.tx() as tx:
                    await tx.conn.execute(update(kt.kb_jobs).where(kt.kb_jobs.c.id == job_id)
                                          .values(processed=processed, errors=errors[:MAX_ERRORS_KEPT],
                                                  **counts))
                await asyncio.sleep(0)
            detail = (f"{counts['created']} created, {counts['updated']} updated, "
                      f"{len(errors)} rejected")
            async with self.db.tx() as tx:
                await tx.conn.execute(update(kt.kb_jobs).where(kt.kb_jobs.c.id == job_id).values(
                    status="done", processed=processed, errors=errors[:MAX_ERRORS_KEPT],
                    detail=detail, finished_at=self.kb.clock.now(), **counts))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the job reports what went wrong
            log.exception("kb: import job %s failed", job_id)
            async with self.db.tx() as tx:
                await tx.conn.execute(update(kt.kb_jobs).where(kt.kb_jobs.c.id == job_id).values(
                    status="failed", processed=processed, errors=errors[:MAX_ERRORS_KEPT],
                    detail=f"the import stopped: {err}", finished_at=self.kb.clock.now(),
                    **counts))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                async with asyncio.timeout(5):
                    await task
            except (asyncio.CancelledError, TimeoutError):
                pass
