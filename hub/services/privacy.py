"""Personal data: data-subject exports, erasure and retention (docs/SECURITY.md, "Retention and
erasure").

The hub holds the contact record, conversations, messages and attachments; each component holds
its own data (the email channel its mail records and ``.eml`` files, voice its call records,
recordings and transcripts, workflows its tickets and work orders …) and registers a
:class:`hub.ports.PersonalDataHolder` in its ``start`` (``services.privacy.register``). The hub
never imports a component: it calls the registered holders.

- **Export**: one zip of everything about a contact (``manifest.json``, ``contact.json``,
  ``conversations.json``, ``attachments/…`` and each holder's entries under its name).
- **Erasure**: one transaction. Every holder erases its part (``erase(tx, subject)``), then the hub
  its own and the event log's copies; the contact becomes a tombstone (``erased_at`` set, every
  personal field emptied) and its conversations and messages stay as rows without their texts, so
  reports count the same. Either everything commits, with the audited ``privacy.erased`` event, or
  nothing does: an accepted erasure cannot be half done. Files no longer referenced (attachments,
  recordings, ``.eml``) are listed in that event and removed after the commit by the durable
  consumer ``privacy.files`` (replayed after a crash).
- **Retention**: a durable daily timer (``privacy.retention``, key ``hub:retention``) erases the
  parts of closed conversations older than each part's setting (``retention_*_days`` and the
  components' own, e.g. ``email_raw_retention_days``), in batches, with a cursor per setting
  (``settings_kv``) so each conversation is visited once per part.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.config import Settings
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import InvalidState, NotFound
from hub.events import Event, EventBus, register_event_types
from hub.ports import CONVERSATION_PARTS, PERSONAL_DATA_PARTS, DataSubject, Erased, ExportEntry, PersonalDataHolder
from hub.services.attachments import AttachmentStore
from hub.services.auth import Client
from hub.services.kv import KeyValueStore
from hub.services.scheduler import Scheduler, Timer

__all__ = ["ERASED_MARK", "RETENTION_KEY", "RETENTION_KIND", "PrivacyEventType", "PrivacyService",
           "Redactor", "scrub_json"]

log = logging.getLogger(__name__)

DAY_S = 86400.0
RETENTION_KIND = "privacy.retention"
RETENTION_KEY = "hub:retention"
_BATCH = 200
#: what replaces an identifying string in text that is kept (a ticket's description): a
#: language-neutral mark, never translated
ERASED_MARK = "███"
FORMAT = "contact-hub/data-subject-export"
#: conversations that ended (closed by an agent, or abandoned by the customer while waiting)
ENDED = ("closed", "abandoned")


class PrivacyEventType(StrEnum):
    EXPORTED = "privacy.exported"  # a data-subject export was downloaded
    ERASED = "privacy.erased"  # a contact was erased (data.files: removed after commit)
    RETENTION_APPLIED = "privacy.retention_applied"  # the daily retention run erased something
    #: a component that was off during an erasure or retention run erased its part when it came
    #: back (data.holder, data.files: removed after commit)
    CAUGHT_UP = "privacy.caught_up"


register_event_types(PrivacyEventType, audit=tuple(PrivacyEventType))


# --- redaction -----------------------------------------------------------------------------------

#: event data keys whose string values are identifiers or codes, kept when an event is scrubbed
_SAFE_KEYS = frozenset({"id", "type", "kind", "status", "channel", "direction", "state", "action",
                        "entity", "code", "leg", "source", "how", "disposition", "parts", "fields",
                        "priority", "end_reason", "outcome", "result_code", "encoding"})


def _safe_key(key: str) -> bool:
    return key in _SAFE_KEYS or key.endswith(("_id", "_ids", "_at", "_s"))


def _phone_pattern(phone: str) -> str | None:
    """A number written with or without its country code, spaces, dashes, dots or brackets:
    its last nine digits with separators allowed, and the digits before them if present."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return None
    tail = digits[-9:]
    sep = r"[\s\-.()]*"
    return r"(?:\+?\d" + sep + r"){0,6}" + sep.join(re.escape(d) for d in tail)


