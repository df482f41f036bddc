"""Contacts (CRM-1): records with custom fields and tags, search, CSV import/export, merge;
identity lookup for screen pop (CRM-2)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    asc,
    bindparam,
    cast,
    delete,
    desc,
    func,
    or_,
    select,
    update,
)

from hub.clock import Clock
from hub.db import tables as t
from hub.db.uow import Database, Tx
from hub.errors import NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.security import new_id
from hub.services.auth import Client, User
from hub.services.spreadsheets import Cell, XlsxBook, csv_text, unescape_cell

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9 ()\-]{3,30}$")
CONTACT_FIELDS = ("name", "email", "phone", "company", "tags", "vip", "owner_agent_id", "custom",
                  "language")
SORTS = {"name": asc(t.contacts.c.name), "-name": desc(t.contacts.c.name),
         "created_at": asc(t.contacts.c.created_at), "-created_at": desc(t.contacts.c.created_at),
         "updated_at": asc(t.contacts.c.updated_at), "-updated_at": desc(t.contacts.c.updated_at)}
CSV_COLUMNS = ("id", "name", "email", "phone", "company", "tags", "vip", "owner_agent_id")
FIELD_TYPES = ("text", "number", "date", "choice")


def _export_value(value: Any) -> Cell:
    """A custom field's value in an export: numbers stay numbers, the rest is text."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return str(value)


def normalize_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = re.sub(r"[^0-9+]", "", phone)
    return digits or None


def contact_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "email": row.email, "phone": row.phone,
        "company": row.company, "tags": list(row.tags or []), "vip": bool(row.vip),
        "owner_agent_id": row.owner_agent_id, "custom": dict(row.custom or {}),
        "language": row.language, "created_at": row.created_at, "updated_at": row.updated_at,
    }


def _by_identity(email: bool, phone: bool) -> Select[Any]:
    c = t.contacts.c
    cond = [*([c.email == bindparam("email")] if email else []), *([c.phone == bindparam("phone")] if phone else [])]
    return select(t.contacts).where(c.merged_into.is_(None), c.erased_at.is_(None), or_(*cond)).order_by(
        c.created_at).limit(1)


#: find_by_identity's statements (by which of email and phone are given), built once
_BY_IDENTITY = {(e, p): _by_identity(e, p) for e in (True, False) for p in (True, False) if e or p}
_CONTACT = select(t.contacts).where(t.contacts.c.id == bindparam("cid"), t.contacts.c.merged_into.is_(None),
                                    t.contacts.c.erased_at.is_(None))

#: fields a contact always has: a PATCH may change them, not clear them
NOT_NULL = ("name", "tags", "vip")
#: fields only a user with ``contacts_manage`` may set (the ACD routes by them: a VIP skips ahead,
#: the owner agent gets the customer first)
STANDING = ("vip", "owner_agent_id")
#: the permission of the destructive or privileged CRM actions: delete, merge, VIP, owner
MANAGE = "contacts_manage"


