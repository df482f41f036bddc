"""IMAP polling of configured mailboxes (EMAIL-1), for mail that does not come to our SMTP port.

Each mailbox is a URL ``imap://user:password@host:port/Folder`` (``imaps://`` for TLS; query
``?seen=1`` marks fetched messages \\Seen on the server). The poller fetches messages whose UID is
above a durable checkpoint, hands each to the same ingestor as SMTP, and moves the checkpoint only
after the message is committed: a crash between the two re-fetches the message, and the
ingestor's dedupe key makes that a no-op. A changed UIDVALIDITY (the folder was recreated) starts
the folder again from the beginning, with the same protection against duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from hub.config import ConfigError
from hub.tasks import cancel_and_wait

if TYPE_CHECKING:
    from hub.services.kv import KeyValueStore

log = logging.getLogger(__name__)

Ingest = Callable[[bytes, str | None, list[str]], Awaitable[Any]]

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_UID = re.compile(rb"\(.*?UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass(frozen=True)
class Mailbox:
    url: str  # as configured (holds the password: never logged)
    host: str
    port: int
    tls: bool
    user: str
    password: str
    folder: str
    mark_seen: bool

    @property
    def label(self) -> str:
        return f"{'imaps' if self.tls else 'imap'}://{self.user}@{self.host}:{self.port}/{self.folder}"

    @property
    def checkpoint_key(self) -> str:
        return "email.imap:" + hashlib.sha256(self.label.encode()).hexdigest()[:40]


def parse_mailbox(url: str) -> Mailbox:
    """A mailbox URL from the settings; a bad one is a configuration error naming the problem."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError(f"email_imap_mailboxes: {parts.scheme or '(none)'!r} is not imap:// or imaps://")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ConfigError("email_imap_mailboxes: a mailbox URL needs user, password and host "
                          "(imap://user:password@host:port/Folder)")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as err:
        raise ConfigError(f"email_imap_mailboxes: bad port in mailbox URL ({err})") from err
    query = parse_qs(parts.query)
    return Mailbox(url=url, host=parts.hostname, port=port, tls=parts.scheme == "imaps",
                   user=unquote(parts.username), password=unquote(parts.password),
                   folder=unquote(parts.path.lstrip("/")) or "INBOX",
                   mark_seen=query.get("seen", ["0"])[0].lower() in ("1", "true", "yes"))


class ImapError(Exception):
    pass


def _check(resp: Any, what: str) -> Any:
    if resp.result != "OK":
        text = b" ".join(x for x in resp.lines if isinstance(x, bytes)).decode("utf-8", "replace")
        raise ImapError(f"{what} failed: {resp.result} {text}"[:300])
    return resp


class ImapPoller:
    """Polls every configured mailbox every ``interval_s``; one owned task, stopped with the hub."""

    def __init__(self, kv: KeyValueStore, ingest: Ingest, mailboxes: list[Mailbox], *, interval_s: float,
                 timeout_s: float, max_message_bytes: int, batch: int = 200) -> None:
        self.kv = kv
        self.ingest = ingest
        self.mailboxes = mailboxes
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_message_bytes = max_message_bytes
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.last_error: dict[str, str] = {}

    def start(self) -> None:
        if self.mailboxes and self._task is None:
            self._task = asyncio.create_task(self._run(), name="email-imap-poller")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def poll_now(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            for mb in self.mailboxes:
                try:
                    n = await self.poll(mb)
                    self.last_error.pop(mb.label, None)
                    if n:
                        log.info("email: %d message(s) fetched from %s", n, mb.label)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - a broken mailbox must not stop the others
                    self.last_error[mb.label] = str(err)
                    log.warning("email: polling %s failed: %s", mb.label, err)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass

    async def _checkpoint(self, mb: Mailbox) -> tuple[int | None, int]:
        value = await self.kv.get(mb.checkpoint_key)
        if not value:
            return None, 0
        return int(value["uidvalidity"]), int(value["last_uid"])

    async def _save_checkpoint(self, mb: Mailbox, uidvalidity: int, last_uid: int) -> None:
        await self.kv.put(mb.checkpoint_key, {"uidvalidity": uidvalidity, "last_uid": last_uid})

    async def poll(self, mb: Mailbox) -> int:
        """Fetch what is new in one mailbox; returns how many messages were ingested."""
        import aioimaplib

        cls = aioimaplib.IMAP4_SSL if mb.tls else aioimaplib.IMAP4
        client = cls(host=mb.host, port=mb.port, timeout=self.timeout_s)
        try:
            async with asyncio.timeout(self.timeout_s):
                await client.wait_hello_from_server()
                _check(await client.login(mb.user, mb.password), "LOGIN")
                selected = _check(await client.select(mb.folder), f"SELECT {mb.folder}")
            found = next((m for line in selected.lines if isinstance(line, bytes)
                          for m in [_UIDVALIDITY.search(line)] if m), None)
            if found is None:
                raise ImapError(f"the server sent no UIDVALIDITY for {mb.folder}")
            uidvalidity = int(found.group(1))
            stored_validity, last_uid = await self._checkpoint(mb)
            if stored_validity is not None and stored_validity != uidvalidity:
                log.warning("email: UIDVALIDITY of %s changed (%s → %s): reading the folder again "
                            "(already stored messages are recognised)", mb.label, stored_validity,
                            uidvalidity)
                last_uid = 0
            async with asyncio.timeout(self.timeout_s):
                listing = _check(await client.uid("fetch", f"{last_uid + 1}:*", "(UID RFC822.SIZE)"),
                                 "UID FETCH")
            new: list[tuple[int, int]] = []
            for line in listing.lines:
                if isinstance(line, bytes) and b"FETCH" in line and (m := _FETCH_UID.search(line)):
                    sm = _FETCH_SIZE.search(line)
                    uid = int(m.group(1))
                    if uid > last_uid:  # "n:*" also returns the last message when none is newer
                        new.append((uid, int(sm.group(1)) if sm else 0))
            new.sort()
            count = 0
            for uid, size in new[:self.batch]:
                if size > self.max_message_bytes:
                    log.error("email: message UID %s in %s is %d bytes, over the limit of %d: left "
                              "on the server, not imported", uid, mb.label, size, self.max_message_bytes)
                else:
                    raw = await self._fetch(client, uid)
                    if raw is None:
                        log.warning("email: UID %s vanished from %s before it was read", uid, mb.label)
                    else:
                        await self.ingest(raw, None, [])
                        count += 1
                        if mb.mark_seen:
                            async with asyncio.timeout(self.timeout_s):
                                await client.uid("store", str(uid), "+FLAGS (\\Seen)")
                await self._save_checkpoint(mb, uidvalidity, uid)
            if stored_validity != uidvalidity and not new:
                await self._save_checkpoint(mb, uidvalidity, last_uid)
            return count
        finally:
            try:
                async with asyncio.timeout(5):
                    await client.logout()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            transport = getattr(getattr(client, "protocol", None), "transport", None)
            if transport is not None:
                transport.close()

    async def _fetch(self, client: Any, uid: int) -> bytes | None:
        async with asyncio.timeout(self.timeout_s):
            resp = _check(await client.uid("fetch", str(uid), "(UID BODY.PEEK[])"), "UID FETCH body")
        # aioimaplib hands the message literal over as the one bytearray among the lines
        return next((bytes(line) for line in resp.lines if isinstance(line, bytearray)), None)
