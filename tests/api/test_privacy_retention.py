"""Retention on a manual clock (issue #16, item 13): the daily durable run erases what is older than
each setting after a conversation closed — all its content (``retention_conversations_days``), or
one part (message texts, transcripts, the raw ``.eml`` files …) — keeps what is newer, keeps
every row reports count, is audited and sets itself up for the next day; 0 keeps everything."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.clock import ManualClock
from hub.db import tables as t
from hub.security import new_id
from hub.services.privacy import DAY_S, ERASED_MARK, RETENTION_KEY
from tests.support.hub import InProcessHub, clocked_hub
from tests.support.postgres import free_port
from tests.support.wait import eventually
from voice.calls.transcript_tables import transcript_segments as t_seg

pytestmark = pytest.mark.storage

START = 1_790_000_000.0


async def clocked(tmp_path: Path, clock: ManualClock, database_url: str, **settings: Any) -> InProcessHub:
    return await clocked_hub(tmp_path / "data", clock, database_url, fax_enabled=False,
                             **{"email_enabled": "email_port" in settings, **settings})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def _closed_chat(hub: InProcessHub, words: str) -> tuple[str, Path]:
    """A chat with a customer's message and a file attached to it, closed now."""
    s = hub.services
    queue = (await s.directory.list_queues())[0]["id"]
    conv = await s.conversations.open(channel="chat", queue_id=queue, identity={"name": f"{words} person"},
                                      first_message=f"first: {words}", status="pending")

    async def chunks() -> AsyncIterator[bytes]:
        yield f"file: {words}".encode()

    att = await s.attachments.save("note.txt", "text/plain", chunks(), uploaded_by="customer",
                                   conversation_id=conv.id)
    await s.conversations.add_message(conv.id, sender="customer", body=f"second: {words}",
                                      attachment_ids=[att["id"]])
    await s.conversations.close(conv.id, by=None, reason="agent")
    return conv.id, s.attachments.path_for(att["id"])


async def _bodies(hub: InProcessHub, cid: str) -> list[str]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t.messages.c.body).where(t.messages.c.conversation_id == cid)
                                        .order_by(t.messages.c.created_at))).scalars())


async def _counts(hub: InProcessHub) -> tuple[Any, ...]:
    async with hub.services.db.read() as conn:
        convs = (await conn.execute(select(t.conversations.c.status, func.count()).group_by(
            t.conversations.c.status))).all()
        msgs = (await conn.execute(select(func.count()).select_from(t.messages))).scalar()
        events = (await conn.execute(select(t.events.c.type, func.count()).where(
            t.events.c.type.like("conversation.%")).group_by(t.events.c.type))).all()
    return sorted(map(tuple, convs)), msgs, sorted(map(tuple, events))


async def test_daily_run_erases_conversations_closed_before_the_setting_and_keeps_newer(
        tmp_path: Path, clock: ManualClock, database_url: str):
    hub = await clocked(tmp_path, clock, database_url, retention_conversations_days=30)
    try:
        s = hub.services
        old, old_file = await _closed_chat(hub, "oldest words")
        clock.advance(30 * DAY_S)
        new, new_file = await _closed_chat(hub, "newer words")
        clock.advance(11 * DAY_S)  # the old one closed 41 days ago, the new one 11
        counts = await _counts(hub)
        timer = await s.scheduler.find(RETENTION_KEY)
        assert timer is not None and timer["due_at"] <= clock.now()  # due since start-up
        assert await s.scheduler.run_due() == 1

        assert await _bodies(hub, old) == [ERASED_MARK, ERASED_MARK]
        assert await _bodies(hub, new) == ["first: newer words", "second: newer words"]
        await eventually(lambda: not old_file.exists(), what="the old attachment's file is removed")
        assert new_file.exists()
        async with s.db.read() as conn:
            events = (await conn.execute(select(t.events.c.data).where(t.events.c.conversation_id == old)
                                         )).scalars().all()
            atts = (await conn.execute(select(t.attachments.c.conversation_id))).scalars().all()
        assert "oldest" not in repr(events) and atts == [new]
        assert await _counts(hub) == counts  # every row reports count is still there
        admin = await hub.client("admin")
        runs = [e for e in await admin.ok("GET", "/api/audit") if e["type"] == "privacy.retention_applied"]
        assert [(e["data"]["rule"], e["data"]["conversations"]) for e in runs] == [("conversations", 1)]
        assert (await s.scheduler.find(RETENTION_KEY))["due_at"] == clock.now() + DAY_S

        clock.advance(DAY_S - 1)
        assert await s.scheduler.run_due() == 0  # daily, not sooner
        clock.advance(20 * DAY_S + 1)  # now the newer one is past 30 days too
        assert await s.scheduler.run_due() == 1
        assert await _bodies(hub, new) == [ERASED_MARK, ERASED_MARK]
        await eventually(lambda: not new_file.exists(), what="the newer attachment's file is removed")
        assert await _counts(hub) == counts
    finally:
        await hub.stop()


