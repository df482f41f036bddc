"""The inbound SMTP listener (aiosmtpd) on the hub's own event loop.

Replies: ``550 5.1.1`` for a recipient we do not serve; ``552 5.3.4`` for a message over
``email_max_message_bytes`` (announced in EHLO ``SIZE``, checked on ``MAIL FROM SIZE=`` and while
DATA streams in, before anything is stored); ``250 2.0.0`` only after the mail, its attachments,
its conversation and message are committed; ``451 4.3.0`` when storing failed (the sender keeps
the mail and retries; a retry of a mail that was in fact stored is recognised and not stored
twice). With ``email_tls_certfile``/``email_tls_keyfile`` it offers STARTTLS, and with
``email_require_starttls`` takes no mail before it (``530 5.7.0``)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from channels.email.ingest import IngestResult

log = logging.getLogger(__name__)

Ingest = Callable[[bytes, str | None, list[str]], Awaitable[IngestResult]]


def accepts(recipient: str, accepted: tuple[str, ...]) -> bool:
    """``accepted`` holds full addresses and ``@domain`` entries (case-insensitive)."""
    addr = recipient.strip().strip("<>").lower()
    if "@" not in addr:
        return False
    domain = "@" + addr.rsplit("@", 1)[1]
    wanted = {a.strip().lower() for a in accepted}
    return addr in wanted or domain in wanted


class InboundHandler:
    """aiosmtpd handler: recipient policy and the store-then-answer DATA step."""

    def __init__(self, ingest: Ingest, accepted: tuple[str, ...], store_timeout_s: float = 60) -> None:
        self.ingest = ingest
        self.accepted = accepted
        self.store_timeout_s = store_timeout_s

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if not accepts(address, self.accepted):
            return "550 5.1.1 Recipient address rejected: we do not accept mail for it"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            async with asyncio.timeout(self.store_timeout_s):
                result = await self.ingest(bytes(raw), envelope.mail_from, list(envelope.rcpt_tos))
        except Exception:  # noqa: BLE001 - any failure to store: the sender must retry
            log.exception("could not store a mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure storing the message; please retry later"
        return f"250 2.0.0 OK stored in conversation {result.conversation_id}"


def make_smtp_factory(handler: InboundHandler, max_bytes: int, hostname: str, *,
                      tls_context: ssl.SSLContext | None = None,
                      require_starttls: bool = False) -> Callable[[], Any]:
    """A protocol factory for ``loop.create_server`` (aiosmtpd is imported only here). With
    ``tls_context`` the listener offers STARTTLS; ``require_starttls`` refuses every command but
    EHLO/HELO, STARTTLS, NOOP and QUIT before it (RFC 3207)."""
    try:
        from aiosmtpd.smtp import SMTP
    except ImportError as err:  # pragma: no cover - an installation problem
        raise RuntimeError("the email channel needs aiosmtpd: pip install aiosmtpd") from err

    class HubSMTP(SMTP):
        async def push(self, status: str) -> None:  # type: ignore[override]  # aiosmtpd pushes str statuses
            # aiosmtpd's size refusals carry no enhanced status code; ours do (RFC 3463).
            if status.startswith("552 Error"):
                status = f"552 5.3.4 Message size exceeds the fixed maximum of {max_bytes} bytes"
            elif status.startswith("530 Must issue a STARTTLS"):
                status = "530 5.7.0 Must issue a STARTTLS command first"
            await super().push(status)

    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return HubSMTP(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True,
                       decode_data=False, hostname=hostname, ident="contact-hub ESMTP",
                       timeout=120, tls_context=tls_context, require_starttls=require_starttls,
                       loop=loop)

    return factory
