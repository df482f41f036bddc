"""Agents' replies as email, sent with aiosmtplib through the configured relay.

Each reply is first recorded (``email_messages`` row through ``EmailStore``, direction ``out``,
status ``queued``) with
everything needed to send it: recipient, subject with the conversation tag, our Message-ID,
In-Reply-To/References chaining the customer's last mail, text and HTML bodies, attachments.
Delivery runs as an owned task and retries with exponential backoff; the outcome is stored
(``sent`` or ``failed``) and a final failure is written into the conversation as a system
message, so it is never silently lost. Queued rows left by a crash are sent on the next start;
an agent message whose row a crash prevented is recorded then by ``OutboundReplies``
(``hub/services/outbound_replies.py``, wired in ``adapter.py``)."""

from __future__ import annotations

import asyncio
import hashlib
import html as htmllib
import logging
import uuid
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from channels.email.parse import mid_hash
from channels.email.settings import EmailSettings
from channels.email.store import EmailStore
from channels.email.threading import reply_subject, subject_tag
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)


class DeliveryFailed(HubError):
    code, status, title = "email_delivery_failed", 502, "The email could not be delivered"


def _html_body(text: str) -> str:
    paragraphs = [htmllib.escape(p).replace("\n", "<br>") for p in text.split("\n\n")]
    inner = "".join(f"<p>{p}</p>" for p in paragraphs if p.strip())
    return f'<!doctype html><html><body style="font-family:sans-serif">{inner}</body></html>'


