"""Which conversation an inbound mail belongs to, and whether it was sent by a machine.

Threading order (first match wins):
1. In-Reply-To, then References (nearest first): any stored Message-ID, ours (agent replies) or
   the customer's (earlier mails), finds its conversation.
2. A subject tag ``[#<conversation id>]`` (we put it in every reply), honoured only when the
   sender is the conversation's contact, so a guessed id cannot inject mail into a stranger's
   conversation.
3. Otherwise a new conversation.
A thread whose conversation is already closed starts a new conversation that points back to it
(``meta.email.previous_conversation``).

Loop protection (``auto_reason``): mail with ``Auto-Submitted`` other than ``no``, ``Precedence:
bulk|junk|list``, ``X-Autoreply``/``X-Autorespond``, a null or MAILER-DAEMON/postmaster sender,
a delivery report (``multipart/report``) or our own address as sender is stored like any other
mail, but a new conversation from it is created ``pending`` (never routed to an agent) and the
hub never answers it automatically (the channel sends no automatic mail at all; only agents'
replies leave)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from channels.email.parse import ParsedEmail, mid_hash

if TYPE_CHECKING:
    from channels.email.store import EmailStore
    from hub.services.conversations import ConversationService

TAG_RE = re.compile(r"\[#([A-Za-z0-9_-]{6,40})\]")
_PREFIX_RE = re.compile(r"^\s*((re|fw|fwd|aw|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_DAEMONS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "noreply-dmarc")


def subject_tag(cid: str) -> str:
    return f"[#{cid}]"


def tagged_conversation(subject: str) -> str | None:
    m = TAG_RE.search(subject or "")
    return m.group(1) if m else None


def clean_subject(subject: str) -> str:
    """The subject without reply prefixes or our tag (the conversation's subject)."""
    return " ".join(_PREFIX_RE.sub("", TAG_RE.sub("", subject or "")).split())


def reply_subject(subject: str | None, cid: str, no_subject: str = "Your message") -> str:
    """``Re: <subject> [#tag]``; ``no_subject`` (the text ``email.reply.no_subject`` in the
    conversation's language) when the conversation has none."""
    base = clean_subject(subject or "") or no_subject
    return f"Re: {base} {subject_tag(cid)}"


def auto_reason(mail: ParsedEmail, envelope_from: str | None, own_address: str) -> str | None:
    """Why this mail must never trigger routing or an automatic answer (None: a person wrote it)."""
    h = {k.lower(): v.strip().lower() for k, v in mail.headers.items()}
    auto = h.get("auto-submitted", "")
    if auto and auto.split(";")[0].strip() != "no":
        return f"auto-submitted: {auto[:40]}"
    if h.get("precedence", "") in ("bulk", "junk", "list"):
        return f"precedence: {h['precedence']}"
    if "x-autoreply" in h or "x-autorespond" in h:
        return "x-autoreply"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "null sender"
    sender = mail.from_addr.lower()
    if not sender:
        return "no sender"
    if sender.startswith(_DAEMONS):
        return "mailer-daemon"
    if own_address and sender == own_address.lower():
        return "own address"
    if mail.content_type == "multipart/report":
        return "delivery report"
    return None


async def find_conversation(conversations: ConversationService, emails: EmailStore,
                            mail: ParsedEmail, sender: str) -> tuple[str | None, str]:
    """(conversation id or None, how it was found: "reference", "subject_tag" or "new")."""
    hashes = [mid_hash(m) for m in mail.references_chain]
    if hashes:
        cid = await emails.thread_conversation(hashes)
        if cid:
            return cid, "reference"
    tagged = tagged_conversation(mail.subject)
    if tagged and sender:
        from hub.errors import NotFound

        try:
            row = await conversations.row(tagged)
        except NotFound:
            row = None
        if row is not None and row.channel == "email" and row.contact_id:
            contact = await conversations.contacts.get(row.contact_id)
            if (contact.get("email") or "").lower() == sender.lower():
                return row.id, "subject_tag"
    return None, "new"
