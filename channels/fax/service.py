"""The fax service: the central fax store (inbound and outbound documents, pages, OCR text),
routing inbound faxes into conversations, the outbound job queue and bulk sends, the
fax-on-demand library.

Inbound: a fax is validated and every page rendered in a temporary directory first (limits
checked before decoding); only a complete result is moved into place and its rows committed
(status ``received``): nothing is half-stored. Then a conversation is opened and routed through
the ACD (status ``routed``); a fax stored but not routed (a crash in between) is routed when the
channel starts. OCR runs afterwards, page by page, off the event loop (tesseract CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, desc, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

import channels.fax.render as render
from channels.fax.errors import ConversionFailed, CorruptFax, FaxError, GatewayError, InvalidFaxNumber
from channels.fax.gateways import FaxGateway
from channels.fax.settings import FaxSettings
from channels.fax.tables import fax_bulk, fax_documents, fax_jobs, fax_library, fax_pages
from hub.errors import Conflict, HubError, InvalidState, NotFound, ValidationFailed
from hub.security import new_id

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

FINAL = ("sent", "failed", "cancelled")
_WS = re.compile(r"\s+")


def search_form(text: str) -> str:
    """What OCR text and queries are compared as: lower-case, no whitespace (tesseract puts
    spaces between Chinese characters)."""
    return _WS.sub("", text or "").lower()


def normalise_number(raw: str, country: str) -> str:
    try:
        import phonenumbers
    except ImportError as err:  # pragma: no cover - an installation problem
        raise RuntimeError("the fax channel needs phonenumbers: pip install phonenumbers") from err
    text = (raw or "").strip()
    if not text or len(text) > 40:
        raise InvalidFaxNumber(f"{text[:40]!r} is not a fax number", details={"number": text[:40]})
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, country.upper() or None)
    except phonenumbers.NumberParseException as err:
        raise InvalidFaxNumber(f"{text!r} is not a fax number", details={"number": text}) from err
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidFaxNumber(f"{text!r} is not a valid fax number", details={"number": text})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_number(raw: str | None) -> str | None:
    """A sender/recipient number as a provider reports it (kept, never trusted)."""
    text = re.sub(r"[^\w+#*@.\- ]", "", (raw or "").strip())[:64]
    return text or None


def fax_public(row: Any, pages: list[Any] | None = None) -> dict[str, Any]:
    out = {"id": row.id, "direction": row.direction, "source": row.source, "status": row.status,
           "from_number": row.from_number, "to_number": row.to_number,
           "provider_id": row.provider_id, "page_count": row.page_count,
           "original_type": row.original_type, "original_size": row.original_size,
           "ocr_status": row.ocr_status, "conversation_id": row.conversation_id,
           "created_at": row.created_at, "meta": row.meta,
           "original_url": f"/api/fax/faxes/{row.id}/original"}
    if pages is not None:
        out["pages"] = [{"page_no": p.page_no, "width": p.width, "height": p.height,
                         "ocr_text": p.ocr_text,
                         "image_url": f"/api/fax/faxes/{row.id}/pages/{p.page_no}",
                         "thumb_url": f"/api/fax/faxes/{row.id}/pages/{p.page_no}?thumb=1"}
                        for p in pages]
    return out


def job_public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "document_id": row.document_id, "bulk_id": row.bulk_id,
            "to_number": row.to_number, "status": row.status, "gateway": row.gateway,
            "gateway_ref": row.gateway_ref, "attempts": row.attempts, "error": row.error,
            "created_at": row.created_at, "updated_at": row.updated_at}


class FaxService:
    def __init__(self, services: Services, gateway: FaxGateway | None) -> None:
        self.s = services
        self.st = services.settings.section(FaxSettings)
        self.db = services.db
        self.clock = services.clock
        self.root = services.settings.data_dir / "fax"
        self.gateway = gateway
        self.limits = render.Limits(self.st.max_bytes, self.st.max_pages,
                                    self.st.max_page_pixels, self.st.max_total_pixels)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ocr_sem = asyncio.Semaphore(1)
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._in_flight: set[str] = set()
        # set by the adapter: live updates to the desk
        self.on_fax_changed: Callable[[Any], Awaitable[None]] | None = None
        self.on_bulk_changed: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    # --- tasks -----------------------------------------------------------------------------
    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        async with self.db.tx() as tx:  # a submit cut short by a crash: try it again
            await tx.conn.execute(update(fax_jobs).where(
                fax_jobs.c.status == "sending", fax_jobs.c.gateway_ref.is_(None))
                .values(status="queued", next_attempt_at=None))
        async with self.db.read() as conn:
            unrouted = list((await conn.execute(select(fax_documents.c.id).where(
                fax_documents.c.status == "received"))).scalars())
            no_ocr = list((await conn.execute(select(fax_documents.c.id).where(
                fax_documents.c.ocr_status == "pending"))).scalars())
        for fid in unrouted:
            self._spawn(self._route_logged(fid), f"fax-route-{fid}")
        for fid in no_ocr:
            self._spawn(self._ocr(fid), f"fax-ocr-{fid}")
        self._worker = asyncio.create_task(self._work_loop(), name="fax-outbound")

    async def stop(self) -> None:
        tasks = list(self._tasks) + ([self._worker] if self._worker else [])
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None

    async def drain(self, within_s: float = 60) -> None:
        """Wait for routing and OCR in flight (tests)."""
        async with asyncio.timeout(within_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- files -----------------------------------------------------------------------------
    def dir_for(self, fid: str) -> Path:
        return self.root / fid[:2] / fid

    def original_path(self, row: Any) -> Path:
        ext = "pdf" if row.original_type == render.PDF else "tif"
        return self.dir_for(row.id) / f"original.{ext}"

    def page_path(self, fid: str, page_no: int, thumb: bool = False) -> Path:
        return render.page_png(self.dir_for(fid), page_no, thumb)

    def _commit_files(self, tmp: Path, fid: str) -> Path:
        dest = self.dir_for(fid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        return dest

    async def _store(self, fid: str, data: bytes, values: dict[str, Any],
                     prepare: Callable[[Path], Awaitable[None]] | None = None,
                     jobs: list[dict[str, Any]] | None = None) -> Any:
        """Render ``data`` into a temporary directory, move it into place, commit the rows (with
        ``jobs``, the document's outbound jobs in the same transaction)."""
        tmp = self.root / f".tmp-{fid}"
        try:
            if prepare is not None:
                await prepare(tmp)
            kind, pages = await asyncio.to_thread(render.render_document, data, tmp, self.limits)
            ext = "pdf" if kind == render.PDF else "tif"
            await asyncio.to_thread((tmp / f"original.{ext}").write_bytes, data)
            await asyncio.to_thread(self._commit_files, tmp, fid)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
            raise
        now = self.clock.now()
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(fax_documents.insert().values(
                    id=fid, page_count=len(pages), original_type=kind, original_size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), created_at=now,
                    ocr_status="pending" if self.st.ocr else "off", **values))
                await tx.conn.execute(fax_pages.insert(), [
                    {"fax_id": fid, "page_no": p.page_no, "width": p.width, "height": p.height}
                    for p in pages])
                if jobs:
                    await tx.conn.execute(fax_jobs.insert(), jobs)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, self.dir_for(fid), True)
            raise
        return await self.get_row(fid)

    # --- inbound ---------------------------------------------------------------------------
    async def receive(self, data: bytes, *, from_number: str | None, to_number: str | None,
                      provider_id: str | None, source: str, meta: dict[str, Any] | None = None,
                      declared_pages: int | None = None) -> tuple[Any, bool]:
        """Store an inbound fax and route it; returns (row, created). A provider id seen before
        returns the stored fax (a retried webhook or re-delivered mail)."""
        if provider_id:
            existing = await self.by_provider_id(provider_id)
            if existing is not None:
                return existing, False
        fid = new_id()
        values = {"direction": "in", "source": source, "status": "received",
                  "from_number": clean_number(from_number), "to_number": clean_number(to_number),
                  "provider_id": provider_id or None,
                  "meta": {**(meta or {}), "declared_pages": declared_pages}}
        try:
            row = await self._store(fid, data, values)
        except IntegrityError:
            existing = await self.by_provider_id(provider_id) if provider_id else None
            if existing is None:
                raise
            return existing, False
        if declared_pages is not None and declared_pages != row.page_count:
            log.warning("fax %s: the provider said %s pages, the file has %s", fid, declared_pages,
                        row.page_count)
        await self._route_logged(fid)
        if self.st.ocr:
            self._spawn(self._ocr(fid), f"fax-ocr-{fid}")
        return await self.get_row(fid), True

    async def _queue_id(self) -> str:
        ids = [q["id"] for q in await self.s.directory.list_queues()]
        for wanted in (self.st.queue, self.s.settings.widget_default_queue):
            if wanted and wanted in ids:
                return wanted
        if not ids:
            raise InvalidState("no queue is configured")
        return ids[0]

    async def _route_logged(self, fid: str) -> None:
        try:
            await self.route(fid)
        except Exception:  # noqa: BLE001 - stored: routed again when the channel starts
            log.exception("fax %s stored but not routed", fid)

    async def route(self, fid: str) -> None:
        row = await self.get_row(fid)
        if row.status != "received":
            return
        s = self.s
        number = row.from_number or ""
        identity: dict[str, Any] = {"name": f"Fax {number}"[:200] if number else "Unknown fax sender"}
        with contextlib.suppress(FaxError, ValidationFailed):
            phone = normalise_number(number, self.st.default_country)
            await s.contacts.validate({"phone": phone}, partial=True)
            identity["phone"] = phone
        pages = f"{row.page_count} page" + ("s" if row.page_count != 1 else "")
        body = f"Fax from {number or 'an unknown number'}" + (f" to {row.to_number}" if row.to_number else "") \
            + f", {pages}."
        conv = await s.conversations.open(
            channel="fax", queue_id=await self._queue_id(), identity=identity,
            subject=f"Fax from {number}"[:300] if number else "Fax", first_message=body,
            meta={"fax": {"fax_id": fid, "from": row.from_number, "to": row.to_number,
                          "pages": row.page_count, "source": row.source}})
        msgs = await s.conversations.messages(conv.id, include_notes=False)
        async with self.db.tx() as tx:
            await tx.conn.execute(update(fax_documents).where(fax_documents.c.id == fid).values(
                status="routed", conversation_id=conv.id, message_id=msgs[0]["id"] if msgs else None))
        try:
            await s.routing.enqueue(conv)
        except Exception:  # noqa: BLE001 - stored and queued: the ACD picks it up on restart
            log.exception("fax conversation %s stored but not routed", conv.id)

    async def _ocr(self, fid: str) -> None:
        async with self._ocr_sem:
            try:
                row = await self.get_row(fid)
                for page_no in range(1, row.page_count + 1):
                    text = await self.ocr_page(self.page_path(fid, page_no))
                    async with self.db.tx() as tx:
                        await tx.conn.execute(update(fax_pages).where(
                            fax_pages.c.fax_id == fid, fax_pages.c.page_no == page_no).values(
                            ocr_text=text, search_text=search_form(text)))
                status = "done"
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - OCR is a help: the pages are there without it
                log.exception("fax %s: OCR failed", fid)
                status = "failed"
            async with self.db.tx() as tx:
                await tx.conn.execute(update(fax_documents).where(fax_documents.c.id == fid)
                                      .values(ocr_status=status))
        if self.on_fax_changed is not None:
            await self.on_fax_changed(await self.get_row(fid))

    async def ocr_page(self, png: Path) -> str:
        """tesseract as a child process (never on the event loop's thread)."""
        try:
            proc = await asyncio.create_subprocess_exec(
                self.st.tesseract, str(png), "stdout", "-l", self.st.ocr_languages,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError as err:
            raise FaxError(f"{self.st.tesseract} is not installed "
                           "(apt-get install tesseract-ocr tesseract-ocr-chi-sim)") from err
        try:
            async with asyncio.timeout(self.st.ocr_timeout_s):
                out, stderr = await proc.communicate()
        except BaseException:  # a timeout, or the channel stopping: never leave it running
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
            raise
        if proc.returncode:
            raise FaxError(f"tesseract failed: {stderr.decode('utf-8', 'replace')[-500:]}")
        return out.decode("utf-8", "replace").strip()

    # --- reading ---------------------------------------------------------------------------
    async def get_row(self, fid: str) -> Any:
        async with self.db.read() as conn:
            row = (await conn.execute(select(fax_documents).where(fax_documents.c.id == fid))).first()
        if row is None:
            raise NotFound(f"fax {fid} does not exist")
        return row

    async def by_provider_id(self, provider_id: str) -> Any | None:
        async with self.db.read() as conn:
            return (await conn.execute(select(fax_documents).where(
                fax_documents.c.provider_id == provider_id))).first()

    async def pages(self, fid: str) -> list[Any]:
        async with self.db.read() as conn:
            return list((await conn.execute(select(fax_pages).where(fax_pages.c.fax_id == fid)
                                            .order_by(fax_pages.c.page_no))).all())

    async def detail(self, fid: str) -> dict[str, Any]:
        return fax_public(await self.get_row(fid), await self.pages(fid))

    async def for_conversation(self, cid: str) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(fax_documents).where(
                fax_documents.c.conversation_id == cid).order_by(fax_documents.c.created_at))).all()
        return [fax_public(r, await self.pages(r.id)) for r in rows]

    def conversation_search(self, q: str) -> Any:
        """Conversation ids whose fax pages' OCR text contains ``q`` (the inbox search hook)."""
        form = search_form(q)
        matching = select(fax_pages.c.fax_id).where(fax_pages.c.search_text.like(f"%{form}%"))
        return select(fax_documents.c.conversation_id).where(
            fax_documents.c.id.in_(matching), fax_documents.c.conversation_id.is_not(None))

    async def search(self, *, q: str | None = None, number: str | None = None,
                     since: float | None = None, until: float | None = None,
                     direction: str | None = None, limit: int = 50,
                     conversations: Any | None = None) -> list[dict[str, Any]]:
        """``conversations``: the ids of the conversations the caller may see (a subquery,
        ``ConversationService.visible_ids``; None: all): a fax of another conversation is left out."""
        d = fax_documents.c
        # outbound documents count once something was sent from them (not drafts, not the library)
        cond: list[Any] = [or_(d.direction == "in", d.id.in_(select(fax_jobs.c.document_id)))]
        if conversations is not None:
            cond.append(or_(d.conversation_id.is_(None), d.conversation_id.in_(conversations)))
        if direction:
            cond.append(d.direction == direction)
        if number:
            digits = re.sub(r"\D", "", number)
            like = f"%{digits or number}%"
            cond.append(or_(d.from_number.like(like), d.to_number.like(like),
                            d.id.in_(select(fax_jobs.c.document_id).where(fax_jobs.c.to_number.like(like)))))
        if since is not None:
            cond.append(d.created_at >= since)
        if until is not None:
            cond.append(d.created_at < until)
        snippets: dict[str, str] = {}
        async with self.db.read() as conn:
            if q and search_form(q):
                form = search_form(q)
                hits = (await conn.execute(select(fax_pages.c.fax_id, fax_pages.c.page_no,
                                                  fax_pages.c.ocr_text).where(
                    fax_pages.c.search_text.like(f"%{form}%")))).all()
                ids = {h.fax_id for h in hits}
                for h in hits:
                    snippets.setdefault(h.fax_id, f"p. {h.page_no}: " + " ".join((h.ocr_text or "").split())[:160])
                cond.append(d.id.in_(ids))
            rows = (await conn.execute(select(fax_documents).where(and_(*cond))
                                       .order_by(desc(d.created_at)).limit(limit))).all()
            jobs = (await conn.execute(select(fax_jobs.c.document_id, fax_jobs.c.to_number,
                                              fax_jobs.c.status).where(
                fax_jobs.c.document_id.in_([r.id for r in rows])))).all() if rows else []
        by_doc: dict[str, list[dict[str, str]]] = {}
        for j in jobs:
            by_doc.setdefault(j.document_id, []).append({"to": j.to_number, "status": j.status})
        out = []
        for r in rows:
            item = fax_public(r)
            item["match"] = snippets.get(r.id)
            item["jobs"] = by_doc.get(r.id, [])[:20]
            item["job_count"] = len(by_doc.get(r.id, []))
            out.append(item)
        return out

    # --- outbound documents ----------------------------------------------------------------
    async def _to_tiff_f(self, pdf: Path, tiff: Path) -> None:
        args = render.gs_tiff_f_args(pdf, tiff, self.st.compression)
        args[0] = self.st.ghostscript
        try:
            proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError as err:
            raise FaxError("ghostscript is not installed (apt-get install ghostscript)") from err
        try:
            async with asyncio.timeout(120):
                _, stderr = await proc.communicate()
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
            if isinstance(exc, TimeoutError):
                raise ConversionFailed("converting the document to a fax took too long") from None
            raise
        if proc.returncode or not await asyncio.to_thread(tiff.exists):
            raise ConversionFailed(f"ghostscript could not convert the document: "
                                   f"{stderr.decode('utf-8', 'replace')[-300:]}")

    async def prepare(self, *, text: str | None = None, pdf: bytes | None = None,
                      source: str, created_by: str | None, meta: dict[str, Any] | None = None,
                      link: dict[str, Any] | None = None, send_to: str | None = None) -> Any:
        """An outbound document: text or a PDF rendered to TIFF-F (ghostscript), stored with its
        pages like a received fax so it can be viewed and searched. ``link`` sets the document's
        ``provider_id`` (a dedupe key), ``conversation_id`` and ``message_id`` (agent replies);
        ``send_to`` (a normalised number) queues its job in the document's own transaction."""
        if (text is None) == (pdf is None):
            raise ValidationFailed("give either a text or a PDF file")
        if pdf is not None:
            if len(pdf) > self.st.max_bytes:
                raise FaxError("the PDF is too large", code="fax_too_large")
            if render.sniff(pdf) != render.PDF:
                raise CorruptFax("only PDF files (or text) can be sent as a fax")
            # refuse a corrupt or oversized PDF before ghostscript sees it
            check = self.root / f".check-{new_id()}"
            try:
                await asyncio.to_thread(render.render_document, pdf, check, self.limits)
            finally:
                await asyncio.to_thread(shutil.rmtree, check, True)
        elif not (text or "").strip():
            raise ValidationFailed("the text is empty")
        fid = new_id()
        work = self.root / f".work-{fid}"
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        try:
            src = work / "source.pdf"
            if pdf is not None:
                await asyncio.to_thread(src.write_bytes, pdf)
            else:
                await asyncio.to_thread(render.text_to_pdf, text or "", src, self.st.font_path,
                                        self.st.max_pages)
            tiff = work / "fax.tif"
            await self._to_tiff_f(src, tiff)
            data = await asyncio.to_thread(tiff.read_bytes)

            values = {"direction": "out", "source": source, "status": "ready",
                      "from_number": self.st.number or None, "fax_tiff": "original.tif",
                      "created_by": created_by, "meta": dict(meta or {}), **(link or {})}
            jobs = ([self._job_values(fid, send_to, self._gateway_name(), created_by=None)]
                    if send_to else None)
            row = await self._store(fid, data, values, jobs=jobs)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        if send_to:
            self._wake.set()
        if self.st.ocr:
            self._spawn(self._ocr(fid), f"fax-ocr-{fid}")
        return row

    # --- agent replies in fax conversations -------------------------------------------------
    @staticmethod
    def reply_recorded(message_id: Any) -> Any:
        """True where the agent's message already has its reply fax (``OutboundReplies``)."""
        return exists().where(fax_documents.c.provider_id == literal("reply:") + message_id)

    async def queue_reply(self, msg: dict[str, Any], conv_row: Any) -> bool:
        """An agent's message in a fax conversation → a text fax to the sender's number, once per
        message (the document's ``provider_id`` is ``reply:<message id>``; the document and its job
        are committed together). Returns False when the message was already taken. Raises a clear
        error (``OutboundReplies`` notes it on the conversation) when there is no gateway, no
        number or nothing to send. Called live and by the start-up reconcile."""
        key = f"reply:{msg['id']}"
        if await self.by_provider_id(key) is not None:
            return False
        self._gateway_name()
        fax_meta = (conv_row.meta or {}).get("fax") or {}
        number = fax_meta.get("from")
        if not number and conv_row.contact_id:
            number = (await self.s.contacts.get(conv_row.contact_id)).get("phone")
        if not number:
            raise ValidationFailed("the conversation has no fax number to reply to")
        number = normalise_number(number, self.st.default_country)
        if not (msg.get("body") or "").strip():
            raise ValidationFailed("the reply has no text to fax")
        try:
            await self.prepare(
                text=msg["body"], source="reply", created_by=msg.get("sender_name"),
                meta={"reply_to_fax": fax_meta.get("fax_id"), "agent": msg.get("sender_name")},
                link={"provider_id": key, "conversation_id": conv_row.id, "message_id": msg["id"],
                      "to_number": number}, send_to=number)
        except IntegrityError:
            return False  # the same message seen twice
        if msg.get("attachments"):
            await self.system_note(conv_row.id, "Attachments are not faxed; only the text was sent.")
        return True

    async def system_note(self, cid: str, text: str) -> None:
        conv = self.s.conversations
        try:
            await conv.add_message(cid, sender="system", kind="system", body=text, sender_name="Fax")
        except HubError:  # e.g. closed meanwhile: a note is still allowed
            await conv.add_message(cid, sender="system", kind="note", body=text, sender_name="Fax")

    async def _reply_outcome(self, row: Any, status: str, error: str | None) -> None:
        """A reply fax reached its end: say so in its conversation."""
        doc = await self.get_row(row.document_id)
        if doc.source != "reply" or not doc.conversation_id:
            return
        text = (f"The reply was faxed to {row.to_number}." if status == "sent"
                else f"The reply could not be faxed to {row.to_number}: {error or 'failed'}.")
        try:
            await self.system_note(doc.conversation_id, text[:2000])
        except HubError:
            log.warning("fax reply %s: could not note the outcome on %s", row.id, doc.conversation_id)

    # --- outbound jobs ---------------------------------------------------------------------
    def _gateway_name(self) -> str:
        if self.gateway is None:
            raise InvalidState("no fax gateway is configured (fax_gateway = hylafax or email)",
                               code="fax_no_gateway")
        return self.gateway.name

    async def send(self, document_id: str, numbers: list[str], *, user_id: str | None,
                   bulk_name: str | None = None, rows: list[int] | None = None,
                   errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """One job per number (all numbers validated first: one bad number stores nothing).
        ``rows`` numbers the numbers (default 1, 2, …); ``errors`` are rows already found bad
        (a CSV upload's)."""
        gateway = self._gateway_name()
        doc = await self.get_row(document_id)
        if doc.direction != "out":
            raise ValidationFailed("only a prepared outbound document can be sent")
        errors = list(errors or [])
        total = len(numbers) + len(errors)
        if not total:
            raise ValidationFailed("give at least one fax number")
        if total > self.st.bulk_max_recipients:
            raise ValidationFailed(f"at most {self.st.bulk_max_recipients} numbers at once")
        seen, clean = set(), []
        for i, raw in zip(rows or range(1, len(numbers) + 1), numbers, strict=True):
            try:
                n = normalise_number(raw, self.st.default_country)
            except InvalidFaxNumber as err:
                errors.append({"row": i, "number": raw, "msg": err.detail})
                continue
            if n not in seen:
                seen.add(n)
                clean.append(n)
        if errors:
            errors.sort(key=lambda e: e["row"])
            raise InvalidFaxNumber(f"{len(errors)} of {total} numbers are not valid; nothing "
                                   f"was sent (row {errors[0]['row']}: {errors[0]['msg']})",
                                   details={"errors": errors[:20], "error_count": len(errors)})
        bulk_id = new_id() if bulk_name is not None else None
        jobs = [self._job_values(document_id, n, gateway, created_by=user_id, bulk_id=bulk_id)
                for n in clean]
        now = self.clock.now()
        async with self.db.tx() as tx:
            if bulk_id is not None:
                await tx.conn.execute(fax_bulk.insert().values(
                    id=bulk_id, name=(bulk_name or "Bulk fax")[:200], document_id=document_id,
                    status="running", total=len(jobs), created_by=user_id, created_at=now))
            await tx.conn.execute(fax_jobs.insert(), jobs)
        self._wake.set()
        if bulk_id is not None:
            return await self.bulk(bulk_id)
        return {"jobs": [job_public(await self.job(j["id"])) for j in jobs]}

    def _job_values(self, document_id: str, number: str, gateway: str, *, created_by: str | None,
                    bulk_id: str | None = None) -> dict[str, Any]:
        now = self.clock.now()
        return {"id": new_id(), "document_id": document_id, "bulk_id": bulk_id, "to_number": number,
                "status": "queued", "gateway": gateway, "attempts": 0, "next_attempt_at": now,
                "created_by": created_by, "created_at": now, "updated_at": now}

    async def job(self, jid: str) -> Any:
        async with self.db.read() as conn:
            row = (await conn.execute(select(fax_jobs).where(fax_jobs.c.id == jid))).first()
        if row is None:
            raise NotFound(f"fax job {jid} does not exist")
        return row

    async def jobs(self, bulk_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        cond = [fax_jobs.c.bulk_id == bulk_id] if bulk_id else []
        async with self.db.read() as conn:
            rows = (await conn.execute(select(fax_jobs).where(*cond)
                                       .order_by(desc(fax_jobs.c.created_at)).limit(limit))).all()
        return [job_public(r) for r in rows]

    async def bulk(self, bulk_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(fax_bulk).where(fax_bulk.c.id == bulk_id))).first()
            if row is None:
                raise NotFound(f"bulk fax {bulk_id} does not exist")
            counts: dict[str, int] = dict((await conn.execute(select(fax_jobs.c.status, func.count()).where(
                fax_jobs.c.bulk_id == bulk_id).group_by(fax_jobs.c.status))).all())
        return {"id": row.id, "name": row.name, "document_id": row.document_id, "status": row.status,
                "total": row.total, "created_by": row.created_by, "created_at": row.created_at,
                "finished_at": row.finished_at,
                "counts": {k: int(counts.get(k, 0)) for k in ("queued", "sending", "sent", "failed", "cancelled")}}

    async def bulks(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            ids = list((await conn.execute(select(fax_bulk.c.id).order_by(
                desc(fax_bulk.c.created_at)).limit(limit))).scalars())
        return [await self.bulk(i) for i in ids]

    async def cancel_bulk(self, bulk_id: str) -> dict[str, Any]:
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(fax_jobs).where(
                fax_jobs.c.bulk_id == bulk_id, fax_jobs.c.status == "queued").values(
                status="cancelled", updated_at=now))
        await self._bulk_progress(bulk_id)
        return await self.bulk(bulk_id)

    async def _work_loop(self) -> None:
        while True:
            try:
                await self._work_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("fax: outbound loop failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.st.poll_s):
                    await self._wake.wait()

    async def _work_once(self) -> None:
        if self.gateway is None:
            return
        now = self.clock.now()
        j = fax_jobs.c
        async with self.db.read() as conn:
            due = (await conn.execute(select(fax_jobs).where(
                j.status.in_(("queued", "sending")), or_(j.next_attempt_at.is_(None), j.next_attempt_at <= now))
                .order_by(j.next_attempt_at).limit(self.st.send_concurrency * 4))).all()
        due = [r for r in due if r.id not in self._in_flight][: self.st.send_concurrency]
        if not due:
            return
        for r in due:
            self._in_flight.add(r.id)
        try:
            await asyncio.gather(*(self._advance(r) for r in due))
        finally:
            for r in due:
                self._in_flight.discard(r.id)
        self._wake.set()  # there may be more

    async def _update_job(self, row: Any, **values: Any) -> None:
        values["updated_at"] = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(fax_jobs).where(fax_jobs.c.id == row.id).values(**values))
        if row.bulk_id:
            await self._bulk_progress(row.bulk_id)
        elif values.get("status") in ("sent", "failed"):
            await self._reply_outcome(row, values["status"], values.get("error"))

    async def _advance(self, row: Any) -> None:
        assert self.gateway is not None
        st = self.st
        now = self.clock.now()
        try:
            if row.status == "queued":
                await self._update_job(row, status="sending", attempts=row.attempts + 1,
                                       next_attempt_at=now + st.poll_s, error=None)
                doc = await self.get_row(row.document_id)
                ref = await self.gateway.submit(self.dir_for(doc.id) / "original.tif", row.to_number, row.id)
                await self._update_job(row, gateway_ref=ref, next_attempt_at=now)
                return
            status = await self.gateway.status(row.gateway_ref)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - a gateway failure: retry with backoff
            error = str(err.detail if isinstance(err, GatewayError) else f"{type(err).__name__}: {err}")[:500]
            attempts = row.attempts + (1 if row.status == "queued" else 0)
            log.warning("fax job %s to %s: %s", row.id, row.to_number, error)
            await self._retry_or_fail(row, attempts, error)
            return
        if status.state == "sent":
            await self._update_job(row, status="sent", next_attempt_at=None)
        elif status.state == "failed":
            await self._retry_or_fail(row, row.attempts, status.detail or "the fax failed")
        else:
            await self._update_job(row, next_attempt_at=self.clock.now() + st.poll_s)

    async def _retry_or_fail(self, row: Any, attempts: int, error: str) -> None:
        st = self.st
        if attempts < st.send_attempts:
            await self._update_job(row, status="queued", gateway_ref=None, attempts=attempts, error=error,
                                   next_attempt_at=self.clock.now() + st.retry_base_s * 2 ** (attempts - 1))
        else:
            await self._update_job(row, status="failed", attempts=attempts, error=error, next_attempt_at=None)

    async def _bulk_progress(self, bulk_id: str) -> None:
        info = await self.bulk(bulk_id)
        c = info["counts"]
        if info["status"] == "running" and c["sent"] + c["failed"] + c["cancelled"] >= info["total"]:
            now = self.clock.now()
            async with self.db.tx() as tx:
                await tx.conn.execute(update(fax_bulk).where(fax_bulk.c.id == bulk_id).values(
                    status="cancelled" if c["cancelled"] else "done", finished_at=now))
            info = await self.bulk(bulk_id)
        if self.on_bulk_changed is not None:
            await self.on_bulk_changed(info)

    # --- fax-on-demand library -------------------------------------------------------------
    @staticmethod
    def _library_public(row: Any, doc: Any | None = None) -> dict[str, Any]:
        out = {"id": row.id, "code": row.code, "title": row.title, "description": row.description,
               "document_id": row.document_id, "created_at": row.created_at, "updated_at": row.updated_at}
        if doc is not None:
            out["page_count"] = doc.page_count
        return out

    async def library(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(fax_library, fax_documents.c.page_count).join(
                fax_documents, fax_documents.c.id == fax_library.c.document_id)
                .order_by(fax_library.c.code))).all()
        return [{**self._library_public(r), "page_count": r.page_count} for r in rows]

    async def library_item(self, key: str) -> dict[str, Any]:
        """By id or by code (what the IVR caller keys in)."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(fax_library).where(
                or_(fax_library.c.id == key, fax_library.c.code == key)))).first()
        if row is None:
            raise NotFound(f"no fax-on-demand document {key}")
        return self._library_public(row, await self.get_row(row.document_id))

    @staticmethod
    def _field_errors(field: str, msg: str) -> dict[str, Any]:
        """``details`` naming the body field at fault (a form shows the message next to it)."""
        return {"errors": [{"loc": ["body", field], "msg": msg}]}

    @classmethod
    def _check_code(cls, code: str) -> str:
        code = (code or "").strip()
        if not re.fullmatch(r"[0-9]{1,16}", code):
            msg = "the code must be 1 to 16 digits (what a caller keys in)"
            raise ValidationFailed(msg, details=cls._field_errors("code", msg))
        return code

    @classmethod
    def _check_title(cls, title: str) -> str:
        if not title.strip():
            raise ValidationFailed("the title is empty", details=cls._field_errors("title", "the title is empty"))
        return title.strip()[:200]

    @classmethod
    def _code_taken(cls, code: str | None) -> Conflict:
        msg = f"the code {code} is already used"
        return Conflict(msg, code="fax_code_taken", details=cls._field_errors("code", msg))

    async def create_library(self, *, code: str, title: str, description: str, document_id: str) -> dict[str, Any]:
        code = self._check_code(code)
        title = self._check_title(title)
        now = self.clock.now()
        lid = new_id()
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(fax_library.insert().values(
                    id=lid, code=code, title=title, description=description or "",
                    document_id=document_id, created_at=now, updated_at=now))
                await tx.conn.execute(update(fax_documents).where(fax_documents.c.id == document_id)
                                      .values(source="library"))
        except IntegrityError as err:
            raise self._code_taken(code) from err
        return await self.library_item(lid)

    async def update_library(self, key: str, changes: dict[str, Any]) -> dict[str, Any]:
        item = await self.library_item(key)
        values: dict[str, Any] = {}
        if "code" in changes and changes["code"] is not None:
            values["code"] = self._check_code(changes["code"])
        if changes.get("title") is not None:
            values["title"] = self._check_title(changes["title"])
        if changes.get("description") is not None:
            values["description"] = changes["description"]
        if changes.get("document_id") is not None:
            values["document_id"] = changes["document_id"]
        values["updated_at"] = self.clock.now()
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(update(fax_library).where(fax_library.c.id == item["id"]).values(**values))
                if "document_id" in values:  # a replaced document belongs to the library, as on create
                    await tx.conn.execute(update(fax_documents).where(
                        fax_documents.c.id == values["document_id"]).values(source="library"))
        except IntegrityError as err:
            raise self._code_taken(values.get("code")) from err
        return await self.library_item(item["id"])

    async def delete_library(self, key: str) -> None:
        item = await self.library_item(key)
        async with self.db.tx() as tx:
            await tx.conn.execute(fax_library.delete().where(fax_library.c.id == item["id"]))

    async def send_library(self, code: str, number: str, user_id: str | None = None) -> dict[str, Any]:
        """Fax-on-demand: send the library document with this code (the IVR's entry point)."""
        item = await self.library_item(code)
        return await self.send(item["document_id"], [number], user_id=user_id)
