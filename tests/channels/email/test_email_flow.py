"""Email end to end: swaks → the hub's SMTP port → threaded conversation routed by the ACD →
the agent's reply reaches a real SMTP server (aiosmtpd relay) with threading headers."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import text

from channels.email.settings import raw_dir as email_raw_dir
from tests.api.helpers import agent_desk
from tests.channels.email.support import HUB_ADDRESS, channel, conversations_of, swaks

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_plain_mail_is_routed_to_a_ready_agent_and_the_reply_is_threaded_both_ways(hub, relay):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    first = await swaks(port, "--header", "Subject: Gas meter shows E3",
                        "--header", "Message-Id: <first-001@customer.example.com>",
                        "--h-From", '"Zhang Wei" <zhang.wei@example.com>',
                        "--body", "My gas meter shows an error E3 since this morning.")
    assert first.accepted, first.output

    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    cid = offer["conversation"]["id"]
    assert offer["conversation"]["subject"] == "Gas meter shows E3"
    assert offer["conversation"]["contact"]["name"] == "Zhang Wei"

    # the customer writes again, answering their own first mail: same conversation
    second = await swaks(port, "--header", "Subject: Re: Gas meter shows E3",
                         "--header", "Message-Id: <second-002@customer.example.com>",
                         "--header", "In-Reply-To: <first-001@customer.example.com>",
                         "--header", "References: <first-001@customer.example.com>",
                         "--body", "It now also shows E4.")
    assert second.accepted, second.output
    detail = await agent.ok("POST", f"/api/conversations/{cid}/accept")
    customer_msgs = [m for m in detail["messages"] if m["sender"] == "customer"]
    assert [m["body"] for m in customer_msgs] == [
        "My gas meter shows an error E3 since this morning.", "It now also shows E4."]
    assert len(await conversations_of(agent, view="mine")) == 1

    await agent.ok("POST", f"/api/conversations/{cid}/messages",
                   {"body": "Hello Zhang Wei,\n\nplease reset the meter."}, status=201)
    [sent] = await relay.wait(1)
    assert sent["To"] == "zhang.wei@example.com"
    assert HUB_ADDRESS in sent["From"]
    assert sent["Subject"] == f"Re: Gas meter shows E3 [#{cid}]"
    assert sent["In-Reply-To"] == "<second-002@customer.example.com>"
    assert sent["References"].split() == ["<first-001@customer.example.com>",
                                          "<second-002@customer.example.com>"]
    our_id = sent["Message-ID"]
    assert our_id.endswith("@hub.example.com>")
    assert sent.get_body(("plain",)).get_content().strip().startswith("Hello Zhang Wei,")
    assert "please reset the meter." in sent.get_body(("html",)).get_content()

    # the customer's mail client answers our reply: threaded by our Message-ID
    third = await swaks(port, "--header", f"Subject: {sent['Subject']}",
                        "--header", f"In-Reply-To: {our_id}",
                        "--body", "Thanks, that worked.")
    assert third.accepted, third.output
    seen = await desk.wait("message", lambda d: d["body"] == "Thanks, that worked.", timeout=10)
    assert seen["conversation_id"] == cid
    everything = await conversations_of(await hub.client("supervisor"))
    assert [c["id"] for c in everything] == [cid]
    await desk.close()


async def test_subject_tag_threads_only_for_the_conversations_own_contact(hub, relay):
    port = channel(hub).port
    supervisor = await hub.client("supervisor")
    r = await swaks(port, "--header", "Subject: Billing question", "--body", "Why so high?")
    assert r.accepted, r.output
    [conv] = await conversations_of(supervisor)
    tag = f"[#{conv['id']}]"
    same = await swaks(port, "--header", f"Subject: Re: Billing question {tag}", "--body", "Any news?")
    stranger = await swaks(port, "--header", f"Subject: Re: Billing question {tag}",
                           "--body", "Let me in", sender="mallory@example.net")
    assert same.accepted and stranger.accepted
    convs = await conversations_of(supervisor)
    assert len(convs) == 2
    detail = await supervisor.ok("GET", f"/api/conversations/{conv['id']}")
    assert [m["body"] for m in detail["messages"]] == ["Why so high?", "Any news?"]


async def test_html_mail_is_sanitised_before_an_agent_sees_it(hub):
    port = channel(hub).port
    html = ('<html><body><p onclick="steal()">Dear team,</p><script>alert("x")</script>'
            '<iframe src="https://evil.example/"></iframe><form action="https://evil.example">'
            '<input name="pw"></form><img src="https://tracker.example/pixel.gif" alt="logo">'
            '<p style="background:url(https://evil.example/bg)">my <b>invoice</b> is wrong</p>'
            '</body></html>')
    r = await swaks(port, "--header", "Subject: Invoice", "--attach-type", "text/plain",
                    "--attach-body", "Dear team, my invoice is wrong", "--attach-type", "text/html",
                    "--attach-body", html)
    assert r.accepted, r.output
    supervisor = await hub.client("supervisor")
    [conv] = await conversations_of(supervisor)
    detail = await supervisor.ok("GET", f"/api/conversations/{conv['id']}")
    assert detail["messages"][0]["body"] == "Dear team, my invoice is wrong"
    [stored] = await channel(hub).emails.rows(conv["id"])
    safe = stored.html
    for bad in ("<script", "alert(", "<iframe", "<form", "<input", "onclick", "tracker.example",
                "evil.example", "style="):
        assert bad not in safe, (bad, safe)
    assert "<b>invoice</b>" in safe and "remote image blocked" in safe
    assert stored.meta["remote_images"] == ["https://tracker.example/pixel.gif"]

    # what the agent's screen asks for: blocked by default, loaded only after consent
    mid = detail["messages"][0]["id"]
    view = await supervisor.ok("GET", f"/api/email/messages/{mid}")
    assert view["html"] == safe and view["remote_images_shown"] is False
    consented = await supervisor.ok("GET", f"/api/email/messages/{mid}?remote_images=true")
    assert consented["remote_images_shown"] is True
    assert 'src="https://tracker.example/pixel.gif"' in consented["html"]
    assert "<script" not in consented["html"] and "evil.example" not in consented["html"]
    anonymous = await hub.client()
    r = await anonymous.get(f"/api/email/messages/{mid}")
    assert r.status_code == 401


async def test_multipart_mail_with_an_attachment_keeps_the_file(hub, tmp_path):
    port = channel(hub).port
    pdf = tmp_path / "bill-2026-10.pdf"
    pdf.write_bytes(PDF)
    r = await swaks(port, "--header", "Subject: My bill", "--body", "Bill attached.",
                    "--attach-type", "application/pdf", "--attach", f"@{pdf}")
    assert r.accepted, r.output
    supervisor = await hub.client("supervisor")
    [conv] = await conversations_of(supervisor)
    detail = await supervisor.ok("GET", f"/api/conversations/{conv['id']}")
    [msg] = detail["messages"]
    assert msg["body"] == "Bill attached."
    [att] = msg["attachments"]
    assert (att["filename"], att["content_type"], att["size"]) == ("bill-2026-10.pdf", "application/pdf", len(PDF))
    got = await supervisor.get(f"/api/attachments/{att['id']}")
    assert got.status_code == 200 and got.content == PDF


async def test_agent_reply_carries_the_messages_attachments(hub, relay):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    r = await swaks(port, "--header", "Subject: Need the form", "--body", "Please send the form.")
    assert r.accepted, r.output
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    cid = offer["conversation"]["id"]
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    up = await agent.http.post("/api/attachments", files={"file": ("form.pdf", PDF, "application/pdf")})
    assert up.status_code == 201, up.text
    await agent.ok("POST", f"/api/conversations/{cid}/messages",
                   {"body": "Here it is.", "attachment_ids": [up.json()["id"]]}, status=201)
    [sent] = await relay.wait(1)
    [part] = list(sent.iter_attachments())
    assert part.get_filename() == "form.pdf" and part.get_content() == PDF
    await desk.close()


async def test_auto_replies_are_stored_but_never_routed(hub):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    r = await swaks(port, "--header", "Subject: Out of office", "--header", "Auto-Submitted: auto-replied",
                    "--body", "I am away until Monday.")
    bounce = await swaks(port, "--header", "Subject: Undelivered Mail", "--body", "bounce",
                         sender="MAILER-DAEMON@mx.example.com")
    bulk = await swaks(port, "--header", "Subject: Newsletter", "--header", "Precedence: bulk",
                       "--body", "Our offers")
    assert r.accepted and bounce.accepted and bulk.accepted
    supervisor = await hub.client("supervisor")
    convs = await conversations_of(supervisor)
    assert len(convs) == 3 and {c["status"] for c in convs} == {"pending"}
    assert not desk.received("offer")
    await desk.close()


async def test_unknown_recipient_is_refused_with_550(hub):
    r = await swaks(channel(hub).port, "--body", "hello", to="someone@elsewhere.example")
    assert r.rc != 0 and "550 5.1.1" in r.output
    ok = await swaks(channel(hub).port, "--body", "hello", to="sales@other.example.org")
    assert ok.accepted, ok.output


async def test_oversize_mail_gets_552_and_nothing_is_stored(hub, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(base64.encodebytes(b"\x00" * (600 * 1024)))  # over the 512 KiB test limit
    r = await swaks(channel(hub).port, "--header", "Subject: huge", "--body", f"@{big}")
    assert "552 5.3.4" in r.output, r.output[-2000:]
    # a client announcing the size up front is refused at MAIL FROM
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=channel(hub).port, timeout=10)
    await client.connect()
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await client.mail("zhang.wei@example.com", options=[f"SIZE={10 * 1024 * 1024}"])
    assert refused.value.code == 552 and "5.3.4" in refused.value.message
    await client.quit()
    supervisor = await hub.client("supervisor")
    assert await conversations_of(supervisor) == []
    raw_dir = email_raw_dir(hub.settings)
    assert not raw_dir.exists() or not any(raw_dir.rglob("*.eml"))


async def test_a_storage_failure_answers_451_and_the_retry_is_stored_once(hub, tmp_path):
    port = channel(hub).port
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "zhang.wei@example.com", HUB_ADDRESS, "scan"
    mail["Message-ID"] = "<retry-1@customer.example.com>"
    mail.set_content("scan attached")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="scan.pdf")
    data = tmp_path / "scan.eml"
    data.write_bytes(bytes(mail))
    args = ("--data", f"@{data}")  # the same bytes each time, as a queueing MTA resends them
    store = hub.settings.attachments_dir
    moved = store.with_name("attachments.moved")
    if store.exists():
        store.rename(moved)
    store.write_bytes(b"not a directory")  # the attachment store cannot write any file now
    try:
        failed = await swaks(port, *args)
    finally:
        store.unlink()
        if moved.exists():
            moved.rename(store)
    assert failed.rc != 0 and "451 4.3.0" in failed.output, failed.output[-1500:]
    supervisor = await hub.client("supervisor")
    assert await conversations_of(supervisor) == []

    again = await swaks(port, *args)  # what the sending MTA does after a 451
    assert again.accepted, again.output
    once_more = await swaks(port, *args)  # a duplicate delivery (e.g. our 250 was lost)
    assert once_more.accepted, once_more.output
    [conv] = await conversations_of(supervisor)
    detail = await supervisor.ok("GET", f"/api/conversations/{conv['id']}")
    assert len(detail["messages"]) == 1 and len(detail["messages"][0]["attachments"]) == 1
    async with hub.services.db.read() as conn:  # no orphaned attachment left by the failure
        count = (await conn.execute(text("SELECT count(*) FROM attachments"))).scalar()
    assert count == 1


def _plain_mail(message_id: str, body: str, in_reply_to: str | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = "Zhang Wei <zhang.wei@example.com>"
    m["To"] = HUB_ADDRESS
    m["Subject"] = "Re: Meter" if in_reply_to else "Meter"
    m["Message-ID"] = message_id
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
        m["References"] = in_reply_to
    m.set_content(body)
    return bytes(m)


async def test_a_repeated_mail_without_attachments_is_answered_with_the_stored_one(hub):
    """No attachment, so no look-up before the insert: the email row's unique dedupe key, written
    in the message's transaction, catches the repeat (a first mail and a reply alike)."""
    ingestor = channel(hub).ingestor
    assert ingestor is not None
    first = _plain_mail("<dup-1@customer.example.com>", "My meter is stuck.")
    opened = await ingestor.ingest(first, "zhang.wei@example.com", [HUB_ADDRESS])
    again = await ingestor.ingest(first, "zhang.wei@example.com", [HUB_ADDRESS])
    assert opened.how == "new" and again.how == "duplicate"
    assert again.conversation_id == opened.conversation_id and again.routed is False

    reply = _plain_mail("<dup-2@customer.example.com>", "Still stuck.", "<dup-1@customer.example.com>")
    added = await ingestor.ingest(reply, "zhang.wei@example.com", [HUB_ADDRESS])
    repeat = await ingestor.ingest(reply, "zhang.wei@example.com", [HUB_ADDRESS])
    assert added.how == "reference" and added.conversation_id == opened.conversation_id
    assert repeat.how == "duplicate" and repeat.message_id == added.message_id

    messages = await hub.services.conversations.messages(opened.conversation_id, include_notes=True)
    assert [m["body"] for m in messages] == ["My meter is stuck.", "Still stuck."]
    supervisor = await hub.client("supervisor")
    assert len(await conversations_of(supervisor)) == 1


