"""The SMS channel's personal data (hub/services/privacy.py): the text messages of a contact's
conversations and every message to or from their numbers (keyword answers, bulk sends). The
opt-out list keeps a number that asked for STOP: it is what stops us texting them again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.sms.tables import sms_messages as t_sms
from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import ERASED_MARK, Redactor, json_entry, plain_rows, scrub_json


class SmsPersonalData:
    name = "sms"

    def retention_days(self) -> Mapping[str, float]:
        return {}  # message texts: the hub's retention_messages_days

    @staticmethod
    def _where(subject: DataSubject, identity: bool) -> Any:
        linked = t_sms.c.conversation_id.in_(subject.conversation_ids)
        return or_(linked, t_sms.c.phone.in_(subject.phones)) if identity and subject.phones else linked

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        rows = (await conn.execute(select(t_sms).where(self._where(subject, True))
                                   .order_by(t_sms.c.created_at))).all()
        return [json_entry("sms/messages.json", plain_rows(rows, exclude=("dedupe_key",)))]

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        if "messages" not in subject.parts:
            return done
        identity = "identity" in subject.parts
        redactor = Redactor(subject.terms, subject.phones)
        rows = (await tx.conn.execute(select(t_sms.c.id, t_sms.c.meta).where(self._where(subject, identity)))).all()
        for r in rows:
            values: dict[str, Any] = {"body": ERASED_MARK, "error": None, "meta": scrub_json(r.meta or {}, redactor)}
            if identity:
                values.update(phone=ERASED_MARK, dedupe_key=f"erased:{r.id}")
            await tx.conn.execute(update(t_sms).where(t_sms.c.id == r.id).values(**values))
        done.counts["sms"] = len(rows)
        return done
