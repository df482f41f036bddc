"""Storing one inbound mail: raw copy, attachments, conversation and message, then routing.

``EmailIngestor.ingest`` returns only after everything is committed (the SMTP listener answers
``250`` after it); any exception means nothing the agent can see was stored and the sender is told
to retry. A re-delivered mail (same Message-ID and body) is recognised and not stored twice."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Insert

from channels.email.authresults import trusted_results
from channels.email.parse import OCTET, ParsedEmail, Part, html_to_text, mid_hash, parse_message
from channels.email.safety import Limits, inspect_part, needs_inspection
from channels.email.sanitize import sanitise_html
from channels.email.settings import EmailSettings, raw_dir
from channels.email.store import DuplicateEmail, EmailStore
from channels.email.threading import auto_reason, clean_subject, find_conversation
from hub.errors import InvalidState, UnsupportedMediaType, ValidationFailed
from hub.security import new_id
from hub.services.attachments import AttachmentStore
from hub.services.conversations import MAX_BODY

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

EMPTY_BODY = "(no text)"
TRUNCATED = "\n\n[… the message is longer; the full text is in the original email]"


@dataclass(frozen=True)
class IngestResult:
    conversation_id: str
    message_id: str | None
    how: str            # "new", "reference", "subject_tag", "reopened", "duplicate"
    auto: str | None    # loop-protection reason, if any
    routed: bool


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _write_raw(root: Path, raw: bytes) -> Path:
    digest = hashlib.sha256(raw).hexdigest()
    dest = root / digest[:2] / f"{digest}.eml"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".raw-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


class EmailIngestor:
    def __init__(self, services: Services, emails: EmailStore) -> None:
        self.s = services
        self.emails = emails
        st = services.settings.section(EmailSettings)
        # Email has its own list of accepted types (wider than chat uploads) and size limit; any
        # other part is stored as application/octet-stream, never dropped.
        self.store = AttachmentStore(services.db, services.clock, services.settings.attachments_dir,
                                     st.max_message_bytes, tuple(st.attachment_types))
        self.limits = Limits(max_ratio=st.zip_max_ratio,
                             max_uncompressed=st.zip_max_uncompressed_bytes,
                             max_entries=st.zip_max_entries, max_depth=st.zip_max_depth,
                             max_pixels=st.image_max_pixels)

    async def _queue_id(self) -> str:
        st = self.s.settings
        queues = await self.s.directory.list_queues()
        ids = [q["id"] for q in queues]
        for wanted in (st.section(EmailSettings).queue, st.widget_default_queue):
            if wanted and wanted in ids:
                return wanted
        if not ids:
            raise InvalidState("no queue is configured")
        return ids[0]

    async def _save_part(self, part: Part, cid: str | None, uploaded_by: str
                         ) -> tuple[dict[str, Any], Insert] | None:
        """The part's file on disk and its row's insert, stored later with the message."""
        ctype = part.content_type if part.content_type in self.store.allowed_types else OCTET
        for attempt_type in dict.fromkeys((ctype, OCTET)):
            try:
                return await self.store.write_file(part.filename, attempt_type, _chunks(part.data),
                                                   uploaded_by, conversation_id=cid)
            except UnsupportedMediaType:
                continue  # content does not match the declared type: keep it as opaque bytes
            except ValidationFailed as err:
                if not part.data:
                    return None  # an empty part carries nothing to keep
                raise err
        return None

    async def ingest(self, raw: bytes, envelope_from: str | None = None,
                     recipients: list[str] | None = None) -> IngestResult:
        s, st = self.s, self.s.settings.section(EmailSettings)
        raw_path = await asyncio.to_thread(_write_raw, raw_dir(self.s.settings), raw)
        mail = parse_message(raw)
        # Another channel may take this mail over (fax-to-email: mail from a fax gateway becomes
        # a fax conversation); the hook returns its conversation id, or None to keep it as email.
        intake = s.ports.fax_intake
        if intake is not None and (taken := await intake(mail, envelope_from)) is not None:
            return IngestResult(taken, None, "fax", None, True)
        dedupe = hashlib.sha256(f"{mail.message_id}\n{mail.body_digest}".encode(
            "utf-8", "surrogateescape")).hexdigest()
        # A re-delivery is caught by the unique dedupe key when the message is inserted (its
        # attachments' rows go in that transaction too, so nothing is stored twice).
        auto = auto_reason(mail, envelope_from, st.address)
        cid, how = await find_conversation(s.conversations, self.emails, mail, mail.from_addr)
        saved: list[dict[str, Any]] = []
        try:
            return await self._store(mail, raw_path, dedupe, envelope_from, recipients, cid, how,
                                     auto, saved)
        except BaseException:
            await self._discard(saved)
            raise

    async def _discard(self, saved: list[dict[str, Any]]) -> None:
        """Nothing half-stored: remove the attachments of a mail that could not be stored (their
        files; rows only go in with the message, but a row left by an earlier run goes too)."""
        if not saved:
            return
        try:
            gone = await self.s.conversations.discard_unlinked_attachments([a["id"] for a in saved])
        except Exception:  # noqa: BLE001 - the database is what failed; leave them orphaned
            log.warning("email: could not discard %d orphaned attachments", len(saved))
            return
        for aid in gone:
            self.store.path_for(aid).unlink(missing_ok=True)

    async def _store(self, mail: ParsedEmail, raw_path: Path, dedupe: str,
                     envelope_from: str | None, recipients: list[str] | None, cid: str | None,
                     how: str, auto: str | None, saved: list[dict[str, Any]]) -> IngestResult:
        s = self.s
        sender = mail.reply_to or mail.from_addr
        uploaded_by = f"email:{dedupe[:16]}"
        cid_urls: dict[str, str] = {}
        quarantined: list[dict[str, Any]] = []
        attachment_rows: list[Insert] = []  # stored in the message's transaction
        for part in mail.parts:
            # zip bombs, decompression-bomb images: kept, quarantined (safety.py says why)
            reason = None if part.undecodable or not needs_inspection(part.data, part.content_type) \
                else await asyncio.to_thread(inspect_part, part.data, part.filename,
                                             part.content_type, self.limits)
            if reason is not None:
                part = replace(part, content_type=OCTET)
            # no conversation on the row: the message's transaction links it to its conversation
            written = await self._save_part(part, None, uploaded_by)
            if written is None:
                continue
            att, insert = written
            saved.append(att)
            attachment_rows.append(insert)
            if reason is not None:
                log.warning("email %s: attachment %r quarantined: %s", mail.message_id,
                            part.filename, reason)
                quarantined.append({"attachment_id": att["id"], "filename": att["filename"],
                                    **reason.public()})
                continue
            if part.content_id:
                cid_urls[part.content_id.strip("<>")] = f"/api/attachments/{att['id']}"
        safe = sanitise_html(mail.html, cid_urls) if mail.html else None
        body = _body_text(mail)
        checked = trusted_results(mail.auth_results, s.settings.section(EmailSettings).trusted_authserv_ids)
        auth = checked.as_dict() if checked is not None else None
        email_row = {
            "direction": "in", "rfc_message_id": mail.message_id, "mid_hash": mid_hash(mail.message_id),
            "dedupe_key": dedupe, "subject": mail.subject, "from_addr": mail.from_addr or None,
            "to_addrs": recipients or mail.to, "html": safe.html if safe else None,
            "status": "received",
            "meta": {"raw_path": str(raw_path), "reply_to": mail.reply_to, "auth": auth, "cc": mail.cc,
                     "date": mail.date, "in_reply_to": mail.in_reply_to,
                     "references": mail.references, "envelope_from": envelope_from,
                     "auto": auto, "remote_images": safe.remote_images if safe else [],
                     "cid_urls": cid_urls, "quarantined": quarantined,
                     "parser": mail.parser, "defects": mail.defects,
                     "message_id_synthesised": mail.message_id_synthesised,
                     "undecodable_parts": sum(p.undecodable for p in mail.parts)},
        }
        ids = [a["id"] for a in saved] or None
        # the email row is written in the message's transaction; a re-delivery conflicts on its
        # dedupe key (DuplicateEmail) and is answered with the stored message
        previous = None
        try:
            async with self.emails.deduplicated(email_row):
                if cid is not None:
                    try:
                        msg = await s.conversations.add_message(
                            cid, sender="customer", body=body, attachment_ids=ids,
                            sender_name=mail.from_name or None, attachment_rows=attachment_rows,
                            extra_rows=self.emails.rows_for(cid, email_row))
                        return IngestResult(cid, msg["id"], how, auto, False)
                    except InvalidState:
                        # the thread's conversation is closed: a new one points back to it
                        previous, how = cid, "reopened"
                name = mail.from_name or (sender.split("@")[0] if sender else "") or "Unknown sender"
                identity = {"name": name[:200], "email": sender or None}
                try:
                    await s.contacts.validate({k: v for k, v in identity.items() if v}, partial=False)
                except ValidationFailed:
                    identity["email"] = None  # keep the mail; the address is in the email record
                new_cid = new_id()
                row = await s.conversations.open(
                    channel="email", queue_id=await self._queue_id(), identity=identity,
                    subject=clean_subject(mail.subject)[:300] or None, first_message=body,
                    status="pending" if auto else "queued", attachment_ids=ids,
                    conversation_id=new_cid, extra_rows=self.emails.rows_for(new_cid, email_row),
                    attachment_rows=attachment_rows,
                    meta={"email": {"from": mail.from_addr, "reply_to": mail.reply_to, "auth": auth,
                                    "auto": auto, "previous_conversation": previous}})
        except DuplicateEmail:
            await self._discard(saved)
            dup = await self.emails.by_dedupe(dedupe)
            assert dup is not None
            return IngestResult(dup.conversation_id, dup.message_id, "duplicate", None, False)
        routed = False
        if not auto:
            try:
                await s.routing.enqueue(row)
                routed = True
            except Exception:  # noqa: BLE001 - stored and queued: the ACD picks it up on restart
                log.exception("email conversation %s stored but not routed", row.id)
        return IngestResult(row.id, None, how, auto, routed)


def _body_text(mail: ParsedEmail) -> str:
    text = mail.text.strip()
    if not text and mail.html:
        text = html_to_text(mail.html)
    text = text.replace("\x00", "")
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - len(TRUNCATED)] + TRUNCATED
    return text or EMPTY_BODY