async def test_each_part_goes_after_its_own_setting(tmp_path: Path, clock: ManualClock, database_url: str):
    """Transcripts after 5 days, message texts after 10, attached files kept (no setting)."""
    hub = await clocked(tmp_path, clock, database_url, voice_transcript_retention_days=5,
                        retention_messages_days=10)
    try:
        s = hub.services
        cid, path = await _closed_chat(hub, "parted words")
        async with s.db.tx() as tx:  # a transcript line of the conversation, as the call service stores it
            await tx.conn.execute(t_seg.insert().values(
                id=new_id(), conversation_id=cid, call_id=new_id(), leg="caller", agent_id=None,
                text="parted words spoken", search_text="parted words spoken", start_s=0.0, end_s=1.0,
                started_at=START, ended_at=START, confidence=0.9, words="[]", late=False, created_at=START))

        async def segments() -> int:
            async with s.db.read() as conn:
                return int((await conn.execute(select(func.count()).select_from(t_seg))).scalar_one())

        clock.advance(6 * DAY_S)
        assert await s.scheduler.run_due() == 1
        assert await segments() == 0
        assert await _bodies(hub, cid) == ["first: parted words", "second: parted words"]
        clock.advance(5 * DAY_S)
        assert await s.scheduler.run_due() == 1
        assert await _bodies(hub, cid) == [ERASED_MARK, ERASED_MARK]
        assert path.exists()  # attachments have no setting here: kept
        admin = await hub.client("admin")
        runs = [e["data"]["rule"] for e in await admin.ok("GET", "/api/audit")
                if e["type"] == "privacy.retention_applied"]
        assert sorted(runs) == ["messages", "transcripts"]
    finally:
        await hub.stop()


def _send_mail(port: int, subject: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Retained Person <retained@example.org>", "support@localhost", subject
    msg.set_content("the body stays, the raw file goes")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


async def test_raw_email_retention_removes_only_the_eml_files(tmp_path: Path, clock: ManualClock,
                                                              database_url: str):
    port = free_port()
    hub = await clocked(tmp_path, clock, database_url, email_port=port, email_raw_retention_days=10)
    try:
        s = hub.services
        await asyncio.to_thread(_send_mail, port, "Meter reading")
        raw_dir = tmp_path / "data" / "email" / "raw"
        [raw] = await eventually(lambda: list(raw_dir.rglob("*.eml")))
        async with s.db.read() as conn:
            cid = (await conn.execute(select(t.conversations.c.id).where(
                t.conversations.c.channel == "email"))).scalar_one()
        await s.conversations.close(cid, by=None, reason="agent")
        clock.advance(9 * DAY_S)
        assert await s.scheduler.run_due() == 1  # the catch-up run: nothing is old enough yet
        assert raw.exists()
        clock.advance(2 * DAY_S)
        assert await s.scheduler.run_due() == 1
        await eventually(lambda: not raw.exists(), what="the .eml file is removed")
        assert await _bodies(hub, cid) == ["the body stays, the raw file goes"]
        supervisor = await hub.client("supervisor")
        detail = await supervisor.ok("GET", f"/api/conversations/{cid}")
        assert detail["subject"] == "Meter reading"
    finally:
        await hub.stop()


async def test_retention_zero_keeps_everything_and_sets_no_timer(tmp_path: Path, clock: ManualClock,
                                                                 database_url: str):
    hub = await clocked(tmp_path, clock, database_url)
    try:
        cid, path = await _closed_chat(hub, "kept words")
        assert await hub.services.scheduler.find(RETENTION_KEY) is None
        clock.advance(5000 * DAY_S)
        await hub.services.scheduler.run_due()
        assert await _bodies(hub, cid) == ["first: kept words", "second: kept words"] and path.exists()
    finally:
        await hub.stop()
