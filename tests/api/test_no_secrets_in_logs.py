"""No secret in the logs (issue #16, item 11): ``python server.py`` at log level info writes access
lines without the token of Kannel's get-url (or other credentials in query strings) and does not
log mail sessions (aiosmtpd's command lines: addresses, AUTH blobs)."""

from __future__ import annotations

import asyncio
import io
import logging
import logging.config
import secrets
import smtplib
from email.message import EmailMessage

import httpx
import pytest

from hub.logs import RedactSecrets, logging_config, redact
from tests.support.hub import HubProcess
from tests.support.postgres import free_port


@pytest.mark.parametrize(("line", "expected"), [
    ("GET /api/sms/kannel/inbound?token=s3cr3t&from=%2B861&text=PIN+4321 HTTP/1.1",
     "GET /api/sms/kannel/inbound?token=***&from=%2B861&text=*** HTTP/1.1"),
    ("https://x/cgi-bin/sendsms?username=hub&password=pa55&to=1&text=hi",
     "https://x/cgi-bin/sendsms?username=hub&password=***&to=1&text=***"),
    ("/socket.io/?EIO=4&transport=polling&sid=AbC-12_", "/socket.io/?EIO=4&transport=polling&sid=***"),
    ("/api/x?api_key=1&access_token=2&Signature=3&key=4&q=keep",
     "/api/x?api_key=***&access_token=***&Signature=***&key=***&q=keep"),
    ("/api/contacts?q=monkey&sort=name", "/api/contacts?q=monkey&sort=name"),
])
def test_secret_query_values_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_the_filter_redacts_arguments_of_any_type() -> None:
    class Url:  # like httpx.URL: formatted with %s
        def __str__(self) -> str:
            return "http://gw/send?password=pa55&to=1"

    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s %d",
                               ("GET", Url(), 202), None)
    assert RedactSecrets().filter(record)
    assert record.getMessage() == "HTTP Request: GET http://gw/send?password=***&to=1 202"


def test_the_server_config_redacts_on_the_access_logger_and_quiets_mail_sessions() -> None:
    """Whatever handler is added to the access logger sees redacted lines; mail.log at INFO is off."""
    stream = io.StringIO()
    root, access, mail = logging.getLogger(), logging.getLogger("uvicorn.access"), logging.getLogger("mail.log")
    saved = [(lg, lg.handlers[:], lg.filters[:], lg.level, lg.propagate) for lg in (root, access, mail)]
    try:
        logging.config.dictConfig(logging_config("info", stream="ext://sys.stderr"))
        extra = logging.StreamHandler(stream)
        access.addHandler(extra)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/api/sms/kannel/dlr?token=T0K&id=1",
                    "1.1", 200)
        mail.info("%r >> %r", ("127.0.0.1", 1), b"MAIL FROM:<someone@example.org>")
        assert "token=***" in stream.getvalue() and "T0K" not in stream.getvalue()
        assert not mail.isEnabledFor(logging.INFO) and mail.isEnabledFor(logging.WARNING)
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    finally:
        for lg, handlers, filters, level, propagate in saved:
            lg.handlers[:], lg.filters[:] = handlers, filters
            lg.setLevel(level)
            lg.propagate = propagate
        for name in ("mail.log", "aioimaplib", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _send_mail(port: int, sender: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@localhost", subject
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


async def test_server_log_at_info_has_no_query_token_and_no_mail_session(tmp_path):
    token = "kannel-" + secrets.token_hex(8)
    smtp_port = free_port()
    server = HubProcess(tmp_path / "data", env={
        "HUB_LOG_LEVEL": "info", "HUB_SMS_INBOUND_TOKEN": token, "HUB_EMAIL_PORT": str(smtp_port),
        "HUB_KB_ENABLED": "0"})
    await asyncio.to_thread(server.start)
    sender, subject, body = "private.person@example.org", "Account 99887766", "my password is hunter2"
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            r = await http.get("/api/sms/kannel/inbound", params={
                "token": token, "from": "+8613800001111", "to": "95007", "text": "PIN 4321", "id": "m1"})
            assert r.status_code < 300, r.text
            r = await http.get("/api/sms/kannel/dlr", params={"token": token, "id": "nope", "type": "1"})
            assert r.status_code < 500, r.text
        await asyncio.to_thread(_send_mail, smtp_port, sender, subject, body)
    finally:
        await asyncio.to_thread(server.stop)
    log = server.log.read_text()
    assert "GET /api/sms/kannel/inbound?token=***" in log, log[-3000:]  # the access log is on
    assert token not in log and "4321" not in log
    for private in (sender, "private.person", "99887766", "hunter2"):
        assert private not in log, log[-3000:]
