"""The fax channel's personal data (hub/services/privacy.py): the faxes of a contact's
conversations and those sent to or from their numbers (the documents' files, their pages' OCR
text, the numbers), and the send jobs to their numbers. Library documents (fax on demand) are the
centre's own: a job that sent one keeps it and loses only the number. Erasure keeps every fax and
job row (the reports count them) without the person's numbers, text or files."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.fax.tables import fax_documents as t_doc
from channels.fax.tables import fax_jobs as t_job
from channels.fax.tables import fax_library as t_lib
from channels.fax.tables import fax_pages as t_page
from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import ERASED_MARK, Redactor, json_entry, number_forms, plain_rows, scrub_json


class FaxPersonalData:
    name = "fax"

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.root = root  # the fax service's folder: <root>/<id[:2]>/<id>/…
        self.data_dir = data_dir

    def retention_days(self) -> Mapping[str, float]:
        return {}  # fax files are attachments: retention_attachments_days

    def _docs(self, subject: DataSubject) -> Any:
        cond = [t_doc.c.conversation_id.in_(subject.conversation_ids)]
        if "identity" in subject.parts and subject.phones:
            numbers = number_forms(subject.phones)
            cond += [t_doc.c.from_number.in_(numbers), t_doc.c.to_number.in_(numbers)]
        return or_(*cond) & t_doc.c.id.not_in(select(t_lib.c.document_id))

    def _files(self, fid: str) -> list[Path]:
        folder = self.root / fid[:2] / fid
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    async def _all_files(self, ids: Sequence[str]) -> dict[str, list[Path]]:
        return await asyncio.to_thread(lambda: {fid: self._files(fid) for fid in ids})

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        docs = (await conn.execute(select(t_doc).where(self._docs(subject)).order_by(t_doc.c.created_at))).all()
        ids = [d.id for d in docs]
        pages = (await conn.execute(select(t_page).where(t_page.c.fax_id.in_(ids)))).all()
        jobs = (await conn.execute(select(t_job).where(or_(
            t_job.c.document_id.in_(ids), t_job.c.to_number.in_(number_forms(subject.phones)))))).all()
        entries = [json_entry("fax/documents.json", plain_rows(docs)),
                   json_entry("fax/pages.json", plain_rows(pages, exclude=("search_text",))),
                   json_entry("fax/jobs.json", plain_rows(jobs))]
        for fid, files in (await self._all_files(ids)).items():
            folder = self.root / fid[:2] / fid
            entries += [ExportEntry(f"fax/{fid}/{p.relative_to(folder)}", source=p) for p in files]
        return entries

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        if not {"messages", "attachments", "identity"} & subject.parts:
            return done
        conn = tx.conn
        docs = (await conn.execute(select(t_doc.c.id, t_doc.c.meta).where(self._docs(subject)))).all()
        ids = [d.id for d in docs]
        if "messages" in subject.parts:  # the pages' recognised text
            await conn.execute(update(t_page).where(t_page.c.fax_id.in_(ids)).values(ocr_text=None, search_text=None))
        if "attachments" in subject.parts:
            root = self.data_dir.resolve()
            done.files += [str(p.resolve().relative_to(root)) for files in (await self._all_files(ids)).values()
                           for p in files]
        if "identity" in subject.parts:
            redactor = Redactor(subject.terms, subject.phones)
            for d in docs:
                await conn.execute(update(t_doc).where(t_doc.c.id == d.id).values(
                    from_number=None, to_number=None, meta=scrub_json(d.meta or {}, redactor)))
            await conn.execute(update(t_job).where(or_(
                t_job.c.document_id.in_(ids), t_job.c.to_number.in_(number_forms(subject.phones)))).values(
                to_number=ERASED_MARK, error=None))
        done.counts["faxes"] = len(ids)
        return done
