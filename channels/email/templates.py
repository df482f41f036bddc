"""Stored email templates: name, subject, plain-text body and optional HTML, with placeholders.

Placeholders are ``{{contact.name}}`` (spaces inside the braces allowed); the single-brace form
``{contact.name}`` of the automation rules' ``send_template`` action (``workflows/rules.py``) is
accepted too, so one text works in both places. The set of placeholders is fixed
(:data:`FIELDS`); a template naming any other is refused when it is saved (422) — nothing is
evaluated, a placeholder is only looked up in a dictionary, so a template can never run code.
Rendering escapes every value put into the HTML version. A value the context lacks (a contact
without a phone number) renders as an empty string."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from channels.email.tables import email_templates
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.security import new_id

if TYPE_CHECKING:
    from hub.app import Services
    from hub.services.auth import User

#: Every placeholder a template may use.
FIELDS: tuple[str, ...] = (
    "contact.name", "contact.email", "contact.phone",
    "conversation.id", "conversation.subject",
    "agent.name",
)
_ROOTS = {f.split(".")[0] for f in FIELDS}
# {{ anything }} (checked strictly) or {root.field} (the automation-rule form)
_DOUBLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SINGLE = re.compile(r"(?<!\{)\{([a-z_]+(?:\.[a-z0-9_]+)+)\}(?!\})")


def placeholders(text: str) -> list[str]:
    """The placeholders ``text`` uses, in order, without repeats."""
    found = [m.group(1) for m in _DOUBLE.finditer(text)]
    found += [m.group(1) for m in _SINGLE.finditer(_DOUBLE.sub("", text))
              if m.group(1).split(".")[0] in _ROOTS]
    return list(dict.fromkeys(found))


def check(fields: Mapping[str, str | None]) -> None:
    """Raise 422 naming every unknown placeholder of the given template fields."""
    unknown: dict[str, list[str]] = {}
    for name, text in fields.items():
        bad = [p for p in placeholders(text or "") if p not in FIELDS]
        if bad:
            unknown[name] = bad
    if unknown:
        listed = sorted({p for bad in unknown.values() for p in bad})
        raise ValidationFailed(
            f"unknown placeholder(s) {', '.join('{{' + p + '}}' for p in listed)}; "
            f"known: {', '.join('{{' + f + '}}' for f in FIELDS)}",
            details={"unknown": unknown, "known": list(FIELDS)})


def _value(ctx: Mapping[str, Any], path: str) -> str:
    root, _, key = path.partition(".")
    value = (ctx.get(root) or {}).get(key)
    return "" if value is None else str(value)


def render_text(text: str, ctx: Mapping[str, Any], escape: bool = False) -> str:
    def sub(m: re.Match[str]) -> str:
        path = m.group(1)
        if path not in FIELDS:
            return m.group(0)  # not ours (checked at save); left as written
        value = _value(ctx, path)
        return htmllib.escape(value) if escape else value

    return _SINGLE.sub(sub, _DOUBLE.sub(sub, text))


def render(tpl: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``{subject, body, html}`` of a template (or a job's copy of one) for one context."""
    subject = " ".join(render_text(tpl["subject"], ctx).split())[:300]
    return {"subject": subject, "body": render_text(tpl["body"], ctx),
            "html": render_text(tpl["html"], ctx, escape=True) if tpl.get("html") else None}


def clean_html(html: str | None) -> str | None:
    """Template HTML as stored: no scripts, handlers or embedded objects (nh3's defaults)."""
    if html is None or not html.strip():
        return None
    import nh3

    return nh3.clean(html, link_rel="noopener noreferrer")


def public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "subject": row.subject, "body": row.body,
            "html": row.html, "created_by": row.created_by, "created_at": row.created_at,
            "updated_at": row.updated_at,
            "placeholders": placeholders(f"{row.subject}\n{row.body}\n{row.html or ''}")}


class TemplateService:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.db = services.db

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        name = (data.get("name") or "").strip()
        subject = " ".join((data.get("subject") or "").split())
        body = data.get("body") or ""
        if not name:
            raise ValidationFailed("the template needs a name")
        if not subject:
            raise ValidationFailed("the template needs a subject")
        if not body.strip():
            raise ValidationFailed("the template needs a text body")
        html = data.get("html")
        check({"subject": subject, "body": body, "html": html})
        return {"name": name, "subject": subject, "body": body, "html": clean_html(html)}

    async def list(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(email_templates).order_by(email_templates.c.name))).all()
        return [public(r) for r in rows]

    async def get(self, tid: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(email_templates).where(email_templates.c.id == tid))).first()
        if row is None:
            raise NotFound(f"email template {tid} does not exist")
        return public(row)

    async def create(self, data: Mapping[str, Any], user: User) -> dict[str, Any]:
        values = self.validate(data)
        tid, now = new_id(), self.s.clock.now()
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(email_templates.insert().values(
                    id=tid, created_by=user.id, created_at=now, updated_at=now, **values))
        except IntegrityError as err:
            raise Conflict(f"a template named {values['name']!r} exists already") from err
        return await self.get(tid)

    async def update(self, tid: str, data: Mapping[str, Any]) -> dict[str, Any]:
        current = await self.get(tid)
        values = self.validate({**current, **data})
        try:
            async with self.db.tx() as tx:
                await tx.conn.execute(update(email_templates).where(email_templates.c.id == tid)
                                      .values(updated_at=self.s.clock.now(), **values))
        except IntegrityError as err:
            raise Conflict(f"a template named {values['name']!r} exists already") from err
        return await self.get(tid)

    async def delete(self, tid: str) -> None:
        async with self.db.tx() as tx:
            r = await tx.conn.execute(delete(email_templates).where(email_templates.c.id == tid))
        if not r.rowcount:
            raise NotFound(f"email template {tid} does not exist")

    @staticmethod
    def fill(tpl: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
        """``render`` for other components (the automation rules), through the service object."""
        return render(tpl, ctx)

    async def conversation_context(self, cid: str, user: User) -> dict[str, Any]:
        row = await self.s.conversations.row(cid)
        contact: dict[str, Any] = {}
        if row.contact_id:
            try:
                contact = await self.s.contacts.get(row.contact_id)
            except NotFound:
                contact = {}
        return {"contact": {k: contact.get(k) for k in ("name", "email", "phone")},
                "conversation": {"id": row.id, "subject": row.subject},
                "agent": {"name": user.display_name}}
