"""Bulk and scheduled sends (群发/定时): a job is a template and a list of recipients.

Creating a job validates everything first (every number, every placeholder, every rendered
text's length) and stores the job and one ``sms_messages`` row per recipient in one transaction,
or nothing. Rows wait as ``pending`` until the job starts (at once, or when its durable timer
fires), then become ``queued`` for the outbound worker, which honours the rate limit and skips
numbers that opted out (also those that opt out while the job runs). A restart resumes a running
job where it was: its rows are still ``queued``. Progress (counts by state) is pushed live."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from channels.sms import segments
from channels.sms.phone import InvalidPhoneNumber
from channels.sms.tables import sms_bulk_jobs, sms_messages
from channels.sms.templates import placeholders, render
from hub.errors import InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from channels.sms.service import SmsService
    from hub.services.scheduler import Timer

log = logging.getLogger(__name__)

TIMER_KIND = "sms.bulk_start"
MAX_ERRORS_LISTED = 20
BULK_PRIORITY = 10  # after conversation replies and keyword answers


def timer_key(job_id: str) -> str:
    return f"sms-bulk:{job_id}"


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """Recipients from a CSV upload: a header row with a ``phone`` column (or the first column
    is the number); every other column is a placeholder value."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as err:
            raise ValidationFailed("the CSV file is neither UTF-8 nor GB18030 text") from err
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValidationFailed("the CSV file has no rows")
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    phone_aliases = ("phone", "mobile", "number", "msisdn", "to", "手机", "手机号", "电话")
    if any(h in phone_aliases for h in header):
        phone_col = next(i for i, h in enumerate(header) if h in phone_aliases)
        body = rows[1:]
    else:
        raise ValidationFailed("the CSV file needs a header row with a 'phone' column",
                               details={"columns": header})
    out: list[dict[str, str]] = []
    for r in body:
        rec = {h: (r[i].strip() if i < len(r) else "") for i, h in enumerate(header) if h}
        rec["phone"] = r[phone_col].strip() if phone_col < len(r) else ""
        out.append(rec)
    if not out:
        raise ValidationFailed("the CSV file has a header but no recipients")
    return out


