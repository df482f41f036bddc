"""Workflows' personal data (hub/services/privacy.py): the tickets and work orders about a contact
(theirs, or linked to their conversations), their histories, callbacks and the notifications that
quote them. Erasure keeps every ticket and work order (the reports count them) and removes what
identifies the person: a work order's address, and the person's name, email addresses, phone
numbers and addresses wherever they are written in subjects, descriptions, notes and history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.uow import Tx
from hub.ports import DataSubject, Erased, ExportEntry
from hub.services.privacy import Redactor, json_entry, plain_rows
from workflows import tables as w

#: text and JSON columns redacted in each table
_TEXT: dict[str, tuple[str, ...]] = {
    "tickets": ("subject", "description", "meta"),
    "ticket_history": ("body", "data"),
    "work_orders": ("title", "description", "result", "meta"),
    "work_order_history": ("body", "data"),
    "callbacks": ("note",),
    "notifications": ("title", "body", "params"),  # params: what the UI says, quoting the same
}


class WorkflowsPersonalData:
    name = "workflows"

    def retention_days(self) -> Mapping[str, float]:
        return {}

    async def _ids(self, conn: AsyncConnection, subject: DataSubject) -> tuple[list[str], list[str]]:
        """The subject's tickets and work orders."""
        linked = select(w.ticket_conversations.c.ticket_id).where(
            w.ticket_conversations.c.conversation_id.in_(subject.conversation_ids))
        tickets = (await conn.execute(select(w.tickets.c.id).where(or_(
            w.tickets.c.contact_id.in_(subject.contact_ids), w.tickets.c.id.in_(linked))))).scalars().all()
        c = w.work_orders.c
        orders = (await conn.execute(select(c.id).where(or_(
            c.contact_id.in_(subject.contact_ids), c.conversation_id.in_(subject.conversation_ids),
            c.ticket_id.in_(tickets))))).scalars().all()
        return list(tickets), list(orders)

    def _callbacks(self, subject: DataSubject) -> Any:
        c = w.callbacks.c
        return or_(c.contact_id.in_(subject.contact_ids), c.conversation_id.in_(subject.conversation_ids),
                   c.phone.in_(subject.phones))

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        if subject.contact_id is None:
            return []
        tickets, orders = await self._ids(conn, subject)

        async def rows(table: Table, where: Any) -> list[dict[str, Any]]:
            return plain_rows((await conn.execute(select(table).where(where))).all())

        return [json_entry("workflows/tickets.json", await rows(w.tickets, w.tickets.c.id.in_(tickets))),
                json_entry("workflows/ticket_history.json",
                           await rows(w.ticket_history, w.ticket_history.c.ticket_id.in_(tickets))),
                json_entry("workflows/work_orders.json", await rows(w.work_orders, w.work_orders.c.id.in_(orders))),
                json_entry("workflows/work_order_history.json",
                           await rows(w.work_order_history, w.work_order_history.c.work_order_id.in_(orders))),
                json_entry("workflows/callbacks.json", await rows(w.callbacks, self._callbacks(subject)))]

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        done = Erased()
        if "identity" not in subject.parts:
            return done
        conn = tx.conn
        tickets, orders = await self._ids(conn, subject)
        addresses = (await conn.execute(select(w.work_orders.c.address).where(
            w.work_orders.c.id.in_(orders), w.work_orders.c.address.is_not(None)))).scalars().all()
        done.terms += [a for a in addresses if a.strip()]
        redactor = Redactor([*subject.terms, *done.terms], subject.phones)
        # the rows stay (reports count them), no longer linked to the erased contact
        await conn.execute(update(w.work_orders).where(w.work_orders.c.id.in_(orders)).values(
            address=None, contact_id=None))
        await conn.execute(update(w.tickets).where(w.tickets.c.id.in_(tickets)).values(contact_id=None))
        await conn.execute(update(w.callbacks).where(self._callbacks(subject)).values(phone=None, contact_id=None))
        targets: list[tuple[Table, Any]] = [
            (w.tickets, w.tickets.c.id.in_(tickets)),
            (w.ticket_history, w.ticket_history.c.ticket_id.in_(tickets)),
            (w.work_orders, w.work_orders.c.id.in_(orders)),
            (w.work_order_history, w.work_order_history.c.work_order_id.in_(orders)),
            (w.callbacks, self._callbacks(subject)),
            (w.notifications, self._quoting(redactor))]
        for table, where in targets:
            done.counts[str(table.name)] = await _redact_rows(conn, table, where, redactor)
        return done

    @staticmethod
    def _quoting(redactor: Redactor) -> Any:
        """Notifications whose title or body names the subject (a ticket's subject quoted)."""
        c = w.notifications.c
        found = [f(col).contains(term.lower(), autoescape=True)
                 for term in redactor.terms for col in (c.title, c.body) for f in (func.lower,)]
        return or_(*found) if found else c.id.is_(None)


async def _redact_rows(conn: AsyncConnection, table: Table, where: Any, redactor: Redactor) -> int:
    cols = _TEXT[str(table.name)]
    rows = (await conn.execute(select(table.c.id, *(table.c[k] for k in cols)).where(where))).all()
    for r in rows:
        values = {k: redactor.value(getattr(r, k)) for k in cols}
        await conn.execute(update(table).where(table.c.id == r.id).values(**values))
    return len(rows)
