"""STARTTLS on the inbound SMTP listener (issue #16, item 9): with a certificate configured the
hub offers STARTTLS; a sending server (Python's smtplib, trusting the CA that signed the hub's
certificate) switches to TLS and delivers a mail that becomes a conversation. With
``email_require_starttls`` a sender that stays in plain text is refused before it hands over
anything. Certificates are made in the test (tests/support/certs.py)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bootstrap import load_settings
from hub.errors import ConfigError
from tests.channels.email.support import HUB_ADDRESS, channel, conversations_of
from tests.support.certs import Certificates, make_certificates
from tests.support.hub import InProcessHub, running_hub
from tests.support.postgres import free_port
from tests.support.wait import eventually


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "tls")


@pytest.fixture
async def hub(tmp_path: Path, certs: Certificates) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", email_port=free_port(), email_address=HUB_ADDRESS,
                           email_tls_certfile=str(certs.cert), email_tls_keyfile=str(certs.key),
                           email_require_starttls=True) as h:
        yield h


def mail(subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = '"Zhang Wei" <zhang.wei@example.com>'
    m["To"] = HUB_ADDRESS
    m["Subject"] = subject
    m.set_content("The meter shows E3 again, sent over an encrypted connection.")
    return m


def send_over_starttls(port: int, context: ssl.SSLContext, message: EmailMessage) -> tuple[str, str]:
    """A sending server's session: EHLO, STARTTLS, EHLO again, the mail. Returns the TLS version
    and the reply to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.example.com", timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls"), smtp.esmtp_features
        code, _ = smtp.starttls(context=context)
        assert code == 220
        smtp.ehlo()
        assert isinstance(smtp.sock, ssl.SSLSocket)
        version = smtp.sock.version() or ""
        smtp.mail("zhang.wei@example.com")
        smtp.rcpt(HUB_ADDRESS)
        code, reply = smtp.data(message.as_bytes())
        assert code == 250, reply
        return version, reply.decode()


def send_in_plain_text(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.example.com", timeout=10) as smtp:
        smtp.sendmail("zhang.wei@example.com", [HUB_ADDRESS], message.as_bytes())


async def test_a_mail_sent_over_starttls_reaches_the_hub(hub: InProcessHub, certs: Certificates) -> None:
    port = channel(hub).port
    version, reply = await asyncio.to_thread(send_over_starttls, port, certs.client_context(),
                                             mail("Meter E3 over TLS"))
    assert version in ("TLSv1.2", "TLSv1.3") and reply.startswith("2.0.0 OK stored")
    supervisor = await hub.client("supervisor")

    async def arrived() -> list[dict[str, object]]:
        return [c for c in await conversations_of(supervisor) if c.get("subject") == "Meter E3 over TLS"]

    [conversation] = await eventually(arrived)
    assert conversation["channel"] == "email"


async def test_a_sender_that_does_not_switch_to_tls_is_refused(hub: InProcessHub, certs: Certificates) -> None:
    port = channel(hub).port
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await asyncio.to_thread(send_in_plain_text, port, mail("In plain text"))
    assert refused.value.smtp_code == 530 and b"5.7.0" in refused.value.smtp_error
    # a sender that does not trust the certificate cannot switch either (and sends nothing)
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(send_over_starttls, port, ssl.create_default_context(), mail("Untrusted"))
    supervisor = await hub.client("supervisor")
    assert await conversations_of(supervisor) == []


def test_require_starttls_needs_a_certificate(certs: Certificates) -> None:
    with pytest.raises(ConfigError, match="'email_require_starttls' needs 'email_tls_certfile'"):
        load_settings(environ={"HUB_EMAIL_REQUIRE_STARTTLS": "1"})
    with pytest.raises(ConfigError, match="'email_tls_certfile' and 'email_tls_keyfile' go together"):
        load_settings(environ={"HUB_EMAIL_TLS_KEYFILE": str(certs.key)})
