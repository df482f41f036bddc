"""Bulk and scheduled email (EMAIL-1): a job is a template and a list of recipients.

* **Create** validates everything first (the template exists, every address, the recipient limit)
  and stores the job (with its own copy of the template) and one ``email_bulk_recipients`` row per
  address in one transaction, or nothing (422 listing the bad rows). Recipients come from a CSV
  upload (an ``email`` column; ``name`` and ``phone`` fill ``{{contact.*}}``) or from a contact
  filter (search text, tag, VIP: every matching contact with an address).
* **Schedule**: a job with a future ``scheduled_at`` waits (rows ``pending``) for a durable
  ``services.scheduler`` timer (kind ``email.bulk_start``); a restart loses nothing.
* **Send**: one owned worker task sends the ``queued`` rows of running jobs in order, paced by the
  job's rate limit, each through the channel's outbound sender (``EmailSender.send_once``, the
  configured SMTP relay) with the channel's retry policy; each row ends ``sent`` (with its
  Message-ID) or ``failed`` with the error. A job with nothing left is ``done``.
* **Restart**: rows stay ``queued`` until their mail was accepted by the relay, so a restarted hub
  resumes a running job where it stopped (at-least-once: a crash between the relay's ``250`` and
  the commit sends that one mail again, with the same Message-ID ``<bulk-<row id>@domain>``).
* **Cancel**: pending/queued rows become ``cancelled``; the worker re-reads the job status before
  every mail, so at most the mail in flight still leaves.
* **Progress**: counts by state via ``GET /api/email/bulk/{id}`` and the ``email_bulk`` event on
  the ``/desk`` namespace (creator and supervisors), pushed at most twice a second while running."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from channels.email.tables import email_bulk_jobs, email_bulk_recipients
from channels.email.templates import render
from hub.errors import InvalidState, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from channels.email.outbound import EmailSender
    from channels.email.templates import TemplateService
    from hub.app import Services
    from hub.services.auth import User
    from hub.services.scheduler import Timer

log = logging.getLogger(__name__)

TIMER_KIND = "email.bulk_start"
MAX_ERRORS_LISTED = 20
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def timer_key(job_id: str) -> str:
    return f"email-bulk:{job_id}"


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """Recipients from a CSV upload: a header row with an ``email`` column (``name``, ``phone``
    optional; other columns are ignored)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as err:
            raise ValidationFailed("the CSV file is neither UTF-8 nor GB18030 text") from err
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise ValidationFailed("the CSV file has no rows")
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    aliases = {"email": ("email", "e-mail", "mail", "address", "邮箱", "电子邮件"),
               "name": ("name", "姓名", "名字"), "phone": ("phone", "mobile", "电话", "手机")}
    cols = {key: next((i for i, h in enumerate(header) if h in names), None)
            for key, names in aliases.items()}
    if cols["email"] is None:
        raise ValidationFailed("the CSV file needs a header row with an 'email' column",
                               details={"columns": header})
    out = [{key: (r[i].strip() if i is not None and i < len(r) else "") for key, i in cols.items()}
           for r in rows[1:]]
    if not out:
        raise ValidationFailed("the CSV file has a header but no recipients")
    return out


