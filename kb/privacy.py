"""The knowledge base's personal data (hub/services/privacy.py): none of its articles are about
customers, but a content gap keeps the latest wording of a question customers asked and the ids
of the conversations it came from. A contact's erasure redacts their identifiers from the
questions of gaps their conversations asked and drops those conversation ids; the gap and its
count stay (the FAQ's reports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import Redactor, json_entry
from kb.tables import kb_gaps


class KbPersonalData:
    name = "kb"

    def retention_days(self) -> Mapping[str, float]:
        return {}

    @staticmethod
    async def _gaps(conn: AsyncConnection, subject: DataSubject) -> list[tuple[str, str, list[str]]]:
        """(id, question, conversation ids) of the gaps the subject's conversations asked."""
        mine = set(subject.conversation_ids)
        if not mine:
            return []
        rows = (await conn.execute(select(kb_gaps.c.id, kb_gaps.c.question, kb_gaps.c.conversation_ids))).all()
        return [(r.id, r.question, list(r.conversation_ids or [])) for r in rows
                if mine & set(r.conversation_ids or [])]

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        gaps = await self._gaps(conn, subject)
        return [json_entry("kb/questions.json", [{"gap_id": g, "question": q} for g, q, _ in gaps])] if gaps else []

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        if "messages" not in subject.parts:
            return done
        redactor = Redactor(subject.terms, subject.phones)
        mine = set(subject.conversation_ids)
        gaps = await self._gaps(tx.conn, subject)
        for gid, question, convs in gaps:
            await tx.conn.execute(update(kb_gaps).where(kb_gaps.c.id == gid).values(
                question=redactor.text(question) or question, conversation_ids=[c for c in convs if c not in mine]))
        done.counts["kb_gaps"] = len(gaps)
        return done