class Redactor:
    """Finds a subject's identifying strings (case-insensitive; phone numbers however written)
    and replaces them with :data:`ERASED_MARK`."""

    def __init__(self, terms: Iterable[str], phones: Iterable[str] = ()) -> None:
        words = sorted({w.strip() for w in terms if w and len(w.strip()) >= 3}, key=len, reverse=True)
        patterns = [re.escape(w) for w in words]
        patterns += [p for p in (_phone_pattern(n) for n in phones) if p]
        self.terms = tuple(words)
        self._re = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def __bool__(self) -> bool:
        return self._re is not None

    def text(self, text: str | None) -> str | None:
        if not text or self._re is None:
            return text
        return self._re.sub(ERASED_MARK, text)

    def value(self, value: Any) -> Any:
        """A JSON value with every identifying string redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        return value


def number_forms(phones: Iterable[str]) -> list[str]:
    """The ways a record may hold each number (a call's caller, a fax's sender): as stored,
    digits only, digits with a plus."""
    out: set[str] = set()
    for p in phones:
        digits = re.sub(r"\D", "", p)
        out.update(x for x in (p, digits, f"+{digits}") if x and x != "+")
    return sorted(out)


def scrub_json(value: Any, redactor: Redactor | None = None, key: str = "") -> Any:
    """A JSON value (an event's data) without free text: numbers, booleans and the strings of
    identifier keys (``*_id``, ``type``, ``status`` …) stay, so reports count the same; every
    other string becomes :data:`ERASED_MARK`, and identifying strings go even from kept ones."""
    if isinstance(value, dict):
        return {k: scrub_json(v, redactor, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v, redactor, key) for v in value]
    if isinstance(value, str):
        if not _safe_key(key):
            return ERASED_MARK if value else value
        return redactor.text(value) if redactor else value
    return value


def _json_forms(term: str) -> list[str]:
    """How a string can appear inside stored JSON text (lower-cased): as is and escaped."""
    escaped = json.dumps(term)[1:-1]
    return sorted({term.lower(), escaped.lower()})


# --- the subject ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Contact:
    row: Any
    merged: tuple[Any, ...]


def _contact_terms(rows: Iterable[Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(emails, phones, terms) of contact rows: names, addresses, numbers, custom text values."""
    emails: set[str] = set()
    phones: set[str] = set()
    terms: set[str] = set()
    for r in rows:
        if r.email:
            emails.add(r.email)
        if r.phone:
            phones.add(r.phone)
        terms.update(x for x in (r.name, r.email, r.phone, r.company) if x)
        terms.update(str(v) for v in (r.custom or {}).values() if isinstance(v, str) and v.strip())
    return tuple(sorted(emails)), tuple(sorted(phones)), tuple(sorted(terms))


class PrivacyService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, attachments: AttachmentStore,
                 kv: KeyValueStore, scheduler: Scheduler, bus: EventBus) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.attachments = attachments
        self.kv = kv
        self.scheduler = scheduler
        self.bus = bus
        self.holders: list[PersonalDataHolder] = []

    def register(self, holder: PersonalDataHolder) -> None:
        """A component's holder (in its ``start``); one per name (a restarted component replaces
        its own). Its durable consumer ``privacy.catch_up.<name>`` replays the erasures and
        retention runs made while the component was off (its checkpoint stayed where it stopped)
        and erases its part of those conversations."""
        self.holders = [h for h in self.holders if h.name != holder.name] + [holder]
        self.bus.consume(f"privacy.catch_up.{holder.name}", partial(self._catch_up, holder.name),
                         types=(PrivacyEventType.ERASED, PrivacyEventType.RETENTION_APPLIED))

    async def _catch_up(self, name: str, ev: Event) -> None:
        holder = next((h for h in self.holders if h.name == name), None)
        if holder is None or name in (ev.data.get("holders") or ()):
            return  # it took part (or it is gone again)
        subject = DataSubject(conversation_ids=tuple(ev.data.get("conversation_ids") or ()),
                              parts=frozenset(ev.data.get("parts") or ()) - {"identity"})
        if not subject.conversation_ids or not subject.parts:
            return
        async with self.db.tx() as tx:
            done = await holder.erase(tx, subject)
            tx.emit(Event(PrivacyEventType.CAUGHT_UP, self.clock.now(), data={
                "holder": name, "event_id": ev.id, "counts": done.counts, "files": sorted(set(done.files))}))
        log.info("privacy: %s erased its part of %d conversations (event %s) after being off", name,
                 len(subject.conversation_ids), ev.id)

    async def start(self) -> None:
        """After the components started (their holders are registered): the retention timer and
        the consumer that removes erased files."""
        self.scheduler.on(RETENTION_KIND, self._on_timer)
        self.bus.consume("privacy.files", self._remove_files, types=(
            PrivacyEventType.ERASED, PrivacyEventType.RETENTION_APPLIED, PrivacyEventType.CAUGHT_UP))
        if self._retained() and await self.scheduler.find(RETENTION_KEY) is None:
            async with self.db.tx() as tx:  # the first run now (catch-up), then daily
                await self.scheduler.schedule(tx, kind=RETENTION_KIND, due_at=self.clock.now(),
                                              payload={}, key=RETENTION_KEY)

    # --- the subject ------------------------------------------------------------------------
    async def _contact(self, conn: AsyncConnection, cid: str) -> _Contact:
        c = t.contacts.c
        row = (await conn.execute(select(t.contacts).where(
            c.id == cid, c.merged_into.is_(None), c.erased_at.is_(None)))).first()
        if row is None:
            raise NotFound(f"contact {cid} does not exist")
        # the same person: the duplicates merged into it, and unmerged records with the same name
        # and the same email address or number (a chat that opened a second record before anyone
        # merged them). A record that shares only the address or the number (a family's landline)
        # is someone else's and stays.
        shared = [*([func.lower(c.email) == row.email.lower()] if row.email else []),
                  *([c.phone == row.phone] if row.phone else [])]
        same = [c.merged_into == cid]
        if shared:
            same.append(or_(*shared) & (func.lower(c.name) == row.name.lower()))
        merged = (await conn.execute(select(t.contacts).where(
            c.id != cid, c.erased_at.is_(None), or_(*same)).order_by(c.created_at))).all()
        return _Contact(row, tuple(merged))

    async def _subject(self, conn: AsyncConnection, cid: str, parts: Iterable[str]) -> tuple[DataSubject, _Contact]:
        contact = await self._contact(conn, cid)
        ids = (cid, *(m.id for m in contact.merged))
        # with the chats whose customer only claimed to be the person (their pre-chat form holds
        # the person's email or phone: hub/services/identity.py)
        convs = (await conn.execute(select(t.conversations.c.id).where(or_(
            t.conversations.c.contact_id.in_(ids), t.conversations.c.claimed_contact_id.in_(ids)))
            .order_by(t.conversations.c.created_at))).scalars().all()
        emails, phones, terms = _contact_terms((contact.row, *contact.merged))
        return DataSubject(conversation_ids=tuple(convs), parts=frozenset(parts), contact_id=cid,
                           contact_ids=ids, emails=emails, phones=phones, terms=terms), contact

    # --- export -----------------------------------------------------------------------------
    async def export(self, cid: str, actor_id: str | None, client: Client | None = None) -> Path:
        """The contact's archive as a temporary file (the caller sends and removes it); the
        download is audited (who, from which IP address and user agent)."""
        async with self.db.read() as conn:
            subject, contact = await self._subject(conn, cid, PERSONAL_DATA_PARTS)
            entries = await self._own_entries(conn, subject, contact)
            sections: dict[str, int] = {}
            for holder in self.holders:
                mine = list(await holder.export(conn, subject))
                sections[holder.name] = len(mine)
                entries += mine
        now = self.clock.now()
        manifest = {"format": FORMAT, "version": 1, "contact_id": cid, "exported_at": now,
                    "conversations": len(subject.conversation_ids), "holders": sections,
                    "files": sorted(e.path for e in entries)}
        entries.insert(0, ExportEntry("manifest.json", _json(manifest)))
        path = await asyncio.to_thread(self._zip, entries)
        async with self.db.tx() as tx:
            tx.emit(Event(PrivacyEventType.EXPORTED, now, user_id=actor_id,
                          data={"contact_id": cid, "conversations": len(subject.conversation_ids),
                                "entries": len(entries), **(client or Client()).audit()}))
        return path

    async def _own_entries(self, conn: AsyncConnection, subject: DataSubject,
                           contact: _Contact) -> list[ExportEntry]:
        convs = (await conn.execute(select(t.conversations).where(
            t.conversations.c.id.in_(subject.conversation_ids)).order_by(t.conversations.c.created_at))).all()
        msgs = (await conn.execute(select(t.messages).where(
            t.messages.c.conversation_id.in_(subject.conversation_ids)).order_by(t.messages.c.created_at))).all()
        atts = (await conn.execute(select(t.attachments).where(
            t.attachments.c.conversation_id.in_(subject.conversation_ids)))).all()
        by_conv: dict[str, list[dict[str, Any]]] = {}
        for m in msgs:
            by_conv.setdefault(m.conversation_id, []).append(_plain(m, exclude=("client_id",)))
        files: dict[str, list[dict[str, Any]]] = {}
        entries: list[ExportEntry] = []
        for a in atts:
            name = f"attachments/{a.id}-{_safe_name(a.filename)}"
            files.setdefault(a.conversation_id, []).append({**_plain(a), "file": name})
            entries.append(ExportEntry(name, source=self.attachments.path_for(a.id)))
        conversations = [{**_plain(c, exclude=("widget_token_hash",)), "messages": by_conv.get(c.id, []),
                          "attachments": files.get(c.id, [])} for c in convs]
        record = {**_plain(contact.row), "same_person": [_plain(m) for m in contact.merged]}
        return [ExportEntry("contact.json", _json(record)),
                ExportEntry("conversations.json", _json(conversations)), *entries]

    def _zip(self, entries: Sequence[ExportEntry]) -> Path:
        folder = self.settings.data_dir / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".zip")
        with open(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for e in entries:
                if e.source is not None:
                    if e.source.exists():
                        zf.write(e.source, e.path)
                else:
                    zf.writestr(e.path, e.data or b"")
        return Path(name)

    # --- erasure ----------------------------------------------------------------------------
    async def erase(self, cid: str, actor_id: str | None, client: Client | None = None) -> dict[str, Any]:
        """Erase everything about the contact in one transaction (see the module docstring)."""
        now = self.clock.now()
        async with self.db.tx() as tx:
            subject, _ = await self._subject(tx.conn, cid, PERSONAL_DATA_PARTS)
            await self._refuse_open(tx.conn, subject)
            done = await self._erase(tx, subject, now)
            redactor = Redactor([*subject.terms, *done.terms], subject.phones)
            done.counts["events"] = done.counts.get("events", 0) + await self._scrub_matching_events(
                tx, redactor, [*subject.terms, *done.terms, *subject.phones])
            done.counts["contacts"] = await self._tombstone_contacts(tx, subject, now)
            files = sorted(set(done.files))
            tx.emit(Event(PrivacyEventType.ERASED, now, user_id=actor_id, data={
                "contact_id": cid, "conversations": len(subject.conversation_ids), "counts": done.counts,
                "holders": [h.name for h in self.holders], "files": files,
                "conversation_ids": list(subject.conversation_ids), "parts": sorted(subject.parts),
                **(client or Client()).audit()}))
        log.info("privacy: contact %s erased (%d conversations)", cid, len(subject.conversation_ids))
        return {"contact_id": cid, "erased_at": now, "conversations": len(subject.conversation_ids),
                "counts": done.counts, "holders": [h.name for h in self.holders], "files": len(files)}

    @staticmethod
    async def _refuse_open(conn: AsyncConnection, subject: DataSubject) -> None:
        """A person still being served is not erased under the agent's hands: their open
        conversations are closed first (409 ``conversations_open``, nothing changed)."""
        c = t.conversations.c
        open_ids = (await conn.execute(select(c.id).where(
            c.id.in_(subject.conversation_ids), c.status.not_in(ENDED)))).scalars().all()
        if open_ids:
            raise InvalidState(f"close the contact's {len(open_ids)} open conversation(s) before erasing",
                               code="conversations_open", details={"conversation_ids": sorted(open_ids)})

    async def _erase(self, tx: Tx, subject: DataSubject, now: float) -> Erased:
        """The holders' parts, then the hub's own (conversations, messages, attachments and the
        event log's copies of them)."""
        done = Erased()
        for holder in self.holders:
            done.add(await holder.erase(tx, subject))
        done.add(await self._erase_conversations(tx, subject, now))
        return done

    async def _erase_conversations(self, tx: Tx, subject: DataSubject, now: float) -> Erased:
        ids = list(subject.conversation_ids)
        done = Erased()
        if not ids:
            return done
        conn = tx.conn
        if "messages" in subject.parts:
            m = t.messages.c
            r = await conn.execute(update(t.messages).where(m.conversation_id.in_(ids)).values(body=ERASED_MARK))
            await conn.execute(update(t.messages).where(m.conversation_id.in_(ids), m.sender == "customer")
                               .values(sender_name=None))
            done.counts["messages"] = r.rowcount or 0
            done.counts["events"] = await self._scrub_events(
                tx, t.events.c.conversation_id.in_(ids), Redactor(subject.terms, subject.phones))
        a = t.attachments.c
        which: Any = None
        if subject.parts >= CONVERSATION_PARTS:  # every file of the conversations
            which = a.conversation_id.in_(ids)
        elif "attachments" in subject.parts:  # a retention run: the ordinary files, not recordings
            which = a.conversation_id.in_(ids) & a.route.is_(None)  # (those have their own route)
        if which is not None:
            gone = (await conn.execute(select(a.id).where(which))).scalars().all()
            await self.attachments.forget(tx, gone)
            done.counts["attachments"] = len(gone)
            done.files += [self._relative(self.attachments.path_for(x)) for x in gone]
        c = t.conversations.c
        meta = {"erased_at": now, "erased": sorted(subject.parts & CONVERSATION_PARTS)}
        values: dict[str, Any] = {"meta": meta} if "messages" in subject.parts else {}
        if "messages" in subject.parts:
            values.update(subject=None, csat_comment=None, widget_token_hash=None)
        if values:
            await conn.execute(update(t.conversations).where(c.id.in_(ids)).values(**values))
        return done

    async def _tombstone_contacts(self, tx: Tx, subject: DataSubject, now: float) -> int:
        """The contact rows keep their ids and times, nothing else; the conversations no longer
        point to them (every view of a conversation works as for an unknown customer)."""
        await tx.conn.execute(update(t.conversations).where(
            t.conversations.c.id.in_(subject.conversation_ids)).values(contact_id=None, claimed_contact_id=None))
        r = await tx.conn.execute(update(t.contacts).where(t.contacts.c.id.in_(subject.contact_ids)).values(
            name="", email=None, phone=None, company=None, tags=[], vip=False, owner_agent_id=None,
            custom={}, updated_at=now, erased_at=now))
        return r.rowcount or 0

    async def _scrub_events(self, tx: Tx, where: Any, redactor: Redactor | None) -> int:
        rows = (await tx.conn.execute(select(t.events.c.id, t.events.c.data, t.events.c.cause)
                                      .where(where))).all()
        for r in rows:
            await tx.conn.execute(update(t.events).where(t.events.c.id == r.id).values(
                data=scrub_json(r.data or {}, redactor), cause=scrub_json(r.cause, redactor)))
        return len(rows)

    async def _scrub_matching_events(self, tx: Tx, redactor: Redactor, terms: Iterable[str]) -> int:
        """Events anywhere in the log that still name the subject (a contact's creation, an SMS
        keyword, a work order's address)."""
        forms = sorted({f for term in terms if term and len(term.strip()) >= 3 for f in _json_forms(term.strip())})
        if not forms:
            return 0
        text = func.lower(cast(t.events.c.data, Text))
        cause = func.lower(func.coalesce(cast(t.events.c.cause, Text), ""))
        where = or_(*(text.contains(f, autoescape=True) for f in forms),
                    *(cause.contains(f, autoescape=True) for f in forms))
        return await self._scrub_events(tx, where, redactor)

    def _relative(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.settings.data_dir.resolve()))

    async def _remove_files(self, ev: Event) -> None:
        """The durable consumer: remove the files an erasure or a retention run unreferenced
        (again after a crash: a file already gone is fine)."""
        root = self.settings.data_dir.resolve()
        for rel in ev.data.get("files") or ():
            path = (root / str(rel)).resolve()
            if not path.is_relative_to(root) or path == root:
                log.warning("privacy: not removing %r (outside the data folder)", rel)
                continue
            await asyncio.to_thread(path.unlink, missing_ok=True)

    # --- retention --------------------------------------------------------------------------
    def _rules(self) -> list[tuple[str, frozenset[str], float]]:
        """(cursor name, parts, days) for every retention setting."""
        s = self.settings
        rules = [("conversations", CONVERSATION_PARTS, s.retention_conversations_days),
                 ("messages", frozenset({"messages"}), s.retention_messages_days),
                 ("attachments", frozenset({"attachments"}), s.retention_attachments_days)]
        for holder in self.holders:
            rules += [(part, frozenset({part}), float(days))
                      for part, days in holder.retention_days().items()]
        return rules

    def _retained(self) -> bool:
        return any(days > 0 for _, _, days in self._rules())

    async def apply_retention(self) -> dict[str, int]:
        """Erase the parts of closed conversations older than each setting; returns the number of
        conversations each rule visited."""
        now = self.clock.now()
        out: dict[str, int] = {}
        for name, parts, days in self._rules():
            if days > 0:
                out[name] = await self._retain(name, parts, now - days * DAY_S, now)
        return out

    async def _retain(self, name: str, parts: frozenset[str], cutoff: float, now: float) -> int:
        key = f"privacy:retention:{name}"
        cursor = await self.kv.get(key) or {"closed_at": 0.0, "id": ""}
        c = t.conversations.c
        visited = 0
        while True:
            after = or_(c.closed_at > cursor["closed_at"],
                        (c.closed_at == cursor["closed_at"]) & (c.id > cursor["id"]))
            async with self.db.read() as conn:
                rows = (await conn.execute(select(c.id, c.closed_at).where(
                    c.status.in_(ENDED), c.closed_at < cutoff, after)
                    .order_by(c.closed_at, c.id).limit(_BATCH))).all()
            if not rows:
                return visited
            cursor = {"closed_at": rows[-1].closed_at, "id": rows[-1].id}
            subject = DataSubject(conversation_ids=tuple(r.id for r in rows), parts=parts)
            async with self.db.tx() as tx:
                done = await self._erase(tx, subject, now)
                await self.kv.put_in(tx, key, cursor)
                tx.emit(Event(PrivacyEventType.RETENTION_APPLIED, now, data={
                    "rule": name, "parts": sorted(parts), "conversations": len(rows),
                    "older_than": cutoff, "counts": done.counts, "files": sorted(set(done.files)),
                    "holders": [h.name for h in self.holders], "conversation_ids": list(subject.conversation_ids)}))
            visited += len(rows)

    async def _on_timer(self, timer: Timer) -> None:
        await self.apply_retention()
        async with self.db.tx() as tx:
            if await self.scheduler.complete(tx, timer) and self._retained():
                await self.scheduler.schedule(tx, kind=RETENTION_KIND, due_at=self.clock.now() + DAY_S,
                                              payload={}, key=RETENTION_KEY)


def _plain(row: Any, exclude: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if k not in exclude}


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode("utf-8")


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", name)[:120] or "file"


def plain_rows(rows: Iterable[Any], exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts for an export entry."""
    return [_plain(r, exclude) for r in rows]


def json_entry(path: str, value: Any) -> ExportEntry:
    """An export entry holding ``value`` as indented UTF-8 JSON."""
    return ExportEntry(path, _json(value))