class BulkEmailService:
    def __init__(self, services: Services, sender: EmailSender, templates: TemplateService) -> None:
        self.s = services
        self.db = services.db
        self.clock = services.clock
        self.st = services.settings
        self.sender = sender
        self.templates = templates
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_push: dict[str, float] = {}
        self._cancelled: set[str] = set()
        self.emit_progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # --- creating ------------------------------------------------------------------------------
    def prepare(self, recipients: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        if not recipients:
            raise ValidationFailed("give at least one recipient")
        if len(recipients) > self.st.email_bulk_max_recipients:
            raise ValidationFailed(f"at most {self.st.email_bulk_max_recipients} recipients per job")
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        duplicates = 0
        for i, rec in enumerate(recipients, start=1):
            addr = str(rec.get("email") or "").strip()
            if not ADDRESS.match(addr) or len(addr) > 320:
                errors.append({"row": i, "email": addr[:320],
                               "msg": "not an email address" if addr else "no email address"})
                continue
            key = addr.lower()
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            out.append({"email": addr, "name": (str(rec.get("name") or "").strip() or None),
                        "phone": str(rec.get("phone") or "").strip() or None,
                        "contact_id": rec.get("contact_id"), "row": i})
        if errors:
            first = errors[0]
            raise ValidationFailed(
                f"{len(errors)} of {len(recipients)} recipients are not valid; nothing was stored "
                f"(row {first['row']}: {first['msg']})",
                details={"errors": errors[:MAX_ERRORS_LISTED], "error_count": len(errors)})
        return out, duplicates

    async def contacts_matching(self, q: str | None, tag: str | None, vip: bool | None) -> list[dict[str, Any]]:
        """Every contact of the filter that has an email address (the contact filter source)."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self.s.contacts.search(q=q, tag=tag, vip=vip, limit=500, offset=offset)
            out += [{"email": c["email"], "name": c["name"], "phone": c["phone"], "contact_id": c["id"]}
                    for c in page["items"] if c.get("email")]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
            if len(out) > self.st.email_bulk_max_recipients:
                break
        if not out:
            raise ValidationFailed("no contact of this filter has an email address")
        return out

    async def create(self, *, name: str, template_id: str, recipients: list[dict[str, Any]],
                     scheduled_at: float | None, rate_per_s: float | None, user: User,
                     source: str) -> dict[str, Any]:
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed("the job needs a name of 1..200 characters")
        rate = self.st.email_bulk_rate_per_s if rate_per_s is None else rate_per_s
        if not 0 < rate <= 1000:
            raise ValidationFailed("rate_per_s must be above 0 and at most 1000 mails per second")
        now = self.clock.now()
        if scheduled_at is not None and scheduled_at < now - 60:
            raise ValidationFailed("the scheduled time is in the past")
        try:
            tpl = await self.templates.get(template_id)
        except NotFound as err:
            raise ValidationFailed(f"email template {template_id} does not exist") from err
        prepared, duplicates = self.prepare(recipients)
        job_id = new_id()
        start_now = scheduled_at is None or scheduled_at <= now
        status = "running" if start_now else "scheduled"
        rows = [{"id": new_id(), "job_id": job_id, "seq": p["row"], "email": p["email"],
                 "name": (p["name"] or "")[:200] or None, "contact_id": p["contact_id"],
                 "values": {"name": p["name"], "email": p["email"], "phone": p["phone"]},
                 "status": "queued" if start_now else "pending", "attempts": 0, "error": None,
                 "rfc_message_id": None, "updated_at": now} for p in prepared]
        async with self.db.tx() as tx:
            await tx.conn.execute(email_bulk_jobs.insert().values(
                id=job_id, name=name, template_id=tpl["id"], subject=tpl["subject"], body=tpl["body"],
                html=tpl["html"], status=status, rate_per_s=rate, created_by=user.id,
                total=len(rows), scheduled_at=scheduled_at, created_at=now,
                started_at=now if start_now else None, finished_at=None,
                meta={"duplicates": duplicates, "recipients": len(recipients), "source": source,
                      "template_name": tpl["name"], "agent_name": user.display_name}))
            for i in range(0, len(rows), 500):
                await tx.conn.execute(email_bulk_recipients.insert(), rows[i:i + 500])
            if not start_now:
                assert scheduled_at is not None
                await self.s.scheduler.schedule(tx, kind=TIMER_KIND, due_at=scheduled_at,
                                                payload={"job_id": job_id}, key=timer_key(job_id))
            tx.emit(Event(EventType.EMAIL_BULK_CHANGED, now, user_id=user.id, data={
                "job_id": job_id, "status": status, "total": len(rows)}))
        self.wake()
        return await self.get(job_id)

    async def on_timer(self, timer: Timer) -> None:
        async with self.db.tx() as tx:
            if not await self.s.scheduler.complete(tx, timer):
                return
            await self._start(tx, timer.payload.get("job_id"), self.clock.now())
        self.wake()

    async def _start(self, tx: Any, job_id: str, now: float) -> bool:
        r = await tx.conn.execute(update(email_bulk_jobs).where(
            email_bulk_jobs.c.id == job_id, email_bulk_jobs.c.status == "scheduled").values(
            status="running", started_at=now))
        if not r.rowcount:
            return False
        await tx.conn.execute(update(email_bulk_recipients).where(
            email_bulk_recipients.c.job_id == job_id, email_bulk_recipients.c.status == "pending")
            .values(status="queued", updated_at=now))
        tx.emit(Event(EventType.EMAIL_BULK_CHANGED, now, data={"job_id": job_id, "status": "running"}))
        return True

    async def start_now(self, job_id: str) -> dict[str, Any]:
        await self.get(job_id)
        async with self.db.tx() as tx:
            if not await self._start(tx, job_id, self.clock.now()):
                raise InvalidState("only a scheduled job can be started")
            await self.s.scheduler.cancel(tx, timer_key(job_id))
        self.wake()
        return await self.get(job_id)

    async def cancel(self, job_id: str, user: User) -> dict[str, Any]:
        job = await self.get(job_id)
        if job["status"] not in ("scheduled", "running"):
            raise InvalidState(f"the job is {job['status']}")
        now = self.clock.now()
        async with self.db.tx() as tx:
            r = await tx.conn.execute(update(email_bulk_jobs).where(
                email_bulk_jobs.c.id == job_id, email_bulk_jobs.c.status.in_(("scheduled", "running")))
                .values(status="cancelled", finished_at=now))
            if not r.rowcount:
                raise InvalidState("the job has just finished")
            await tx.conn.execute(update(email_bulk_recipients).where(
                email_bulk_recipients.c.job_id == job_id,
                email_bulk_recipients.c.status.in_(("pending", "queued"))).values(
                status="cancelled", updated_at=now))
            await self.s.scheduler.cancel(tx, timer_key(job_id))
            tx.emit(Event(EventType.EMAIL_BULK_CHANGED, now, user_id=user.id,
                          data={"job_id": job_id, "status": "cancelled"}))
        self._cancelled.add(job_id)
        job = await self.get(job_id)
        await self._push(job, force=True)
        return job

    # --- reading -------------------------------------------------------------------------------
    async def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        if not job_ids:
            return {}
        r = email_bulk_recipients.c
        async with self.db.read() as conn:
            rows = (await conn.execute(select(r.job_id, r.status, func.count()).where(
                r.job_id.in_(job_ids)).group_by(r.job_id, r.status))).all()
        out: dict[str, dict[str, int]] = {j: {} for j in job_ids}
        for jid, status, n in rows:
            out[jid][status] = int(n)
        return out

    @staticmethod
    def public(row: Any, by_status: dict[str, int]) -> dict[str, Any]:
        counts = {"waiting": by_status.get("pending", 0) + by_status.get("queued", 0),
                  "sent": by_status.get("sent", 0), "failed": by_status.get("failed", 0),
                  "cancelled": by_status.get("cancelled", 0)}
        done = counts["sent"] + counts["failed"] + counts["cancelled"]
        meta = row.meta or {}
        return {"id": row.id, "name": row.name, "template_id": row.template_id,
                "template_name": meta.get("template_name"), "subject": row.subject,
                "status": row.status, "rate_per_s": row.rate_per_s, "created_by": row.created_by,
                "total": row.total, "scheduled_at": row.scheduled_at, "created_at": row.created_at,
                "started_at": row.started_at, "finished_at": row.finished_at,
                "duplicates": meta.get("duplicates", 0), "source": meta.get("source"),
                "counts": counts,
                "progress": round(100 * done / row.total, 1) if row.total else 100.0}

    async def _row(self, job_id: str) -> Any:
        async with self.db.read() as conn:
            return (await conn.execute(select(email_bulk_jobs).where(email_bulk_jobs.c.id == job_id))).first()

    async def get(self, job_id: str) -> dict[str, Any]:
        row = await self._row(job_id)
        if row is None:
            raise NotFound(f"bulk email job {job_id} does not exist")
        return self.public(row, (await self.counts([job_id]))[job_id])

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(email_bulk_jobs).order_by(
                email_bulk_jobs.c.created_at.desc()).limit(limit))).all()
        counts = await self.counts([r.id for r in rows])
        return [self.public(r, counts[r.id]) for r in rows]

    async def recipients(self, job_id: str, status: str | None, limit: int, offset: int) -> dict[str, Any]:
        await self.get(job_id)
        r = email_bulk_recipients.c
        cond = [r.job_id == job_id] + ([r.status == status] if status else [])
        async with self.db.read() as conn:
            total = (await conn.execute(select(func.count()).select_from(email_bulk_recipients)
                                        .where(*cond))).scalar()
            rows = (await conn.execute(select(email_bulk_recipients).where(*cond).order_by(r.seq)
                                       .limit(limit).offset(offset))).all()
        return {"total": total, "items": [
            {"id": x.id, "row": x.seq, "email": x.email, "name": x.name, "status": x.status,
             "attempts": x.attempts, "error": x.error, "message_id": x.rfc_message_id,
             "updated_at": x.updated_at} for x in rows]}

    # --- sending -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="email-bulk")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            busy = False
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the rows are safe in the database; try again
                log.exception("email: bulk sending failed; retrying")
                await asyncio.sleep(1)
            if busy:
                continue
            try:
                async with asyncio.timeout(30):  # and check now and then (other processes, timers)
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def step(self) -> bool:
        """Send what running jobs have queued (one job at a time, oldest first) and finish jobs
        with nothing left. False when there was nothing to do."""
        j = email_bulk_jobs.c
        async with self.db.read() as conn:
            jobs = (await conn.execute(select(email_bulk_jobs).where(j.status == "running")
                                       .order_by(j.started_at, j.id))).all()
        for job in jobs:
            await self._run_job(job)
        return False

    async def _run_job(self, job: Any) -> None:
        r = email_bulk_recipients.c
        interval = 1.0 / max(job.rate_per_s, 0.001)
        next_at = time.monotonic()
        while True:
            async with self.db.read() as conn:
                status = (await conn.execute(select(email_bulk_jobs.c.status).where(
                    email_bulk_jobs.c.id == job.id))).scalar()
                batch = [] if status != "running" else (await conn.execute(
                    select(email_bulk_recipients).where(r.job_id == job.id, r.status == "queued")
                    .order_by(r.seq).limit(50))).all()
            if not batch:
                break
            for n, rec in enumerate(batch):
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + interval, time.monotonic() - interval)
                # a cancel in this process is seen at once; one from elsewhere within 10 mails
                if job.id in self._cancelled or (n % 10 == 9 and not await self._still_running(job.id)):
                    break
                await self._send_one(job, rec)
                await self._push_id(job.id)
        await self._finish_if_empty(job.id)

    async def _still_running(self, job_id: str) -> bool:
        async with self.db.read() as conn:
            return (await conn.execute(select(email_bulk_jobs.c.status).where(
                email_bulk_jobs.c.id == job_id))).scalar() == "running"

    def build(self, job: Any, rec: Any) -> EmailMessage:
        values = rec.values or {}
        ctx = {"contact": {"name": values.get("name") or rec.name, "email": rec.email,
                           "phone": values.get("phone")},
               "conversation": {}, "agent": {"name": (job.meta or {}).get("agent_name")}}
        out = render({"subject": job.subject, "body": job.body, "html": job.html}, ctx)
        m = EmailMessage()
        m["From"] = formataddr((self.st.email_display_name, self.st.email_address))
        m["To"] = formataddr((rec.name, rec.email)) if rec.name else rec.email
        m["Subject"] = out["subject"]
        m["Date"] = formatdate(localtime=False, usegmt=True)
        m["Message-ID"] = f"<bulk-{rec.id}@{self.sender.domain}>"
        m["Precedence"] = "bulk"  # auto-responders stay quiet
        m["X-Hub-Bulk-Job"] = job.id
        m.set_content(out["body"])
        if out["html"]:
            m.add_alternative(out["html"], subtype="html")
        return m

    async def _send_one(self, job: Any, rec: Any) -> None:
        r = email_bulk_recipients.c
        attempts, error = int(rec.attempts or 0), ""
        try:
            message = self.build(job, rec)
        except Exception as err:  # noqa: BLE001 - permanent: this recipient's mail cannot be built
            await self._mark(rec.id, "failed", attempts, f"{type(err).__name__}: {err}"[:500], None)
            return
        while attempts < self.st.email_send_attempts:
            attempts += 1
            try:
                await self.sender.send_once(message)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - network/SMTP errors: retry with backoff
                error = f"{type(err).__name__}: {err}"[:500]
                log.warning("bulk email %s to %s attempt %d failed: %s", job.id, rec.email, attempts, error)
                async with self.db.tx() as tx:
                    await tx.conn.execute(update(email_bulk_recipients).where(r.id == rec.id).values(
                        attempts=attempts, error=error, updated_at=self.clock.now()))
                if attempts < self.st.email_send_attempts:
                    await asyncio.sleep(self.st.email_retry_base_s * 2 ** (attempts - 1))
                continue
            await self._mark(rec.id, "sent", attempts, None, message["Message-ID"])
            return
        await self._mark(rec.id, "failed", attempts, error, None)

    async def _mark(self, rid: str, status: str, attempts: int, error: str | None,
                    message_id: str | None) -> None:
        r = email_bulk_recipients.c
        async with self.db.tx() as tx:
            # only a row still queued: a cancel in the meantime wins for rows not yet sent
            await tx.conn.execute(update(email_bulk_recipients).where(
                r.id == rid, r.status.in_(("queued", "cancelled") if status == "sent" else ("queued",)))
                .values(status=status, attempts=attempts, error=error, rfc_message_id=message_id,
                        updated_at=self.clock.now()))

    async def _finish_if_empty(self, job_id: str) -> None:
        c = (await self.counts([job_id]))[job_id]
        if c.get("queued") or c.get("pending"):
            return
        now = self.clock.now()
        async with self.db.tx() as tx:
            r = await tx.conn.execute(update(email_bulk_jobs).where(
                email_bulk_jobs.c.id == job_id, email_bulk_jobs.c.status == "running").values(
                status="done", finished_at=now))
            if r.rowcount:
                tx.emit(Event(EventType.EMAIL_BULK_CHANGED, now, data={
                    "job_id": job_id, "status": "done", "counts": c}))
        await self._push(await self.get(job_id), force=True)

    async def _push_id(self, job_id: str) -> None:
        if self.emit_progress is None:
            return
        if time.monotonic() - self._last_push.get(job_id, 0) < 0.5:
            return
        await self._push(await self.get(job_id))

    async def _push(self, job: dict[str, Any], force: bool = False) -> None:
        if self.emit_progress is None:
            return
        self._last_push[job["id"]] = time.monotonic()
        try:
            await self.emit_progress(job)
        except Exception:  # noqa: BLE001 - progress is best effort; polling still works
            log.exception("email: could not push bulk progress")
