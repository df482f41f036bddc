"""IMAP polling against a real Dovecot on loopback: mail put into a mailbox becomes a threaded
conversation routed by the ACD; the UID checkpoint survives a restart (nothing fetched twice);
a recreated folder (new UIDVALIDITY) does not duplicate; bad credentials are reported, not fatal."""

from __future__ import annotations

import asyncio
import imaplib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.email.imap import parse_mailbox
from hub.config import ConfigError
from tests.api.helpers import agent_desk
from tests.channels.email.support import conversations_of
from tests.support.hub import running_hub
from tests.support.postgres import free_port
from tests.support.wait import eventually

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "support", "s3cret-imap"


class Dovecot:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
        self.port = free_port()
        self.conf = self.dir / "dovecot.conf"

    def start(self) -> Dovecot:
        d = self.dir
        d.chmod(0o755)
        (d / "home").mkdir()
        (d / "state").mkdir()
        shutil.chown(d / "home", "nobody", "nogroup")
        (d / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.conf.write_text(f"""
base_dir = {d}/run
log_path = {d}/log
state_dir = {d}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")
        subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, timeout=20)
        for _ in range(100):
            try:
                imaplib.IMAP4("127.0.0.1", self.port, timeout=2).logout()
                return self
            except OSError:
                import time
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {(d / 'log').read_text()[-2000:]}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.conf), "stop"], timeout=20, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, folder: str = "INBOX", password: str = PASSWORD) -> str:
        return f"imap://{USER}:{password}@127.0.0.1:{self.port}/{folder}"

    def _imap(self) -> imaplib.IMAP4:
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        m.login(USER, PASSWORD)
        return m

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        m = self._imap()
        try:
            typ, data = m.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            m.logout()

    def recreate(self, folder: str, messages: list[bytes]) -> None:
        m = self._imap()
        try:
            assert m.create(folder)[0] == "OK"
            for raw in messages:
                assert m.append(folder, None, None, raw)[0] == "OK"
        finally:
            m.logout()

    def delete(self, folder: str) -> None:
        m = self._imap()
        try:
            assert m.delete(folder)[0] == "OK"
        finally:
            m.logout()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("the Dovecot fixture runs mail processes as 'nobody' and needs root to start")
    d = Dovecot().start()
    yield d
    d.stop()


def mail(n: int, subject: str, body: str, *, in_reply_to: str | None = None) -> bytes:
    head = (f"From: Li Na <li.na@example.com>\r\nTo: support@hub.example.com\r\n"
            f"Subject: {subject}\r\nMessage-ID: <imap-{n}@example.com>\r\n"
            "Date: Mon, 23 Nov 2026 09:00:00 +0800\r\n")
    if in_reply_to:
        head += f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


async def wait_for(predicate, within_s: float = 15):  # type: ignore[no-untyped-def]
    return await eventually(predicate, within_s, every=0.1)


async def test_polled_mail_becomes_threaded_conversations_and_is_never_fetched_twice(tmp_path, dovecot):
    dovecot.append(mail(1, "Water leak in the street", "There is water coming up near house 12."))
    dovecot.append(mail(2, "Re: Water leak in the street", "It is getting worse.",
                        in_reply_to="<imap-1@example.com>"))
    settings = {"email_imap_mailboxes": dovecot.url(), "email_imap_poll_s": 0.2,
                "email_address": "support@hub.example.com"}
    async with running_hub(tmp_path / "data", **settings) as hub:
        agent, desk = await agent_desk(hub, "agent1")
        offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "email", timeout=15)
        cid = offer["conversation"]["id"]
        assert offer["conversation"]["subject"] == "Water leak in the street"

        async def both_in():
            detail = await agent.ok("GET", f"/api/conversations/{cid}")
            bodies = [m["body"] for m in detail["messages"] if m["sender"] == "customer"]
            return bodies if len(bodies) == 2 else None

        assert await wait_for(both_in) == ["There is water coming up near house 12.",
                                           "It is getting worse."]

    # restarted: the checkpoint is durable, the two old messages are not fetched again
    async with running_hub(tmp_path / "data", **settings) as hub:
        agent = await hub.client("supervisor")
        dovecot.append(mail(3, "Meter reading", "My reading is 04512."))

        async def two_conversations():
            convs = await conversations_of(agent)
            return convs if len(convs) == 2 else None

        convs = await wait_for(two_conversations)
        assert sorted(c["subject"] for c in convs) == ["Meter reading", "Water leak in the street"]
        await asyncio.sleep(1)  # a few more polls
        first = (await agent.ok("GET", f"/api/conversations/{cid}"))["messages"]
        assert len([m for m in first if m["sender"] == "customer"]) == 2

        # the folder is recreated with the same messages (new UIDVALIDITY): still no duplicates
        channel = hub.services.ports.email
        dovecot.recreate("Support", [mail(1, "Water leak in the street", "There is water coming "
                                          "up near house 12."), mail(4, "New topic", "Hello again")])
        poller = channel.imap
        mb = parse_mailbox(dovecot.url("Support"))
        assert await poller.poll(mb) == 2  # both read; the known one is recognised on store
        assert await poller.poll(mb) == 0  # and the checkpoint moved
        dovecot.delete("Support")
        dovecot.recreate("Support", [mail(4, "New topic", "Hello again")])
        assert await poller.poll(mb) == 1  # new UIDVALIDITY: read again …
        convs = await conversations_of(agent)
        assert sorted(c["subject"] for c in convs) == ["Meter reading", "New topic",
                                                       "Water leak in the street"]
        new_topic = next(c for c in convs if c["subject"] == "New topic")
        detail = await agent.ok("GET", f"/api/conversations/{new_topic['id']}")
        assert [m["body"] for m in detail["messages"] if m["sender"] == "customer"] == ["Hello again"]


async def test_wrong_password_is_reported_and_the_hub_keeps_serving(tmp_path, dovecot):
    async with running_hub(tmp_path / "data", email_imap_mailboxes=dovecot.url(password="wrong"),
                           email_imap_poll_s=0.2) as hub:
        channel = hub.services.ports.email
        label = parse_mailbox(dovecot.url()).label

        async def reported():
            return channel.imap.last_error.get(label)

        assert "LOGIN failed" in await wait_for(reported)
        client = await hub.client("supervisor")
        assert await conversations_of(client) == []


def test_mailbox_urls_are_checked():
    mb = parse_mailbox("imaps://me%40corp:p%3Ass@mail.corp.example:1993/Support%20Queue?seen=1")
    assert (mb.user, mb.password, mb.host, mb.port, mb.folder, mb.tls, mb.mark_seen) == (
        "me@corp", "p:ss", "mail.corp.example", 1993, "Support Queue", True, True)
    assert "p:ss" not in mb.label
    assert parse_mailbox("imap://a:b@h/").folder == "INBOX"
    for bad in ["pop3://a:b@h/INBOX", "imap://h/INBOX", "imap://a@h/INBOX", "imap://a:b@h:99999/"]:
        with pytest.raises(ConfigError):
            parse_mailbox(bad)
