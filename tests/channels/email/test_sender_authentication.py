"""Who really sent an inbound mail (issue #16, item 7): a Reply-To that differs from From is shown,
and SPF/DKIM/DMARC as the receiving relay recorded them in ``Authentication-Results`` (RFC 8601) —
only from a relay the hub trusts. Real MIME messages go in through the hub's SMTP listener by
smtplib."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from channels.email.authresults import AuthResults, trusted_results
from tests.channels.email.support import HUB_ADDRESS, channel, conversations_of
from tests.support.hub import ApiClient, InProcessHub, running_hub
from tests.support.postgres import free_port

TRUSTED = "mx.hub.example.com"


@pytest.fixture
async def hub(tmp_path: Path, database_url: str) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", database_url, email_port=free_port(),
                           email_address=HUB_ADDRESS, email_trusted_authserv_ids=TRUSTED) as h:
        yield h


async def _deliver(port: int, headers: list[tuple[str, str]], body: str) -> None:
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg, from_addr="bounce@example.com", to_addrs=[HUB_ADDRESS])

    await asyncio.to_thread(send)


async def _email_of(supervisor: ApiClient, subject: str) -> dict[str, Any]:
    conv = next(c for c in await conversations_of(supervisor) if c["subject"] == subject)
    detail = await supervisor.ok("GET", f"/api/conversations/{conv['id']}")
    return await supervisor.ok("GET", f"/api/email/messages/{detail['messages'][0]['id']}")


async def test_reply_to_elsewhere_and_a_trusted_relays_results_are_shown(hub):
    port = channel(hub).port
    await _deliver(port, [
        # the relay's own header comes first; the lower one came with the mail and claims more
        ("Authentication-Results", f"{TRUSTED}; spf=pass smtp.mailfrom=bank.example; "
                                   "dkim=fail (signature did not verify) header.d=bank.example; "
                                   "dmarc=fail header.from=bank.example"),
        ("Authentication-Results", f"{TRUSTED}; spf=pass; dkim=pass; dmarc=pass"),
        ("From", "Bank Support <help@bank.example>"), ("Reply-To", "collect@elsewhere.example"),
        ("To", HUB_ADDRESS), ("Subject", "Please pay now"), ("Message-ID", "<pay-1@bank.example>"),
    ], "Send the money to the new account.")
    supervisor = await hub.client("supervisor")
    view = await _email_of(supervisor, "Please pay now")
    assert view["from"] == "help@bank.example"
    assert view["reply_to"] == "collect@elsewhere.example" and view["reply_to_differs"] is True
    assert view["authentication"] == {"authserv_id": TRUSTED, "spf": "pass", "dkim": "fail",
                                      "dmarc": "fail"}


async def test_results_from_an_untrusted_relay_are_ignored(hub):
    port = channel(hub).port
    await _deliver(port, [
        ("Authentication-Results", "mx.attacker.example; spf=pass; dkim=pass; dmarc=pass"),
        ("From", "Zhang Wei <zhang.wei@example.com>"), ("Reply-To", "zhang.wei@example.com"),
        ("To", HUB_ADDRESS), ("Subject", "Meter reading"), ("Message-ID", "<m-1@example.com>"),
    ], "Reading: 12345")
    supervisor = await hub.client("supervisor")
    view = await _email_of(supervisor, "Meter reading")
    assert view["authentication"] is None
    assert view["reply_to"] == "zhang.wei@example.com" and view["reply_to_differs"] is False


def test_authentication_results_parse_comments_versions_and_several_signatures() -> None:
    res = AuthResults.parse("MX.Hub.Example.com 1; dkim=fail (bad (nested) sig) header.d=a.example;"
                            " dkim=pass header.d=b.example; spf=softfail (not allowed) smtp.mailfrom=x;"
                            " iprev=pass; dmarc=bogus")
    assert res.as_dict() == {"authserv_id": "mx.hub.example.com", "spf": "softfail", "dkim": "pass",
                             "dmarc": "none"}
    assert AuthResults.parse("relay.example; none").spf == "none"
    with pytest.raises(ValueError, match="authserv-id"):
        AuthResults.parse("; spf=pass")
    assert trusted_results(["relay.example; spf=pass"], []) is None
    assert trusted_results(["other; spf=fail", "relay.example; spf=pass"], ["relay.example"]).spf == "pass"  # type: ignore[union-attr]