async def test_a_reply_that_cannot_be_delivered_is_retried_then_recorded_in_the_conversation(hub, relay):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    r = await swaks(port, "--header", "Subject: hello", "--body", "Anyone there?")
    assert r.accepted, r.output
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    cid = offer["conversation"]["id"]
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    relay.stop()  # the outgoing mail server is down
    await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Yes, we are."}, status=201)
    note = await desk.wait("message", lambda d: d["sender"] == "system", timeout=15)
    assert "could not be delivered after 3 attempt(s)" in note["body"]
    [out] = [e for e in await channel(hub).emails.rows(cid) if e.direction == "out"]
    assert out.status == "failed" and out.attempts == 3
    await desk.close()


async def test_a_reply_to_a_closed_conversation_opens_a_new_one_pointing_back(hub, relay):
    port = channel(hub).port
    agent, desk = await agent_desk(hub, "agent1")
    r = await swaks(port, "--header", "Subject: Move date", "--header",
                    "Message-Id: <move-1@customer.example.com>", "--body", "I move on the 1st.")
    assert r.accepted, r.output
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    old = offer["conversation"]["id"]
    await agent.ok("POST", f"/api/conversations/{old}/accept")
    await agent.ok("POST", f"/api/conversations/{old}/close", {"disposition": "resolved"})
    r = await swaks(port, "--header", "Subject: Re: Move date", "--header",
                    "In-Reply-To: <move-1@customer.example.com>", "--body", "One more thing.")
    assert r.accepted, r.output
    supervisor = await hub.client("supervisor")
    convs = await conversations_of(supervisor)
    [new] = [c for c in convs if c["id"] != old]
    assert new["status"] in ("queued", "offered") and new["subject"] == "Move date"
    detail = await supervisor.ok("GET", f"/api/conversations/{new['id']}")
    assert detail["meta"]["email"]["previous_conversation"] == old
    assert [m["body"] for m in detail["messages"]] == ["One more thing."]
    await desk.close()


async def test_a_reply_to_a_chinese_mail_without_a_subject_gets_a_chinese_subject(hub, relay, tmp_path):
    """Issue #17: the conversation's language comes from the customer's words; the subject the hub
    writes for them (text email.reply.no_subject) is in it."""
    agent, desk = await agent_desk(hub, "agent1")
    mail = EmailMessage()
    mail["From"], mail["To"] = '"陈静" <chen.jing@example.cn>', HUB_ADDRESS
    mail["Message-ID"] = "<zh-1@customer.example.cn>"
    mail.set_content("你好，我家的燃气表从昨天开始显示 E3 错误，请问怎么处理？")
    data = tmp_path / "zh.eml"
    data.write_bytes(bytes(mail))
    assert (await swaks(channel(hub).port, "--data", f"@{data}")).accepted
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=10)
    cid = offer["conversation"]["id"]
    assert offer["conversation"]["language"] == "zh-CN"
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "您好，请先重启燃气表。"}, status=201)
    [sent] = await relay.wait(1)
    assert sent["Subject"] == f"Re: 您的来信 [#{cid}]"
    await desk.close()
