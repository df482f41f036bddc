"""The email channel: inbound SMTP listener, threading into conversations, agents' replies out.

Talks to the hub only through its services and events (``Channel`` protocol of ``hub.app``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

import channels.email.schemas as S
import channels.email.texts as texts
from channels.email.api import register_routes
from channels.email.bulk import TIMER_KIND, BulkEmailService
from channels.email.imap import ImapPoller, parse_mailbox
from channels.email.inbound import InboundHandler, make_smtp_factory
from channels.email.ingest import EmailIngestor, IngestResult
from channels.email.outbound import EmailSender
from channels.email.parse import parse_message
from channels.email.privacy import EmailPersonalData
from channels.email.sanitize import sanitise_html
from channels.email.settings import EmailSettings
from channels.email.store import EmailStore
from channels.email.templates import TemplateService
from hub.api.http import Api, current_user, json_response, parse_query
from hub.config import server_tls_context
from hub.errors import NotFound
from hub.services.outbound_replies import OutboundReplies

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)


class EmailViewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remote_images: bool = False


class EmailChannel:
    name = "email"
    provides: tuple[str, ...] = ("email",)
    uses: tuple[str, ...] = ()
    # the ingestor asks the fax channel's intake per mail: no start order (fax uses email)
    uses_later: tuple[str, ...] = ("fax_intake",)

    def __init__(self) -> None:
        self._services: Services | None = None
        self.ingestor: EmailIngestor | None = None
        self.sender: EmailSender | None = None
        self._server: asyncio.base_events.Server | None = None
        self.port: int | None = None  # the bound inbound SMTP port (None: no listener)
        self.imap: ImapPoller | None = None
        self._templates: TemplateService | None = None
        self._bulk: BulkEmailService | None = None
        self._emails: EmailStore | None = None
        self.replies: OutboundReplies | None = None

    @property
    def services(self) -> Services:
        assert self._services is not None, "the email channel is not started"
        return self._services

    @property
    def templates_svc(self) -> TemplateService:
        assert self._templates is not None, "the email channel is not started"
        return self._templates

    @property
    def emails(self) -> EmailStore:
        """The channel's email records (``email_messages``)."""
        assert self._emails is not None, "the email channel is not started"
        return self._emails

    @property
    def bulk(self) -> BulkEmailService:
        assert self._bulk is not None, "the email channel is not started"
        return self._bulk

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        """Agents use the common conversation API; this adds the email view of a message."""
        ch = self

        @api.add("/api/email/messages/{message_id}", "GET",
                 "The email behind a message: headers, sanitised HTML, delivery state",
                 tag="email", query=EmailViewQuery, response=S.EmailView, access="desk|supervise")
        async def email_view(request: Request) -> Response:
            user = await current_user(request)
            q = parse_query(request, EmailViewQuery)
            conv = ch.services.conversations
            row = await ch.emails.for_message(request.path_params["message_id"])
            if row is None:
                raise NotFound("this message did not come or go by email")
            conv.require_view(user, await conv.row(row.conversation_id))
            return json_response(await ch._email_view(row, q.remote_images))

        register_routes(api, self)

    def accepted_recipients(self) -> tuple[str, ...]:
        st = self.services.settings.section(EmailSettings)
        return st.accept_recipients or ("@" + st.domain,)

    async def start(self, services: Services) -> None:
        self._services = services
        services.texts.register(texts.catalogue())  # what a customer reads in the channel's mail
        st = services.settings.section(EmailSettings)
        mailboxes = [parse_mailbox(url) for url in st.imap_mailboxes]  # ConfigError if bad
        self._emails = EmailStore(services.db, services.clock)
        self.ingestor = EmailIngestor(services, self._emails)
        self.sender = EmailSender(services, self._emails)
        self._templates = TemplateService(services)
        self._bulk = BulkEmailService(services, self.sender, self._templates)
        self._bulk.emit_progress = self._emit_bulk
        services.ports.email = self
        services.scheduler.on(TIMER_KIND, self._bulk.on_timer)
        await self.sender.resume()
        # an agent's reply in an email conversation goes out as a threaded email: live from the
        # message event, and recovered on start (exactly once)
        self.replies = OutboundReplies(services, "email", label="Email", recorded=self._emails.reply_recorded,
                                       send=self.sender.queue_reply,
                                       unsent_text="This reply was not sent by email: {detail}")
        self.replies.start()
        self._bulk.start()  # resumes running jobs
        services.privacy.register(EmailPersonalData(services))  # exports, erasure, retention
        if st.port:
            handler = InboundHandler(self._ingest, self.accepted_recipients())
            tls = server_tls_context(st.tls_certfile, st.tls_keyfile) if st.tls_certfile else None
            factory = make_smtp_factory(handler, st.max_message_bytes, st.domain, tls_context=tls,
                                        require_starttls=st.require_starttls)
            try:
                self._server = await asyncio.get_running_loop().create_server(
                    factory, host=st.host, port=st.port)
            except OSError as err:
                # The hub serves every other channel without it; say so loudly.
                log.error("email: cannot listen for SMTP on %s:%s (%s); inbound email is OFF",
                          st.host, st.port, err)
            else:
                self.port = self._server.sockets[0].getsockname()[1]
                log.info("email: SMTP listener on %s:%s", st.host, self.port)
        if mailboxes:
            self.imap = ImapPoller(services.kv, self._ingest, mailboxes, interval_s=st.imap_poll_s,
                                   timeout_s=st.imap_timeout_s,
                                   max_message_bytes=st.max_message_bytes)
            self.imap.start()

    async def _email_view(self, row: Any, remote_images: bool) -> dict[str, Any]:
        meta = dict(row.meta or {})
        html, shown = row.html, False
        if remote_images and row.direction == "in" and meta.get("remote_images") and meta.get("raw_path"):
            # The agent consented to remote content: sanitise the original again, keeping
            # remote images (everything else stays removed).
            raw = await asyncio.to_thread(Path(meta["raw_path"]).read_bytes)
            mail = parse_message(raw)
            if mail.html:
                html = sanitise_html(mail.html, meta.get("cid_urls") or {}, allow_remote=True).html
                shown = True
        return {
            "message_id": row.message_id, "conversation_id": row.conversation_id,
            "direction": row.direction, "rfc_message_id": row.rfc_message_id,
            "subject": row.subject, "from": row.from_addr, "to": row.to_addrs,
            "reply_to": meta.get("reply_to") or None,
            # a Reply-To elsewhere than From: replies would go to someone else (marked in the desk)
            "reply_to_differs": bool(meta.get("reply_to")) and meta.get("reply_to") != row.from_addr,
            "authentication": meta.get("auth"),
            "cc": meta.get("cc") or [], "date": meta.get("date"), "html": html,
            "remote_images": meta.get("remote_images") or [], "remote_images_shown": shown,
            "auto": meta.get("auto"), "status": row.status, "attempts": row.attempts,
            "last_error": meta.get("last_error"),
            "quarantined": meta.get("quarantined") or [],
        }

    @property
    def address(self) -> str:
        return self.services.settings.section(EmailSettings).address

    @property
    def send_attempts(self) -> int:
        return self.services.settings.section(EmailSettings).send_attempts

    @property
    def retry_base_s(self) -> float:
        return self.services.settings.section(EmailSettings).retry_base_s

    async def send_mail(self, message: Any) -> None:
        """Send one ready-made ``EmailMessage`` through the configured relay (other channels use
        this, e.g. email-to-fax); raises on failure, the caller retries."""
        assert self.sender is not None, "the email channel is not started"
        await self.sender.send_once(message)

    async def _ingest(self, raw: bytes, mail_from: str | None, rcpt: list[str]) -> IngestResult:
        assert self.ingestor is not None
        return await self.ingestor.ingest(raw, mail_from, rcpt)

    async def stop(self) -> None:
        if self.imap is not None:
            await self.imap.stop()
            self.imap = None
        if self.replies is not None:
            await self.replies.stop()
        if self._server is not None:
            self._server.close()
            # in-flight SMTP sessions are closed by the server; do not wait on idle clients
            self._server = None
        if self._bulk is not None:
            await self._bulk.stop()
        if self.sender is not None:
            await self.sender.stop()
        self._services = None

    async def _emit_bulk(self, job: dict[str, Any]) -> None:
        await self.services.push.to_supervisors("email_bulk", job, also=[job.get("created_by")])
