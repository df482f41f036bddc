"""Bulk and scheduled email (EMAIL-1): a job is a template and a list of recipients.

* **Create** validates everything first (the template exists, every address, the recipient limit)
  and stores the job (with its own copy of the template) and one ``email_bulk_recipients`` row per
  address in one transaction, or nothing (422 listing the bad rows). Recipients come from a CSV
  upload (an ``email`` column; ``name`` and ``phone`` fill ``{{contact.*}}``) or from a contact
  filter (search text, tag, VIP: every matching contact with an address).
* **Schedule**: a job with a future ``scheduled_at`` waits (rows ``pending``) for a durable
  ``services.scheduler`` timer (kind ``email.bulk_start``); a restart loses nothing.
The life cycle (schedule, send loop, pacing, restart, cancel, progress) is the shared bulk-job
core (``hub/services/bulk.py``); this module says what an email job is and how one mail is sent.

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
import logging
import re
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from channels.email.events import EmailEventType
from channels.email.settings import EmailSettings
from channels.email.tables import email_bulk_jobs, email_bulk_recipients
from channels.email.templates import render
from hub.errors import NotFound, ValidationFailed
from hub.security import new_id
from hub.services.bulk import BulkChannelService, BulkJobs, BulkTables, refuse_rows
from hub.services.csv_recipients import CsvColumn, CsvTable, read_csv

if TYPE_CHECKING:
    from channels.email.outbound import EmailSender
    from channels.email.templates import TemplateService
    from hub.app import Services
    from hub.services.auth import User

log = logging.getLogger(__name__)

TIMER_KIND = "email.bulk_start"
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
TABLES = BulkTables(jobs=email_bulk_jobs, items=email_bulk_recipients, job=email_bulk_recipients.c.job_id,
                    order=email_bulk_recipients.c.seq)
COLUMNS = [CsvColumn("email", ("e-mail", "mail", "address", "邮箱", "电子邮件"), required=True,
                     label="email address"),
           CsvColumn("name", ("姓名", "名字")),
           CsvColumn("phone", ("mobile", "电话", "手机"))]


def timer_key(job_id: str) -> str:
    return f"email-bulk:{job_id}"


def read_recipients(data: bytes, max_rows: int | None = None) -> CsvTable:
    """Recipients from a CSV upload: a header row with an ``email`` column (``name``, ``phone``
    optional; other columns are ignored); bad rows are reported per row."""
    return read_csv(data, COLUMNS, max_rows=max_rows)


def parse_csv(data: bytes) -> list[dict[str, str]]:
    """The good rows of :func:`read_recipients` (a file-level problem raises)."""
    return [r.values for r in read_recipients(data).rows]


class BulkEmailService(BulkChannelService):
    """Bulk email on the shared bulk-job core: validation, the recipient rows and sending one mail
    (with the channel's retry policy) here; the core paces, starts, cancels, finishes, resumes,
    counts and pushes progress."""

    def __init__(self, services: Services, sender: EmailSender, templates: TemplateService) -> None:
        self.s = services
        self.db = services.db
        self.clock = services.clock
        self.st = services.settings.section(EmailSettings)
        self.sender = sender
        self.templates = templates
        self.jobs = BulkJobs(db=services.db, clock=services.clock, scheduler=services.scheduler,
                             tables=TABLES, event=EmailEventType.BULK_CHANGED, timer_kind=TIMER_KIND,
                             key_prefix="email-bulk", what="bulk email job", public=self.public,
                             send_one=self.send_one, rate=lambda job: job.rate_per_s)

    # --- creating ------------------------------------------------------------------------------
    def prepare(self, recipients: list[dict[str, Any]], *, rows: list[int] | None = None,
                errors: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], int]:
        """Validate; returns the recipients to store and the duplicates dropped. ``rows`` numbers
        the recipients (default 1, 2, …); ``errors`` are rows already found bad (CSV)."""
        errors = list(errors or [])
        total = len(recipients) + len(errors)
        if not total:
            raise ValidationFailed("give at least one recipient")
        if total > self.st.bulk_max_recipients:
            raise ValidationFailed(f"at most {self.st.bulk_max_recipients} recipients per job")
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        duplicates = 0
        for i, rec in zip(rows or range(1, len(recipients) + 1), recipients, strict=True):
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
            refuse_rows(errors, total)
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
            if len(out) > self.st.bulk_max_recipients:
                break
        if not out:
            raise ValidationFailed("no contact of this filter has an email address")
        return out

    async def create(self, *, name: str, template_id: str, recipients: list[dict[str, Any]],
                     scheduled_at: float | None, rate_per_s: float | None, user: User,
                     source: str, rows: list[int] | None = None,
                     errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if not name.strip() or len(name.strip()) > 200:
            raise ValidationFailed("the job needs a name of 1..200 characters")
        rate = self.st.bulk_rate_per_s if rate_per_s is None else rate_per_s
        if not 0 < rate <= 1000:
            raise ValidationFailed("rate_per_s must be above 0 and at most 1000 mails per second")
        plan = self.jobs.plan(name, scheduled_at)
        try:
            tpl = await self.templates.get(template_id)
        except NotFound as err:
            raise ValidationFailed(f"email template {template_id} does not exist") from err
        prepared, duplicates = self.prepare(recipients, rows=rows, errors=errors)
        items = [{"id": new_id(), "job_id": plan.job_id, "seq": p["row"], "email": p["email"],
                  "name": (p["name"] or "")[:200] or None, "contact_id": p["contact_id"],
                  "values": {"name": p["name"], "email": p["email"], "phone": p["phone"]},
                  "status": plan.item_status, "attempts": 0, "error": None,
                  "rfc_message_id": None, "updated_at": plan.now} for p in prepared]
        return await self.jobs.create(plan, {
            "name": name.strip(), "template_id": tpl["id"], "subject": tpl["subject"],
            "body": tpl["body"], "html": tpl["html"], "rate_per_s": rate,
            "meta": {"duplicates": duplicates, "recipients": len(recipients) + len(errors or []),
                     "source": source, "template_name": tpl["name"], "agent_name": user.display_name},
        }, items, user_id=user.id)

    async def create_from_csv(self, *, name: str, template_id: str, data: bytes,
                              scheduled_at: float | None, rate_per_s: float | None,
                              user: User) -> dict[str, Any]:
        table = read_recipients(data, self.st.bulk_max_recipients)
        return await self.create(name=name, template_id=template_id,
                                 recipients=[r.values for r in table.rows],
                                 rows=[r.number for r in table.rows], errors=table.errors,
                                 scheduled_at=scheduled_at, rate_per_s=rate_per_s, user=user,
                                 source="csv")

    async def start_now(self, job_id: str) -> dict[str, Any]:
        return await self.jobs.start_now(job_id)

    async def cancel(self, job_id: str, user: User) -> dict[str, Any]:
        return await self.jobs.cancel(job_id, user.id)

    # --- reading -------------------------------------------------------------------------------
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

    # --- sending one ---------------------------------------------------------------------------
    def build(self, job: Any, rec: Any) -> EmailMessage:
        values = rec.values or {}
        ctx = {"contact": {"name": values.get("name") or rec.name, "email": rec.email,
                           "phone": values.get("phone")},
               "conversation": {}, "agent": {"name": (job.meta or {}).get("agent_name")}}
        out = render({"subject": job.subject, "body": job.body, "html": job.html}, ctx)
        m = EmailMessage()
        m["From"] = formataddr((self.st.display_name, self.st.address))
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

    async def send_one(self, job: Any, rec: Any) -> dict[str, Any]:
        """One mail through the configured relay, retried with backoff (the core's ``send_one``):
        the values its recipient row ends with."""
        r = email_bulk_recipients.c
        attempts, error = int(rec.attempts or 0), ""
        try:
            message = self.build(job, rec)
        except Exception as err:  # noqa: BLE001 - permanent: this recipient's mail cannot be built
            return {"status": "failed", "attempts": attempts,
                    "error": f"{type(err).__name__}: {err}"[:500], "rfc_message_id": None}
        while attempts < self.st.send_attempts:
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
                if attempts < self.st.send_attempts:
                    await asyncio.sleep(self.st.retry_base_s * 2 ** (attempts - 1))
                continue
            return {"status": "sent", "attempts": attempts, "error": None,
                    "rfc_message_id": message["Message-ID"]}
        return {"status": "failed", "attempts": attempts, "error": error, "rfc_message_id": None}
