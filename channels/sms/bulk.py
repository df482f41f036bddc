"""Bulk and scheduled sends (群发/定时): a job is a template and a list of recipients.

Creating a job validates everything first (every number, every placeholder, every rendered
text's length) and stores the job and one ``sms_messages`` row per recipient in one transaction,
or nothing. Rows wait as ``pending`` until the job starts (at once, or when its durable timer
fires), then become ``queued`` for the outbound worker, which honours the rate limit and skips
numbers that opted out (also those that opt out while the job runs). A restart resumes a running
job where it was: its rows are still ``queued``. Progress (counts by state) is pushed live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import channels.sms.segments as segments
from channels.sms.events import SmsEventType
from channels.sms.phone import InvalidPhoneNumber
from channels.sms.tables import sms_bulk_jobs, sms_messages
from channels.sms.templates import placeholders, render
from hub.errors import ValidationFailed
from hub.services.bulk import BulkChannelService, BulkJobs, BulkTables, refuse_rows
from hub.services.csv_recipients import CsvColumn, CsvTable, read_csv

if TYPE_CHECKING:
    from channels.sms.service import SmsService

TIMER_KIND = "sms.bulk_start"
BULK_PRIORITY = 10  # after conversation replies and keyword answers
TABLES = BulkTables(jobs=sms_bulk_jobs, items=sms_messages, job=sms_messages.c.bulk_job_id,
                    order=sms_messages.c.created_at)
PHONE = CsvColumn("phone", ("phone", "mobile", "number", "msisdn", "to", "手机", "手机号", "电话"),
                  required=True, label="phone number")


def timer_key(job_id: str) -> str:
    return f"sms-bulk:{job_id}"


def read_recipients(data: bytes, max_rows: int | None = None) -> CsvTable:
    """Recipients from a CSV upload: a header row with a ``phone`` column; every other column is
    a placeholder value (bad rows are reported per row, see :func:`hub.services.csv_recipients.read_csv`)."""
    return read_csv(data, [PHONE], other_columns=True, max_rows=max_rows)


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """The good rows of :func:`read_recipients` (a file-level problem raises)."""
    return [r.values for r in read_recipients(data).rows]


class BulkService(BulkChannelService):
    """Bulk SMS on the shared bulk-job core: validation and rendering here; the rows are
    ``sms_messages`` that the channel's outbound worker sends (rate limit, priority, opt-outs);
    the core starts, cancels, finishes, counts and pushes progress."""

    def __init__(self, svc: SmsService) -> None:
        self.svc = svc
        self.jobs = BulkJobs(db=svc.db, clock=svc.clock, scheduler=svc.s.scheduler, tables=TABLES,
                             event=SmsEventType.BULK_CHANGED, timer_kind=TIMER_KIND,
                             key_prefix="sms-bulk", what="bulk job", public=self.public,
                             watch_finished_s=300)  # delivery reports still arrive after the end
        self.jobs.on_started = lambda: self.svc.wake_outbound()

    # --- creating --------------------------------------------------------------------------
    def prepare(self, template: str, recipients: list[dict[str, str]], *,
                rows: list[int] | None = None, errors: list[dict[str, Any]] | None = None,
                ) -> tuple[list[dict[str, Any]], int]:
        """Validate and render; returns the rows to store and the duplicates dropped. ``rows``
        numbers the recipients (default 1, 2, …); ``errors`` are rows already found bad (CSV)."""
        st = self.svc.st
        if not template.strip():
            raise ValidationFailed("the template is empty")
        names = placeholders(template)
        errors = list(errors or [])
        total = len(recipients) + len(errors)
        if not total:
            raise ValidationFailed("give at least one recipient")
        if total > st.bulk_max_recipients:
            raise ValidationFailed(f"at most {st.bulk_max_recipients} recipients per job")
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        duplicates = 0
        for i, rec in zip(rows or range(1, len(recipients) + 1), recipients, strict=True):
            raw = rec.get("phone", "")
            try:
                number = self.svc.normalise(raw)
            except InvalidPhoneNumber as err:
                errors.append({"row": i, "phone": raw, "msg": err.detail})
                continue
            missing = [n for n in names if not (rec.get(n) or "").strip()]
            if missing:
                errors.append({"row": i, "phone": raw,
                               "msg": f"no value for {', '.join('{' + m + '}' for m in missing)}"})
                continue
            text = render(template, {n: rec[n].strip() for n in names})
            info = segments.count(text)
            if info.segments > st.max_segments:
                errors.append({"row": i, "phone": raw, "msg": f"the text needs {info.segments} parts "
                               f"(at most {st.max_segments})"})
                continue
            if number in seen:
                duplicates += 1
                continue
            seen.add(number)
            out.append({"phone": number, "text": text, "row": i})
        if errors:
            refuse_rows(errors, total, InvalidPhoneNumber if all(
                "phone number" in e["msg"] for e in errors) else ValidationFailed)
        return out, duplicates

    async def create(self, *, name: str, template: str, recipients: list[dict[str, str]],
                     scheduled_at: float | None, user_id: str, rows: list[int] | None = None,
                     errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        plan = self.jobs.plan(name, scheduled_at)
        prepared, duplicates = self.prepare(template, recipients, rows=rows, errors=errors)
        items = []
        skipped = 0
        for p in prepared:
            opted_out = p["phone"] in self.svc.optouts
            skipped += opted_out
            values = self.svc._outbound_values(
                p["phone"], p["text"], kind="bulk", dedupe_key=f"bulk:{plan.job_id}:{p['phone']}",
                priority=BULK_PRIORITY, status="skipped" if opted_out else plan.item_status,
                bulk_job_id=plan.job_id, meta={"row": p["row"]})
            if opted_out:
                values["error"] = "opted out"
            items.append(values)
        return await self.jobs.create(
            plan, {"name": name.strip(), "template": template, "skipped": skipped,
                   "meta": {"duplicates": duplicates, "recipients": len(recipients) + len(errors or [])}},
            items, user_id=user_id, event_data={"skipped": skipped})

    async def create_from_csv(self, *, name: str, template: str, data: bytes,
                              scheduled_at: float | None, user_id: str) -> dict[str, Any]:
        table = read_recipients(data, self.svc.st.bulk_max_recipients)
        return await self.create(name=name, template=template, recipients=[r.values for r in table.rows],
                                 rows=[r.number for r in table.rows], errors=table.errors,
                                 scheduled_at=scheduled_at, user_id=user_id)

    async def start_now(self, job_id: str, user_id: str) -> dict[str, Any]:
        return await self.jobs.start_now(job_id, user_id)

    async def cancel(self, job_id: str, user_id: str) -> dict[str, Any]:
        return await self.jobs.cancel(job_id, user_id)

    # --- reading -------------------------------------------------------------------------------
    @staticmethod
    def public(row: Any, by_status: dict[str, int]) -> dict[str, Any]:
        delivered = by_status.get("delivered", 0)
        sent = by_status.get("sent", 0) + delivered
        return {"id": row.id, "name": row.name, "template": row.template, "status": row.status,
                "created_by": row.created_by, "total": row.total, "scheduled_at": row.scheduled_at,
                "created_at": row.created_at, "started_at": row.started_at,
                "finished_at": row.finished_at, "duplicates": (row.meta or {}).get("duplicates", 0),
                "counts": {"waiting": by_status.get("pending", 0) + by_status.get("queued", 0),
                           "sent": sent, "delivered": delivered,
                           "failed": by_status.get("failed", 0),
                           "skipped": by_status.get("skipped", 0),
                           "cancelled": by_status.get("cancelled", 0)}}
