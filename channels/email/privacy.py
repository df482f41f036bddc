"""The email channel's personal data (hub/services/privacy.py): its mail records (subjects,
addresses, HTML bodies, the outbound text), the raw ``.eml`` files of received mail and the
recipients of bulk mailings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.email.settings import EmailSettings
from channels.email.tables import email_bulk_recipients as t_bulk
from channels.email.tables import email_messages as t_mail
from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import ERASED_MARK, Redactor, json_entry, plain_rows, scrub_json

if TYPE_CHECKING:
    from hub.app import Services


class EmailPersonalData:
    name = "email"

    def __init__(self, services: Services) -> None:
        self.s = services

    def retention_days(self) -> Mapping[str, float]:
        return {"raw_email": self.s.settings.section(EmailSettings).raw_retention_days}

    def _raw(self, meta: Mapping[str, Any] | None) -> Path | None:
        raw = (meta or {}).get("raw_path")
        if not raw:
            return None
        path, root = Path(raw).resolve(), self.s.settings.data_dir.resolve()
        return path if path.is_relative_to(root) else None

    def _bulk_where(self, subject: DataSubject) -> Any:
        return or_(t_bulk.c.contact_id.in_(subject.contact_ids), t_bulk.c.email.in_(subject.emails))

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        rows = (await conn.execute(select(t_mail).where(t_mail.c.conversation_id.in_(subject.conversation_ids))
                                   .order_by(t_mail.c.created_at))).all()
        entries = [json_entry("email/messages.json", plain_rows(rows, exclude=("dedupe_key", "mid_hash")))]
        for r in rows:
            if (raw := self._raw(r.meta)) is not None:
                entries.append(ExportEntry(f"email/raw/{r.id}.eml", source=raw))
        if subject.contact_id is not None:
            bulk = (await conn.execute(select(t_bulk).where(self._bulk_where(subject)))).all()
            entries.append(json_entry("email/bulk_recipients.json", plain_rows(bulk)))
        return entries

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        redactor = Redactor(subject.terms, subject.phones)
        rows = (await tx.conn.execute(select(t_mail.c.id, t_mail.c.meta, t_mail.c.rfc_message_id).where(
            t_mail.c.conversation_id.in_(subject.conversation_ids)))).all()
        for r in rows:
            meta = dict(r.meta or {})
            values: dict[str, Any] = {}
            raw = self._raw(meta)
            if "raw_email" in subject.parts and "raw_path" in meta:
                meta.pop("raw_path")
                if raw is not None:
                    done.files.append(str(raw.relative_to(self.s.settings.data_dir.resolve())))
                values["meta"] = meta
            if "messages" in subject.parts:
                kept = {"raw_path": meta["raw_path"]} if "raw_path" in meta else {}
                values.update(subject=None, from_addr=None, to_addrs=[], html=None,
                              rfc_message_id=redactor.text(r.rfc_message_id) or "",
                              meta={**scrub_json({k: v for k, v in meta.items() if k != "raw_path"},
                                                 redactor), **kept})
            if values:
                await tx.conn.execute(update(t_mail).where(t_mail.c.id == r.id).values(**values))
        done.counts["emails"] = len(rows) if {"messages", "raw_email"} & subject.parts else 0
        if "identity" in subject.parts and subject.contact_id is not None:
            r2 = await tx.conn.execute(update(t_bulk).where(self._bulk_where(subject)).values(
                email=ERASED_MARK, name=None, contact_id=None, values={}, error=None))
            done.counts["email_bulk_recipients"] = r2.rowcount or 0
        return done