class EmailSender:
    def __init__(self, services: Services, emails: EmailStore) -> None:
        self.s = services
        self.emails = emails
        self.settings = services.settings.section(EmailSettings)
        self._tasks: set[asyncio.Task[None]] = set()
        self.domain = self.settings.domain or "localhost"

    def new_message_id(self) -> str:
        return f"<{uuid.uuid4().hex}@{self.domain}>"

    # --- recording ----------------------------------------------------------------------------
    async def queue_reply(self, msg: dict[str, Any], row: Any) -> None:
        """Record an agent's message in an email conversation and start its delivery, once per
        message: the row's unique ``dedupe_key`` is derived from ``out:<message id>``, so the live
        event and the start-up reconcile of ``OutboundReplies`` record it once (a repeat is a
        no-op). A reply with nobody to send it to raises ``DeliveryFailed`` (noted once by
        ``OutboundReplies``) and records nothing."""
        emails = self.emails
        if await emails.for_message(msg["id"]) is not None:
            return  # already recorded (an event seen twice, or sent with the email reply API)
        values = await self.reply_values(row, body=msg["body"], attachments=msg.get("attachments") or [],
                                         agent=msg.get("sender_name"), key=f"out:{msg['id']}")
        if not values["to_addrs"]:
            raise DeliveryFailed("the customer has no email address to reply to")
        try:
            await emails.record(row.id, msg["id"], values)
        except IntegrityError:
            if await emails.by_dedupe(values["dedupe_key"]) is not None:
                return  # recorded meanwhile by the other path; that one delivers it
            raise
        self.spawn(await emails.for_message(msg["id"]))

    async def reply_values(self, row: Any, *, body: str, attachments: list[dict[str, Any]],
                           agent: str | None, key: str, cc: list[str] | None = None,
                           subject: str | None = None, html: str | None = None) -> dict[str, Any]:
        """The ``email_messages`` row of a reply in conversation ``row``: recipient (the customer's
        Reply-To/From, else the contact's address), subject with the conversation tag, threading
        headers chaining the customer's last mail. ``subject`` (the agent's edit) keeps the tag."""
        conv = self.s.conversations
        thread = await self.emails.rows(row.id)
        inbound = [e for e in thread if e.direction == "in"]
        last_in = inbound[-1] if inbound else None
        to = ""
        if last_in is not None:
            to = (last_in.meta or {}).get("reply_to") or last_in.from_addr or ""
        if not to and row.contact_id:
            to = (await conv.contacts.get(row.contact_id)).get("email") or ""
        if not to:  # opened elsewhere with the address to answer (the widget's offline form)
            to = str((row.meta or {}).get("reply_to") or "")
        references: list[str] = []
        if last_in is not None:
            references = [*((last_in.meta or {}).get("references") or []), last_in.rfc_message_id][-20:]
        if subject and subject.strip():
            subject = " ".join(subject.split())[:280]
            if subject_tag(row.id) not in subject:
                subject = f"{subject} {subject_tag(row.id)}"
        else:
            subject = reply_subject(row.subject or (last_in.subject if last_in else None), row.id,
                                    await self.s.texts.render("email.reply.no_subject", row.language))
        message_id = self.new_message_id()
        return {
            "direction": "out", "rfc_message_id": message_id, "mid_hash": mid_hash(message_id),
            "dedupe_key": hashlib.sha256(key.encode()).hexdigest(),
            "subject": subject, "from_addr": self.settings.address, "to_addrs": [to] if to else [],
            "html": html or _html_body(body), "status": "queued",
            "meta": {"text": body, "in_reply_to": last_in.rfc_message_id if last_in else None,
                     "references": references, "attachments": attachments, "agent": agent,
                     "cc": list(cc or [])},
        }

    def spawn(self, email_row: Any) -> None:
        task = asyncio.create_task(self._deliver(email_row), name=f"email-send-{email_row.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume(self) -> None:
        """Deliver what a previous run queued but did not finish."""
        for email_row in await self.emails.outbound("queued"):
            self.spawn(email_row)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, within_s: float = 30) -> None:
        """Wait until every delivery in flight has finished (tests, shutdown)."""
        async with asyncio.timeout(within_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- sending ------------------------------------------------------------------------------
    def build(self, email_row: Any) -> EmailMessage:
        meta = email_row.meta or {}
        m = EmailMessage()
        m["From"] = formataddr((self.settings.display_name, self.settings.address))
        m["To"] = ", ".join(email_row.to_addrs)
        if meta.get("cc"):
            m["Cc"] = ", ".join(meta["cc"])
        m["Subject"] = email_row.subject
        m["Date"] = formatdate(localtime=False, usegmt=True)
        m["Message-ID"] = email_row.rfc_message_id
        if meta.get("in_reply_to"):
            m["In-Reply-To"] = meta["in_reply_to"]
        if meta.get("references"):
            m["References"] = " ".join(meta["references"])
        m["Auto-Submitted"] = "no"
        m.set_content(meta.get("text") or "")
        m.add_alternative(email_row.html or _html_body(meta.get("text") or ""), subtype="html")
        for att in meta.get("attachments") or []:
            path: Path = self.s.attachments.path_for(att["id"])
            data = path.read_bytes()
            maintype, _, subtype = (att.get("content_type") or "application/octet-stream").partition("/")
            m.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                             filename=att.get("filename") or "file")
        return m

    async def send_once(self, message: EmailMessage) -> None:
        try:
            import aiosmtplib
        except ImportError as err:  # pragma: no cover - an installation problem
            raise RuntimeError("the email channel needs aiosmtplib: pip install aiosmtplib") from err
        st = self.settings
        timeout = st.smtp_timeout_s
        async with asyncio.timeout(timeout * 2):
            await aiosmtplib.send(
                message, hostname=st.smtp_host, port=st.smtp_port,
                username=st.smtp_username or None, password=st.smtp_password or None,
                start_tls=st.smtp_starttls, use_tls=False, timeout=timeout)

    async def _deliver(self, email_row: Any) -> None:
        st, emails = self.settings, self.emails
        attempts, error = int(email_row.attempts or 0), ""
        try:
            if not email_row.to_addrs:
                raise DeliveryFailed("the customer has no email address to reply to")
            message = await asyncio.to_thread(self.build, email_row)
        except Exception as err:  # noqa: BLE001 - permanent: cannot even build the mail
            await self._failed(email_row, attempts, str(err))
            return
        while attempts < st.send_attempts:
            attempts += 1
            try:
                await self.send_once(message)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - network/SMTP errors: retry with backoff
                error = f"{type(err).__name__}: {err}"[:500]
                log.warning("email %s attempt %d failed: %s", email_row.rfc_message_id, attempts, error)
                await emails.update(email_row.id, attempts=attempts,
                                        meta={**(email_row.meta or {}), "last_error": error})
                if attempts < st.send_attempts:
                    await asyncio.sleep(st.retry_base_s * 2 ** (attempts - 1))
                continue
            await emails.update(email_row.id, status="sent", attempts=attempts)
            return
        await self._failed(email_row, attempts, error)

    async def _failed(self, email_row: Any, attempts: int, error: str) -> None:
        conv = self.s.conversations
        await self.emails.update(email_row.id, status="failed", attempts=attempts,
                                meta={**(email_row.meta or {}), "last_error": error})
        to = ", ".join(email_row.to_addrs) or "the customer"
        text = (f"The email reply to {to} could not be delivered after {attempts} attempt(s): "
                f"{error}")[:2000]
        try:
            await conv.add_message(email_row.conversation_id, sender="system", kind="system",
                                   body=text, sender_name="Email")
        except HubError:
            # a closed conversation takes notes only: still leave the failure on record
            await conv.add_message(email_row.conversation_id, sender="system", kind="note",
                                   body=text, sender_name="Email")
