"""An accepted erasure is not lost for a component that was off (issue #16, item 13): the email
channel held a customer's mail, was turned off, the customer was erased; when the channel is
turned on again its consumer of the erasure events replays the erasure and removes its part (the
mail record's texts and the raw ``.eml`` file)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.email.tables import email_messages
from tests.api.helpers import agent_desk
from tests.support.hub import running_hub
from tests.support.postgres import free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.storage

SENDER = "Ottoline Offwhile <ottoline@catch-up.example>"


def _send_mail(port: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, "support@localhost", "Ottoline's meter"
    msg.set_content("Ottoline Offwhile lives at 9 Dormant Road")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


async def test_a_component_off_during_the_erasure_erases_its_part_when_it_is_back(tmp_path: Path,
                                                                                 database_url: str):
    data = tmp_path / "data"
    port = free_port()
    settings = {"kb_enabled": False, "sms_enabled": False, "fax_enabled": False}
    async with running_hub(data, database_url, email_port=port, **settings) as hub:
        admin = await hub.client("admin")
        await asyncio.to_thread(_send_mail, port)
        found = await eventually(lambda: admin.ok("GET", "/api/contacts?q=ottoline"),
                                 until=lambda page: page["total"] == 1)
        pid = found["items"][0]["id"]
        [raw] = await eventually(lambda: list((data / "email" / "raw").rglob("*.eml")))
        [conv] = await admin.ok("GET", f"/api/contacts/{pid}/conversations")
        agent, desk = await agent_desk(hub, "agent1")  # served and closed: then it may be erased
        await desk.wait("offer", lambda d: d["conversation"]["id"] == conv["id"])
        await agent.ok("POST", f"/api/conversations/{conv['id']}/accept")
        await agent.ok("POST", f"/api/conversations/{conv['id']}/close", {"disposition": "resolved"})
        await desk.close()

    async with running_hub(data, database_url, email_enabled=False, **settings) as hub:
        admin = await hub.client("admin")
        erased = await admin.ok("POST", f"/api/contacts/{pid}/erase", {"confirm": True})
        assert "email" not in erased["holders"] and erased["conversations"] == 1
        assert raw.exists()  # nobody running knew the file

    async with running_hub(data, database_url, email_port=port, **settings) as hub:
        await eventually(lambda: not raw.exists(), what="the .eml file is removed once email is back")
        async with hub.services.db.read() as conn:
            row = (await conn.execute(select(email_messages))).one()
        assert row.subject is None and row.from_addr is None and row.html is None and row.to_addrs == []
        assert "raw_path" not in row.meta and "ottoline" not in repr(row.meta).lower()
        admin = await hub.client("admin")
        caught = [e for e in await admin.ok("GET", "/api/audit") if e["type"] == "privacy.caught_up"]
        assert [e["data"]["holder"] for e in caught] == ["email"]
