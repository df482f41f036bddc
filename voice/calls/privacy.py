"""Voice's personal data (hub/services/privacy.py): call records (the numbers), recordings (rows
and WAV files) and transcripts. Erasure keeps each call record for the reports, without the
person's numbers; recordings and transcripts go."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import ERASED_MARK, json_entry, number_forms, plain_rows
from voice.calls.settings import VoiceSettings
from voice.calls.tables import calls as t_calls
from voice.calls.tables import recordings as t_rec
from voice.calls.transcript_tables import transcript_segments as t_seg

if TYPE_CHECKING:
    from hub.app import Services



class VoicePersonalData:
    name = "voice"

    def __init__(self, services: Services) -> None:
        self.s = services

    def retention_days(self) -> Mapping[str, float]:
        # recordings keep their own daily purge (voice_recording_retention_days, recordings.py)
        return {"transcripts": self.s.settings.section(VoiceSettings).transcript_retention_days}

    def _calls(self, subject: DataSubject) -> Any:
        linked = t_calls.c.conversation_id.in_(subject.conversation_ids)
        if "identity" not in subject.parts or not subject.phones:
            return linked
        numbers = number_forms(subject.phones)
        return or_(linked, t_calls.c.caller.in_(numbers), t_calls.c.callee.in_(numbers))

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        calls = (await conn.execute(select(t_calls).where(self._calls(subject))
                                    .order_by(t_calls.c.started_at))).all()
        recs = (await conn.execute(select(t_rec).where(t_rec.c.call_id.in_([c.id for c in calls])))).all()
        segs = (await conn.execute(select(t_seg).where(t_seg.c.conversation_id.in_(subject.conversation_ids))
                                   .order_by(t_seg.c.started_at))).all()
        entries = [json_entry("voice/calls.json", plain_rows(calls)),
                   json_entry("voice/recordings.json", plain_rows(recs)),
                   json_entry("voice/transcripts.json", plain_rows(segs, exclude=("search_text", "words")))]
        entries += [ExportEntry(f"voice/recordings/{r.id}.wav", source=self.s.attachments.path_for(r.attachment_id))
                    for r in recs if r.attachment_id]
        return entries

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        conn = tx.conn
        if "transcripts" in subject.parts and subject.conversation_ids:
            r = await conn.execute(delete(t_seg).where(t_seg.c.conversation_id.in_(subject.conversation_ids)))
            done.counts["transcript_segments"] = r.rowcount or 0
        if not {"recordings", "identity"} & subject.parts:
            return done
        call_ids = (await conn.execute(select(t_calls.c.id).where(self._calls(subject)))).scalars().all()
        if "recordings" in subject.parts and call_ids:
            recs = (await conn.execute(select(t_rec.c.id, t_rec.c.attachment_id)
                                       .where(t_rec.c.call_id.in_(call_ids)))).all()
            att_ids = [r.attachment_id for r in recs if r.attachment_id]
            await conn.execute(delete(t_rec).where(t_rec.c.id.in_([r.id for r in recs])))
            await conn.execute(update(t_calls).where(t_calls.c.id.in_(call_ids)).values(recording_id=None))
            await self.s.attachments.forget(tx, att_ids)
            root = self.s.settings.data_dir.resolve()
            done.files += [str(self.s.attachments.path_for(a).resolve().relative_to(root)) for a in att_ids]
            done.counts["recordings"] = len(recs)
        if "identity" in subject.parts and call_ids:
            # the person's end of the call: the caller of an inbound call, the callee of an outbound one
            numbers = number_forms(subject.phones)
            c = t_calls.c
            await conn.execute(update(t_calls).where(c.id.in_(call_ids), or_(
                c.direction == "in", c.caller.in_(numbers))).values(caller=ERASED_MARK))
            await conn.execute(update(t_calls).where(c.id.in_(call_ids), or_(
                c.direction == "out", c.callee.in_(numbers))).values(callee=ERASED_MARK))
            done.counts["calls"] = len(call_ids)
        return done