class BulkService:
    def __init__(self, svc: SmsService) -> None:
        self.svc = svc
        self.s = svc.s
        self.db = svc.db
        self.clock = svc.clock
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, tuple[Any, ...]] = {}
        self._wake = asyncio.Event()
        self.emit_progress: Any = None  # async (job dict) -> None, set by the adapter

    # --- creating --------------------------------------------------------------------------
    def prepare(self, template: str, recipients: list[dict[str, str]]) -> tuple[list[dict[str, Any]], int]:
        """Validate and render; returns the rows to store and the duplicates dropped."""
        st = self.svc.st
        if not template.strip():
            raise ValidationFailed("the template is empty")
        names = placeholders(template)
        if not recipients:
            raise ValidationFailed("give at least one recipient")
        if len(recipients) > st.sms_bulk_max_recipients:
            raise ValidationFailed(f"at most {st.sms_bulk_max_recipients} recipients per job")
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        duplicates = 0
        for i, rec in enumerate(recipients, start=1):
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
            if info.segments > st.sms_max_segments:
                errors.append({"row": i, "phone": raw, "msg": f"the text needs {info.segments} parts "
                               f"(at most {st.sms_max_segments})"})
                continue
            if number in seen:
                duplicates += 1
                continue
            seen.add(number)
            out.append({"phone": number, "text": text, "row": i})
        if errors:
            shown = errors[:MAX_ERRORS_LISTED]
            first = shown[0]
            raise (InvalidPhoneNumber if all("phone number" in e["msg"] for e in errors)
                   else ValidationFailed)(
                f"{len(errors)} of {len(recipients)} recipients are not valid; nothing was stored "
                f"(row {first['row']}: {first['msg']})",
                details={"errors": shown, "error_count": len(errors)})
        return out, duplicates

    async def create(self, *, name: str, template: str, recipients: list[dict[str, str]],
                     scheduled_at: float | None, user_id: str) -> dict[str, Any]:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed("the job needs a name of 1..200 characters")
        now = self.clock.now()
        if scheduled_at is not None and scheduled_at < now - 60:
            raise ValidationFailed("the scheduled time is in the past")
        prepared, duplicates = self.prepare(template, recipients)
        job_id = new_id()
        start_now = scheduled_at is None or scheduled_at <= now
        rows = []
        skipped = 0
        for p in prepared:
            opted_out = p["phone"] in self.svc.optouts
            skipped += opted_out
            values = self.svc._outbound_values(
                p["phone"], p["text"], kind="bulk", dedupe_key=f"bulk:{job_id}:{p['phone']}",
                priority=BULK_PRIORITY, status="skipped" if opted_out else
                ("queued" if start_now else "pending"), bulk_job_id=job_id, meta={"row": p["row"]})
            if opted_out:
                values["error"] = "opted out"
            rows.append(values)
        async with self.db.tx() as tx:
            await tx.conn.execute(sms_bulk_jobs.insert().values(
                id=job_id, name=name, template=template, status="running" if start_now else "scheduled",
                created_by=user_id, total=len(rows), skipped=skipped, scheduled_at=scheduled_at,
                created_at=now, started_at=now if start_now else None, finished_at=None,
                meta={"duplicates": duplicates, "recipients": len(recipients)}))
            for i in range(0, len(rows), 500):
                await tx.conn.execute(sms_messages.insert(), rows[i:i + 500])
            if not start_now:
                assert scheduled_at is not None
                await self.s.scheduler.schedule(tx, kind=TIMER_KIND, due_at=scheduled_at,
                                                payload={"job_id": job_id}, key=timer_key(job_id))
            tx.emit(Event(EventType.SMS_BULK_CHANGED, now, user_id=user_id,
                          data={"job_id": job_id, "status": "running" if start_now else "scheduled",
                                "total": len(rows), "skipped": skipped}))
        if start_now:
            self.svc.wake_outbound()
            self.wake()
        return await self.get(job_id)

    async def on_timer(self, timer: Timer) -> None:
        job_id = timer.payload.get("job_id")
        now = self.clock.now()
        async with self.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            started = await self._start(tx, job_id, now)
        if started:
            self.svc.wake_outbound()
            self.wake()

    async def _start(self, tx: Any, job_id: str, now: float) -> bool:
        r = await tx.conn.execute(update(sms_bulk_jobs).where(
            sms_bulk_jobs.c.id == job_id, sms_bulk_jobs.c.status == "scheduled").values(
            status="running", started_at=now))
        if not r.rowcount:
            return False
        await tx.conn.execute(update(sms_messages).where(
            sms_messages.c.bulk_job_id == job_id, sms_messages.c.status == "pending").values(
            status="queued", updated_at=now))
        tx.emit(Event(EventType.SMS_BULK_CHANGED, now, data={"job_id": job_id, "status": "running"}))
        return True

    async def start_now(self, job_id: str, user_id: str) -> dict[str, Any]:
        now = self.clock.now()
        async with self.db.tx() as tx:
            if not await self._start(tx, job_id, now):
                raise InvalidState("only a scheduled job can be started")
            await self.s.scheduler.cancel(tx, timer_key(job_id))
        self.svc.wake_outbound()
        self.wake()
        return await self.get(job_id)

    async def cancel(self, job_id: str, user_id: str) -> dict[str, Any]:
        now = self.clock.now()
        job = await self.get(job_id)
        if job["status"] not in ("scheduled", "running"):
            raise InvalidState(f"the job is {job['status']}")
        async with self.db.tx() as tx:
            await tx.conn.execute(update(sms_bulk_jobs).where(sms_bulk_jobs.c.id == job_id).values(
                status="cancelled", finished_at=now))
            await tx.conn.execute(update(sms_messages).where(
                sms_messages.c.bulk_job_id == job_id,
                sms_messages.c.status.in_(("pending", "queued"))).values(
                status="cancelled", updated_at=now))
            await self.s.scheduler.cancel(tx, timer_key(job_id))
            tx.emit(Event(EventType.SMS_BULK_CHANGED, now, user_id=user_id,
                          data={"job_id": job_id, "status": "cancelled"}))
        self.wake()
        return await self.get(job_id)

    # --- reading -------------------------------------------------------------------------------
    async def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        if not job_ids:
            return {}
        s = sms_messages.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(s.bulk_job_id, s.status, func.count()).where(
                s.bulk_job_id.in_(job_ids)).group_by(s.bulk_job_id, s.status))).all()
        out: dict[str, dict[str, int]] = {j: {} for j in job_ids}
        for jid, status, n in rows:
            out[jid][status] = int(n)
        return out

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

    async def get(self, job_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(sms_bulk_jobs).where(sms_bulk_jobs.c.id == job_id))).first()
        if row is None:
            raise NotFound(f"bulk job {job_id} does not exist")
        return self.public(row, (await self.counts([job_id]))[job_id])

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_bulk_jobs).order_by(
                sms_bulk_jobs.c.created_at.desc()).limit(limit))).all()
        counts = await self.counts([r.id for r in rows])
        return [self.public(r, counts[r.id]) for r in rows]

    # --- progress --------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._progress_loop(), name="sms-bulk-progress")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _progress_loop(self) -> None:
        while True:
            active = True
            try:
                active = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - progress is best effort; the data is safe
                log.exception("sms: bulk progress failed")
            if active:
                await asyncio.sleep(0.5)
                continue
            # Nothing running: sleep until a job is created or started (or a minute passes).
            self._wake.clear()
            try:
                async with asyncio.timeout(60):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> bool:
        """Finish running jobs with nothing left to send; push changed progress (also for a few
        minutes after the end, while delivery reports still arrive). False when there is none."""
        now = self.clock.now()
        j = sms_bulk_jobs.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(sms_bulk_jobs).where(
                (j.status == "running") | (j.finished_at > now - 300)
                | (j.id.in_(list(self._last)))))).all()
        if not rows:
            return False
        counts = await self.counts([r.id for r in rows])
        for row in rows:
            c = counts[row.id]
            if row.status == "running" and not c.get("queued") and not c.get("pending"):
                async with self.db.tx() as tx:
                    await tx.conn.execute(update(sms_bulk_jobs).where(
                        j.id == row.id, j.status == "running").values(status="done", finished_at=now))
                    tx.emit(Event(EventType.SMS_BULK_CHANGED, now, data={
                        "job_id": row.id, "status": "done", "counts": c}))
                row = (await self._reload(row.id))
            job = self.public(row, c)
            key = (job["status"], *sorted(job["counts"].items()))
            if self._last.get(row.id) != key:
                self._last[row.id] = key
                if self.emit_progress is not None:
                    await self.emit_progress(job)
            elif row.status not in ("running", "scheduled") and (row.finished_at or 0) < now - 300:
                self._last.pop(row.id, None)
        return True

    async def _reload(self, job_id: str) -> Any:
        async with self.db.read() as conn:
            return (await conn.execute(select(sms_bulk_jobs).where(sms_bulk_jobs.c.id == job_id))).first()
