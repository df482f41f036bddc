"""The fax channel (FAX-1): inbound faxes by provider webhook and by fax-to-email, the page
viewer's API, OCR search over the central fax store, outbound and bulk fax through a HylaFAX
server or an email-to-fax service, and the fax-on-demand library.

Talks to the hub only through its services and events (``Channel`` protocol of ``hub.app``);
to the email channel only through ports (hub/ports.py): it provides ``fax_intake``, consulted by
the email ingestor, and uses ``email`` (``services.ports.email.send_mail``) for email-to-fax."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, Response

import channels.fax.render as render
import channels.fax.schemas as S
from channels.fax.errors import BadSignature, FaxError, FaxTooLarge, InboundDisabled
from channels.fax.gateways import EmailFaxGateway, FaxGateway, HylafaxGateway
from channels.fax.privacy import FaxPersonalData
from channels.fax.service import FaxService
from channels.fax.settings import FaxSettings
from hub.api.http import Api, current_user, json_response, parse_body, parse_query, require
from hub.api.uploads import read_form_file
from hub.errors import NotFound, UnsupportedMediaType, ValidationFailed
from hub.services.csv_recipients import CsvColumn, read_csv
from hub.services.outbound_replies import OutboundReplies

if TYPE_CHECKING:
    from email.message import EmailMessage

    from hub.app import Services
    from hub.ports import InboundMail

log = logging.getLogger(__name__)

SIGNATURE_MAX_AGE_S = 300
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200)
    number: str | None = Field(default=None, max_length=64)
    since: float | None = None
    until: float | None = None
    direction: str | None = Field(default=None, pattern="^(in|out)$")
    limit: int = Field(default=50, ge=1, le=200)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    thumb: bool = False


class TextDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=50_000)
    values: dict[str, str] = Field(default_factory=dict)  # {placeholders} of a template


#: The number column of a bulk fax CSV upload.
FAX_NUMBER = CsvColumn("number", ("fax", "fax_number", "faxnumber", "to", "传真", "传真号", "传真号码"),
                       required=True, label="fax number")


class SendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(min_length=1, max_length=32)
    numbers: list[str] = Field(min_length=1)
    bulk_name: str | None = Field(default=None, max_length=200)


class JobsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bulk_id: str | None = None


class LibraryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=16)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    document_id: str = Field(min_length=1, max_length=32)


class LibraryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, max_length=16)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    document_id: str | None = Field(default=None, max_length=32)


class LibrarySend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=64)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: ``sha256=`` HMAC-SHA256 of ``<timestamp>.`` + the raw body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def fill_template(text: str, values: dict[str, str]) -> str:
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise ValidationFailed(f"no value for {', '.join('{' + m + '}' for m in missing)}",
                               details={"missing": missing})
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


async def require_any(request: Request, *permissions: str) -> Any:
    user = await current_user(request)
    if not set(permissions) & set(user.permissions):
        user.require(permissions[0])  # raises Forbidden naming the main permission
    return user


class FaxChannel:
    name = "fax"
    provides: tuple[str, ...] = ("fax", "fax_intake")
    uses: tuple[str, ...] = ("email",)
    uses_later: tuple[str, ...] = ()

    def __init__(self, gateway: FaxGateway | None = None) -> None:
        self._services: Services | None = None
        self._gateway_override = gateway
        self.svc: FaxService | None = None
        self.replies: OutboundReplies | None = None

    @property
    def services(self) -> Services:
        assert self._services is not None, "the fax channel is not started"
        return self._services

    @property
    def service(self) -> FaxService:
        assert self.svc is not None, "the fax channel is not started"
        return self.svc

    # --- the Channel protocol --------------------------------------------------------------
    def make_gateway(self, services: Services) -> FaxGateway | None:
        st = services.settings.section(FaxSettings)
        if st.gateway == "hylafax":
            return HylafaxGateway(st.hylafax_host, st.hylafax_port, st.hylafax_user,
                                  st.hylafax_password, max_tries=1)
        if st.gateway == "email":
            async def send_mail(message: EmailMessage) -> None:
                email = services.ports.email
                if email is None:
                    raise FaxError("email-to-fax needs the email channel (email_enabled)")
                await email.send_mail(message)

            email = services.ports.email  # started before this channel (``uses``)
            return EmailFaxGateway(send_mail, st.email_gateway_domain,
                                   email.address if email is not None else "")
        return None

    async def start(self, services: Services) -> None:
        self._services = services
        self.svc = FaxService(services, self._gateway_override or self.make_gateway(services))
        self.svc.on_bulk_changed = self._emit_bulk
        self.svc.on_fax_changed = self._emit_fax
        services.ports.fax = self
        services.ports.fax_intake = self.email_intake
        hooks = getattr(services.conversations, "search_hooks", None)
        if hooks is not None:
            hooks.append(self.svc.conversation_search)
        await self.svc.start()
        services.privacy.register(FaxPersonalData(self.svc.root, services.settings.data_dir))
        # an agent's reply in a fax conversation is faxed back to the sender: live from the
        # message event, and recovered on start (exactly once)
        self.replies = OutboundReplies(services, "fax", label="Fax", recorded=self.svc.reply_recorded,
                                       send=self.svc.queue_reply,
                                       unsent_text="This reply was not faxed: {detail}")
        self.replies.start()

    async def stop(self) -> None:
        if self.replies is not None:
            await self.replies.stop()
        if self.svc is not None:
            await self.svc.stop()
        if self._services is not None:
            self._services.ports.fax_intake = None
        self._services = None

    # --- public API for other components (the IVR's fax-on-demand) ---------------------------
    async def send_on_demand(self, code: str, number: str) -> dict[str, Any]:
        return await self.service.send_library(code, number)

    # --- fax-to-email: called by the email ingestor before threading --------------------------
    async def email_intake(self, mail: InboundMail, envelope_from: str | None) -> str | None:
        """A mail from a configured fax gateway address carrying a TIFF/PDF becomes a fax
        conversation; returns its conversation id, or None to let the email channel keep it."""
        senders = {a.strip().lower() for a in self.services.settings.section(FaxSettings).email_senders}
        who = {(mail.from_addr or "").lower(), (envelope_from or "").strip("<>").lower()}
        if not senders or not (who & senders):
            return None
        part = next((p for p in mail.parts if p.data[:4] in (b"II*\x00", b"MM\x00*")
                     or p.data.lstrip()[:5] == b"%PDF-"), None)
        if part is None:
            return None
        numbers = re.findall(r"\+?\d[\d\- ]{4,}\d", mail.subject or "")
        from_number = numbers[0].replace(" ", "").replace("-", "") if numbers else None
        try:
            row, _ = await self.service.receive(
                part.data, from_number=from_number, to_number=None,
                provider_id=f"email:{mail.message_id}"[:128], source="email",
                meta={"email_subject": (mail.subject or "")[:300], "filename": part.filename,
                      "email_from": mail.from_addr})
        except FaxError as err:
            if err.status >= 500:
                raise
            # a refused document stays an email (nothing is lost; the agent sees why)
            log.warning("fax-to-email from %s: %s; kept as an email", mail.from_addr, err.detail)
            return None
        return row.conversation_id or ""

    # --- live updates -------------------------------------------------------------------------
    async def _emit_bulk(self, info: dict[str, Any]) -> None:
        await self.services.push.to_supervisors("fax_bulk", info, also=[info.get("created_by")])

    async def _emit_fax(self, row: Any) -> None:
        data = {"fax_id": row.id, "conversation_id": row.conversation_id, "ocr_status": row.ocr_status}
        if row.conversation_id:
            conv = await self.services.conversations.row(row.conversation_id)
            await self.services.push.about_conversation("fax_updated", data, assignee_id=conv.assignee_id,
                                                        queue_id=conv.queue_id)
        else:
            await self.services.push.to_supervisors("fax_updated", data)

    # --- HTTP -----------------------------------------------------------------------------------
    async def _signed_body(self, request: Request) -> bytes:
        st = self.services.settings.section(FaxSettings)
        if not st.inbound_secret:
            raise InboundDisabled("set fax_inbound_secret (the HMAC key shared with the provider)")
        limit = st.max_bytes + 256 * 1024
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise FaxTooLarge(f"the request is larger than {limit // 1024} KiB", details={"limit": "bytes"})
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise FaxTooLarge(f"the request is larger than {limit // 1024} KiB", details={"limit": "bytes"})
            chunks.append(chunk)
        body = b"".join(chunks)
        ts = request.headers.get("x-fax-timestamp", "")
        given = request.headers.get("x-fax-signature", "")
        try:
            age = abs(time.time() - float(ts))
        except ValueError:
            raise BadSignature("X-Fax-Timestamp (epoch seconds) is missing") from None
        if age > SIGNATURE_MAX_AGE_S:
            raise BadSignature("the signature is too old (X-Fax-Timestamp more than 5 minutes off)")
        if not hmac.compare_digest(given.encode(), sign(st.inbound_secret, ts, body).encode()):
            raise BadSignature("X-Fax-Signature does not match the body")
        request._body = body  # the multipart parser reads the verified bytes  # noqa: SLF001
        return body

    async def _viewable(self, request: Request, fax_id: str) -> Any:
        """The fax, if the caller may see it: agents (``desk``) see the store's faxes that belong to
        no conversation or to one they may see (``ConversationService.can_view``); library
        editors (``automation``) see the library's documents and the documents they prepared."""
        user = await current_user(request)
        if "desk" in user.permissions:
            row = await self.service.get_row(fax_id)
            if row.conversation_id is not None:
                conv = self.services.conversations
                if not conv.can_view(user, await conv.row(row.conversation_id)):
                    raise NotFound(f"fax {fax_id} does not exist")
            return row
        if "automation" not in user.permissions:
            user.require("desk")
        row = await self.service.get_row(fax_id)
        if not (row.source == "library" or (row.direction == "out" and row.created_by == user.id)):
            user.require("desk")
        return row

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        ch = self

        @api.add("/api/fax/inbound", "POST",
                 "Provider webhook: one received fax (multipart: file = TIFF/PDF; from, to, pages, "
                 "provider_id), signed with X-Fax-Timestamp and X-Fax-Signature (HMAC-SHA256)",
                 tag="fax", auth="none", status=201, response=S.InboundFax, access="secret")
        async def inbound(request: Request) -> Response:
            await ch._signed_body(request)
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                raise UnsupportedMediaType("post the fax as multipart/form-data with a 'file' field")
            try:
                form = await request.form(max_files=1, max_fields=20,
                                          max_part_size=ch.services.settings.section(FaxSettings).max_bytes + 1)
            except Exception as err:  # noqa: BLE001 - the client's malformed multipart
                raise ValidationFailed(f"could not read the upload: {err}") from err
            try:
                upload = form.get("file")
                if upload is None or isinstance(upload, str):
                    raise ValidationFailed("the form needs a 'file' field with the fax document")
                data = await upload.read()
                fields = {k: str(form.get(k) or "").strip() for k in ("from", "to", "pages", "provider_id")}
            finally:
                await form.close()
            pages = None
            if fields["pages"]:
                if not fields["pages"].isdigit():
                    raise ValidationFailed("pages must be a number")
                pages = int(fields["pages"])
            row, created = await ch.service.receive(
                data, from_number=fields["from"] or None, to_number=fields["to"] or None,
                provider_id=fields["provider_id"][:128] or None, source="webhook",
                declared_pages=pages)
            return json_response({"fax_id": row.id, "conversation_id": row.conversation_id,
                                  "pages": row.page_count, "duplicate": not created},
                                 status=201 if created else 200)

        @api.add("/api/fax/faxes", "GET", "Search the central fax store (OCR text, number, dates)",
                 tag="fax", query=SearchQuery, response=S.FaxSearch, access="desk")
        async def search(request: Request) -> Response:
            user = await require(request, "desk")
            q = parse_query(request, SearchQuery)
            return json_response({"items": await ch.service.search(
                q=q.q, number=q.number, since=q.since, until=q.until, direction=q.direction,
                limit=q.limit, conversations=ch.services.conversations.visible_ids(user))})

        @api.add("/api/fax/faxes/{fax_id}", "GET", "One fax with its pages and OCR text", tag="fax",
                 response=S.FaxDetail, access="desk|automation")
        async def detail(request: Request) -> Response:
            row = await ch._viewable(request, request.path_params["fax_id"])
            return json_response(await ch.service.detail(row.id))

        @api.add("/api/fax/faxes/{fax_id}/pages/{page_no}", "GET",
                 "A page as PNG (thumb=true for the thumbnail)", tag="fax", query=PageQuery, access="desk|automation")
        async def page(request: Request) -> Response:
            row = await ch._viewable(request, request.path_params["fax_id"])
            q = parse_query(request, PageQuery)
            try:
                n = int(request.path_params["page_no"])
            except ValueError:
                raise NotFound("no such page") from None
            if not 1 <= n <= row.page_count:
                raise NotFound(f"the fax has {row.page_count} pages")
            return FileResponse(ch.service.page_path(row.id, n, q.thumb), media_type="image/png",
                                headers={"Cache-Control": "private, max-age=86400",
                                         "X-Content-Type-Options": "nosniff"})

        @api.add("/api/fax/faxes/{fax_id}/original", "GET", "The fax document as received or sent",
                 tag="fax", access="desk|automation")
        async def original(request: Request) -> Response:
            row = await ch._viewable(request, request.path_params["fax_id"])
            ext = "pdf" if row.original_type == render.PDF else "tif"
            return FileResponse(ch.service.original_path(row), media_type=row.original_type,
                                filename=f"fax-{row.id}.{ext}",
                                headers={"X-Content-Type-Options": "nosniff",
                                         "Content-Security-Policy": "sandbox"})

        @api.add("/api/fax/conversations/{conversation_id}", "GET",
                 "The faxes of a conversation, page by page (the desk's fax viewer)", tag="fax",
                 response=S.ConversationFaxes, access="desk|supervise")
        async def conversation(request: Request) -> Response:
            user = await current_user(request)
            conv = ch.services.conversations
            row = await conv.row(request.path_params["conversation_id"])
            conv.require_view(user, row)
            return json_response({"conversation_id": row.id,
                                  "faxes": await ch.service.for_conversation(row.id)})

        @api.add("/api/fax/documents", "POST",
                 "Prepare an outbound fax: JSON {text, values} (a template's {placeholders}) or "
                 "multipart with a PDF 'file'; rendered to TIFF-F", tag="fax", status=201, response=S.FaxDetail,
                 access="desk|bulk_send|automation")
        async def prepare(request: Request) -> Response:
            # agents, bulk senders and library editors prepare faxes
            user = await require_any(request, "desk", "bulk_send", "automation")
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("multipart/form-data"):
                limit = ch.services.settings.section(FaxSettings).max_bytes
                try:
                    form = await request.form(max_files=1, max_fields=5, max_part_size=limit + 1)
                except Exception as err:  # noqa: BLE001 - the client's malformed multipart
                    raise ValidationFailed(f"could not read the upload: {err}") from err
                try:
                    upload = form.get("file")
                    if upload is None or isinstance(upload, str):
                        raise ValidationFailed("the form needs a 'file' field with a PDF")
                    data = await upload.read(limit + 1)
                    filename = upload.filename or "document.pdf"
                finally:
                    await form.close()
                if len(data) > limit:
                    raise FaxTooLarge(f"the PDF is larger than {limit // 1024} KiB")
                row = await ch.service.prepare(pdf=data, source="pdf", created_by=user.id,
                                               meta={"filename": filename})
            else:
                body = await parse_body(request, TextDocument)
                text = fill_template(body.text, body.values) if body.values or "{" in body.text else body.text
                row = await ch.service.prepare(text=text, source="template" if body.values else "text",
                                               created_by=user.id)
            return json_response(await ch.service.detail(row.id), status=201)

        @api.add("/api/fax/send", "POST",
                 "Send a prepared document to one or more numbers (several numbers or a bulk_name "
                 "make a bulk job with progress)", tag="fax", body=SendBody, status=201, response=S.FaxBulk | S.FaxJobs,
                 access="desk")
        async def send(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, SendBody)
            bulk = body.bulk_name is not None or len(body.numbers) > 1
            if bulk:
                user.require("bulk_send")
            result = await ch.service.send(body.document_id, body.numbers, user_id=user.id,
                                           bulk_name=(body.bulk_name or "Bulk fax") if bulk else None)
            return json_response(result, status=201)

        @api.add("/api/fax/send/csv", "POST",
                 "Send a prepared document to the numbers of a CSV upload as a bulk fax (multipart: "
                 "file with a 'fax' or 'number' column, document_id, bulk_name)", tag="fax", status=201,
                 response=S.FaxBulk | S.FaxJobs, access="bulk_send")
        async def send_csv(request: Request) -> Response:
            user = await require(request, "bulk_send")
            upload = await read_form_file(request, fields=("document_id", "bulk_name"))
            if not upload.fields["document_id"]:
                raise ValidationFailed("prepare the document first (document_id)")
            table = read_csv(upload.data, [FAX_NUMBER],
                             max_rows=ch.services.settings.section(FaxSettings).bulk_max_recipients)
            result = await ch.service.send(
                upload.fields["document_id"], [r.values["number"] for r in table.rows],
                rows=[r.number for r in table.rows], errors=table.errors, user_id=user.id,
                bulk_name=(upload.fields["bulk_name"] or upload.filename or "Bulk fax")[:200])
            return json_response(result, status=201)

        @api.add("/api/fax/jobs", "GET", "Outbound fax jobs and their state", tag="fax", query=JobsQuery,
                 response=S.FaxJobList, access="desk|bulk_send|automation")
        async def jobs(request: Request) -> Response:
            await require_any(request, "desk", "bulk_send", "automation")
            q = parse_query(request, JobsQuery)
            return json_response({"items": await ch.service.jobs(q.bulk_id)})

        @api.add("/api/fax/bulk", "GET", "Bulk fax jobs with progress", tag="fax", response=S.FaxBulks,
                 access="bulk_send")
        async def bulks(request: Request) -> Response:
            await require(request, "bulk_send")
            return json_response({"items": await ch.service.bulks()})

        @api.add("/api/fax/bulk/{bulk_id}", "GET", "One bulk fax job with progress", tag="fax", response=S.FaxBulk,
                 access="bulk_send")
        async def bulk(request: Request) -> Response:
            await require(request, "bulk_send")
            return json_response(await ch.service.bulk(request.path_params["bulk_id"]))

        @api.add("/api/fax/bulk/{bulk_id}/cancel", "POST", "Cancel what a bulk fax has not sent yet",
                 tag="fax", response=S.FaxBulk, access="bulk_send")
        async def cancel(request: Request) -> Response:
            await require(request, "bulk_send")
            return json_response(await ch.service.cancel_bulk(request.path_params["bulk_id"]))

        @api.add("/api/fax/library", "GET", "The fax-on-demand library", tag="fax", response=S.Library,
                 access="desk|automation")
        async def library(request: Request) -> Response:
            await require_any(request, "desk", "automation")
            return json_response({"items": await ch.service.library()})

        @api.add("/api/fax/library", "POST", "Add a document to the fax-on-demand library",
                 tag="fax", body=LibraryBody, status=201, response=S.LibraryItem, access="automation")
        async def library_create(request: Request) -> Response:
            await require(request, "automation")
            body = await parse_body(request, LibraryBody)
            doc = await ch.service.get_row(body.document_id)
            if doc.direction != "out":
                raise ValidationFailed("the library holds prepared outbound documents")
            return json_response(await ch.service.create_library(
                code=body.code, title=body.title, description=body.description,
                document_id=body.document_id), status=201)

        @api.add("/api/fax/library/{key}", "GET", "One library document (by id or code)", tag="fax",
                 response=S.LibraryItem, access="desk|automation")
        async def library_get(request: Request) -> Response:
            await require_any(request, "desk", "automation")
            return json_response(await ch.service.library_item(request.path_params["key"]))

        @api.add("/api/fax/library/{key}", "PATCH", "Change a library document", tag="fax",
                 body=LibraryPatch, response=S.LibraryItem, access="automation")
        async def library_patch(request: Request) -> Response:
            await require(request, "automation")
            body = await parse_body(request, LibraryPatch)
            if body.document_id is not None and (await ch.service.get_row(body.document_id)).direction != "out":
                raise ValidationFailed("the library holds prepared outbound documents")
            return json_response(await ch.service.update_library(
                request.path_params["key"], body.model_dump(exclude_unset=True)))

        @api.add("/api/fax/library/{key}", "DELETE", "Remove a library document", tag="fax", response=S.Deleted,
                 access="automation")
        async def library_delete(request: Request) -> Response:
            await require(request, "automation")
            await ch.service.delete_library(request.path_params["key"])
            return json_response({"deleted": True})

        @api.add("/api/fax/library/{key}/send", "POST", "Fax a library document to a number",
                 tag="fax", body=LibrarySend, status=201, response=S.FaxJobs, access="desk")
        async def library_send(request: Request) -> Response:
            user = await require(request, "desk")
            body = await parse_body(request, LibrarySend)
            return json_response(await ch.service.send_library(request.path_params["key"], body.number,
                                                               user.id), status=201)