def standing_change(current: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    """The VIP flag and owner ``values`` would change on ``current`` (None: a new contact), as
    ``{field: {"from": old, "to": new}}``; empty when they change neither."""
    before = current or {"vip": False, "owner_agent_id": None}
    out: dict[str, Any] = {}
    for key in STANDING:
        if key in values and (values[key] or None) != (before[key] or None):
            out[key] = {"from": before[key], "to": values[key]}
    return out


def _manage(by: User | None) -> None:
    """A user (not the system: None) needs ``contacts_manage``."""
    if by is not None:
        by.require(MANAGE)

class ContactService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- custom fields --------------------------------------------------------------------
    async def custom_fields(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.custom_fields).order_by(t.custom_fields.c.key))).all()
        return [dict(r._mapping) for r in rows]

    async def define_custom_field(self, data: dict[str, Any], actor_id: str | None) -> dict[str, Any]:
        if data["type"] not in FIELD_TYPES:
            raise ValidationFailed(f"type must be one of {', '.join(FIELD_TYPES)}")
        if data["type"] == "choice" and not data.get("choices"):
            raise ValidationFailed("a choice field needs choices")
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(t.custom_fields).where(t.custom_fields.c.key == data["key"]))
            await tx.conn.execute(t.custom_fields.insert().values(
                key=data["key"], label=data["label"], type=data["type"], choices=data.get("choices")))
            tx.emit(Event(EventType.ADMIN_CHANGED, self.clock.now(), user_id=actor_id,
                          data={"entity": "custom_field", "id": data["key"], "action": "define"}))
        return {k: data.get(k) for k in ("key", "label", "type", "choices")}

    async def validate(self, data: dict[str, Any], partial: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for key in CONTACT_FIELDS:
            if key not in data:
                continue
            out[key] = data[key]
        if not partial and not (out.get("name") or "").strip():
            errors.append({"loc": ["body", "name"], "msg": "name is required"})
        for key in NOT_NULL:  # found by a schemathesis run: {"vip": null} answered 500
            if key in out and out[key] is None:
                errors.append({"loc": ["body", key], "msg": f"{key} cannot be null"})
        if "name" in out and out["name"] is not None:
            out["name"] = str(out["name"]).strip()
            if partial and not out["name"]:
                errors.append({"loc": ["body", "name"], "msg": "name cannot be empty"})
        if out.get("email"):
            if not EMAIL_RE.match(out["email"]):
                errors.append({"loc": ["body", "email"], "msg": "not an email address"})
            out["email"] = out["email"].strip().lower()
        if out.get("phone"):
            if not PHONE_RE.match(out["phone"]):
                errors.append({"loc": ["body", "phone"], "msg": "not a phone number"})
            out["phone"] = normalize_phone(out["phone"])
        if "custom" in out:
            defs = {f["key"]: f for f in await self.custom_fields()}
            for key, value in (out["custom"] or {}).items():
                fdef = defs.get(key)
                if fdef is None:
                    errors.append({"loc": ["body", "custom", key], "msg": "unknown custom field"})
                elif value is not None and fdef["type"] == "number" and not isinstance(value, int | float):
                    errors.append({"loc": ["body", "custom", key], "msg": "must be a number"})
                elif value is not None and fdef["type"] == "choice" and value not in fdef["choices"]:
                    errors.append({"loc": ["body", "custom", key], "msg": "not one of the choices"})
        if out.get("owner_agent_id"):
            async with self.db.read() as conn:
                if not (await conn.execute(select(t.users.c.id)
                                           .where(t.users.c.id == out["owner_agent_id"]))).first():
                    errors.append({"loc": ["body", "owner_agent_id"], "msg": "unknown user"})
        if errors:
            raise ValidationFailed(errors[0]["msg"], details={"errors": errors})
        return out

    async def create(self, data: dict[str, Any], by: User | None = None,
                     client: Client | None = None) -> dict[str, Any]:
        """A new contact; a VIP or an owner needs ``contacts_manage`` and is audited."""
        values = await self.validate(data, partial=False)
        standing = standing_change(None, values)
        if standing:
            _manage(by)
        async with self.db.tx() as tx:
            contact = await self.insert(tx, values, by.id if by else None)
            if standing:
                tx.emit(self._standing_event(contact["id"], standing, by, client))
            return contact

    def _standing_event(self, cid: str, standing: dict[str, Any], by: User | None,
                        client: Client | None) -> Event:
        return Event(EventType.CONTACT_STANDING_CHANGED, self.clock.now(), user_id=by.id if by else None,
                     data={"contact_id": cid, **standing, **(client or Client()).audit()})

    async def insert(self, tx: Tx, values: dict[str, Any], actor_id: str | None = None) -> dict[str, Any]:
        """Store a new contact from ``validate``d values in the caller's transaction (a channel's
        intake creates the contact and its conversation in one transaction)."""
        row, event = self.new_row(values, actor_id)
        await tx.conn.execute(t.contacts.insert(), row)
        tx.emit(event)
        return contact_public(SimpleNamespace(**row))

    def new_row(self, values: dict[str, Any], actor_id: str | None = None) -> tuple[dict[str, Any], Event]:
        """A new contact's row from ``validate``d values and its event, for a caller that inserts
        it in its own transaction (``insert``, or a synchronous ``Database.write``)."""
        cid = new_id()
        now = self.clock.now()
        row = {"id": cid, "created_at": now, "updated_at": now, "owner_agent_id": None,
               **{"email": None, "phone": None, "company": None, "tags": [], "vip": False,
                  "custom": {}, "language": None, **values}}
        return row, Event(EventType.CONTACT_CREATED, now, user_id=actor_id, data={"contact_id": cid})

    async def get(self, cid: str, tx: Tx | None = None) -> dict[str, Any]:
        """The contact (NotFound if it does not exist or was merged); inside ``tx`` when given."""
        if tx is not None:
            return await tx.conn.run_sync(lambda conn: self.read(conn, cid))
        return await self.db.read_sync(lambda conn: self.read(conn, cid))

    @staticmethod
    def read(conn: Connection, cid: str) -> dict[str, Any]:
        """``get`` on the caller's synchronous connection (a read of several things in one go)."""
        row = conn.execute(_CONTACT, {"cid": cid}).first()
        if row is None:
            raise NotFound(f"contact {cid} does not exist")
        return contact_public(row)

    async def names(self, ids: Iterable[str]) -> dict[str, str]:
        """Contact id → name, for lists that show who a record is about."""
        wanted = {i for i in ids if i}
        if not wanted:
            return {}
        async with self.db.read() as conn:
            return dict((await conn.execute(select(t.contacts.c.id, t.contacts.c.name).where(
                t.contacts.c.id.in_(wanted)))).all())

    async def update(self, cid: str, data: dict[str, Any], by: User | None,
                     client: Client | None = None) -> dict[str, Any]:
        """Change a contact (``by`` None: the system). Changing the VIP flag or the owner needs
        ``contacts_manage`` (sending them unchanged does not) and is audited."""
        current = await self.get(cid)
        values = await self.validate(data, partial=True)
        standing = standing_change(current, values)
        if standing:
            _manage(by)
        if "custom" in values:
            values["custom"] = {**current["custom"], **(values["custom"] or {})}
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.contacts).where(t.contacts.c.id == cid)
                                  .values(updated_at=now, **values))
            tx.emit(Event(EventType.CONTACT_UPDATED, now, user_id=by.id if by else None,
                          data={"contact_id": cid, "fields": sorted(values)}))
            if standing:
                tx.emit(self._standing_event(cid, standing, by, client))
        return await self.get(cid)

    async def delete(self, cid: str, by: User | None, client: Client | None = None) -> None:
        """Delete a contact: needs ``contacts_manage``; audited with the client's IP and agent."""
        _manage(by)
        await self.get(cid)
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(t.contacts).where(t.contacts.c.id == cid))
            tx.emit(Event(EventType.CONTACT_DELETED, self.clock.now(), user_id=by.id if by else None,
                          data={"contact_id": cid, **(client or Client()).audit()}))

    async def search(self, q: str | None = None, tag: str | None = None, vip: bool | None = None,
                     sort: str = "name", limit: int = 50, offset: int = 0) -> dict[str, Any]:
        if sort not in SORTS:
            raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= limit <= 500 or offset < 0:
            raise ValidationFailed("limit must be 1..500 and offset >= 0")
        c = t.contacts.c
        cond: list[ColumnElement[bool]] = [c.merged_into.is_(None), c.erased_at.is_(None)]
        if q:
            like = f"%{q.lower()}%"
            cond.append(or_(func.lower(c.name).like(like), func.lower(c.email).like(like),
                            c.phone.like(f"%{normalize_phone(q) or q}%"),
                            func.lower(c.company).like(like)))
        if tag:
            cond.append(cast(c.tags, Text).like(f'%"{tag}"%'))
        if vip is not None:
            cond.append(c.vip.is_(vip))
        async with self.db.read() as conn:
            total = (await conn.execute(select(func.count()).select_from(t.contacts).where(*cond))).scalar()
            rows = (await conn.execute(select(t.contacts).where(*cond).order_by(SORTS[sort], c.id)
                                       .limit(limit).offset(offset))).all()
        return {"items": [contact_public(r) for r in rows], "total": total}

    async def find_by_identity(self, email: str | None = None, phone: str | None = None) -> dict[str, Any] | None:
        params = {"email": email.strip().lower() if email else None,
                  "phone": normalize_phone(phone) if phone else None}
        query = _BY_IDENTITY.get((params["email"] is not None, bool(params["phone"])))
        if query is None:
            return None
        row = await self.db.read_sync(lambda conn: conn.execute(query, params).first())
        return contact_public(row) if row else None

    async def merge(self, primary_id: str, duplicate_ids: list[str], by: User | None,
                    client: Client | None = None) -> dict[str, Any]:
        """Merge duplicates into ``primary_id``: needs ``contacts_manage``; audited."""
        _manage(by)
        primary = await self.get(primary_id)
        dups = [await self.get(d) for d in duplicate_ids if d != primary_id]
        if not dups:
            raise ValidationFailed("give at least one duplicate other than the primary")
        merged = dict(primary)
        for d in dups:
            for key in ("email", "phone", "company", "owner_agent_id"):
                merged[key] = merged[key] or d[key]
            merged["tags"] = sorted(set(merged["tags"]) | set(d["tags"]))
            merged["vip"] = merged["vip"] or d["vip"]
            merged["custom"] = {**d["custom"], **merged["custom"]}
        now = self.clock.now()
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.contacts).where(t.contacts.c.id == primary_id).values(
                email=merged["email"], phone=merged["phone"], company=merged["company"],
                owner_agent_id=merged["owner_agent_id"], tags=merged["tags"], vip=merged["vip"],
                custom=merged["custom"], updated_at=now))
            ids = [d["id"] for d in dups]
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.contact_id.in_(ids))
                                  .values(contact_id=primary_id))
            # a chat that claimed a merged contact now claims the one kept (hub/services/identity.py)
            await tx.conn.execute(update(t.conversations).where(t.conversations.c.claimed_contact_id.in_(ids))
                                  .values(claimed_contact_id=primary_id))
            await tx.conn.execute(update(t.contacts).where(t.contacts.c.id.in_(ids))
                                  .values(merged_into=primary_id, email=None, phone=None, updated_at=now))
            tx.emit(Event(EventType.CONTACT_MERGED, now, user_id=by.id if by else None,
                          data={"contact_id": primary_id, "merged": ids, **(client or Client()).audit()}))
        return await self.get(primary_id)

    # --- CSV --------------------------------------------------------------------------------
    async def export_rows(self) -> tuple[list[str], list[list[Cell]]]:
        """The header and rows of a contacts export (CSV or XLSX; hub/services/spreadsheets.py
        keeps text cells inert): numbers of ``number`` custom fields stay numbers."""
        fields = [f["key"] for f in await self.custom_fields()]
        header = [*CSV_COLUMNS, *(f"custom.{k}" for k in fields)]
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.contacts).where(t.contacts.c.merged_into.is_(None),
                                                                t.contacts.c.erased_at.is_(None))
                                       .order_by(t.contacts.c.name))).all()
        out: list[list[Cell]] = []
        for r in rows:
            c = contact_public(r)
            out.append([c["id"], c["name"], c["email"] or "", c["phone"] or "", c["company"] or "",
                        ";".join(c["tags"]), "yes" if c["vip"] else "no", c["owner_agent_id"] or "",
                        *(_export_value(c["custom"].get(k)) for k in fields)])
        return header, out

    async def export_csv(self, by: User, client: Client) -> str:
        header, rows = await self._export(by, client, "csv")
        return csv_text(header, rows)

    async def export_xlsx(self, by: User, client: Client) -> bytes:
        header, rows = await self._export(by, client, "xlsx")
        book = XlsxBook()
        sheet = book.sheet("Contacts")
        book.append(sheet, header)
        for row in rows:
            book.append(sheet, row)
        return book.to_bytes()

    async def _export(self, by: User, client: Client, fmt: str) -> tuple[list[str], list[list[Cell]]]:
        """The export's rows, and who took them (``contact.exported``, in the audit trail)."""
        header, rows = await self.export_rows()
        async with self.db.tx() as tx:
            tx.emit(Event(EventType.CONTACT_EXPORTED, self.clock.now(), user_id=by.id,
                          data={"format": fmt, "rows": len(rows), **client.audit()}))
        return header, rows

    async def import_csv(self, text: str, by: User | None) -> dict[str, Any]:
        """Each good row is kept; each bad row is reported with its line number and changes nothing."""
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "name" not in reader.fieldnames:
            raise ValidationFailed("the CSV needs a header row with at least a 'name' column")
        defs = {f["key"]: f for f in await self.custom_fields()}
        created = updated = 0
        errors: list[dict[str, Any]] = []
        for line, cells in enumerate(reader, start=2):
            # cells our export escaped against formula injection come back as they were
            raw = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in cells.items()}
            try:
                data: dict[str, Any] = {"name": raw.get("name") or ""}
                for key in ("email", "phone", "company"):
                    if raw.get(key):
                        data[key] = raw[key]
                if raw.get("tags"):
                    data["tags"] = [x.strip() for x in raw["tags"].split(";") if x.strip()]
                if raw.get("vip"):
                    data["vip"] = raw["vip"].strip().lower() in {"1", "yes", "true", "y"}
                custom = {}
                for col, value in raw.items():
                    if col and col.startswith("custom.") and value not in (None, ""):
                        key = col.removeprefix("custom.")
                        if key in defs and defs[key]["type"] == "number":
                            try:
                                value = float(value) if "." in value else int(value)
                            except ValueError as err:
                                raise ValidationFailed(f"custom.{key} must be a number") from err
                        custom[key] = value
                if custom:
                    data["custom"] = custom
                existing = None
                if raw.get("id"):
                    try:
                        existing = await self.get(raw["id"])
                    except NotFound:
                        existing = None
                if existing is None:
                    existing = await self.find_by_identity(data.get("email"), data.get("phone"))
                if existing:
                    await self.update(existing["id"], data, by)
                    updated += 1
                else:
                    await self.create(data, by)
                    created += 1
            except ValidationFailed as err:
                errors.append({"row": line, "message": err.detail})
        return {"created": created, "updated": updated, "errors": errors}
