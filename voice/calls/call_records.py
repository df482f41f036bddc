"""Call records (CDR, ``voice_calls``) for people: search with paging, one call with its per-leg
history, and the CSV / XLSX export.

Who sees what follows the conversations (``ConversationService.visible``): a user with
``supervise`` sees every call; a user with ``desk`` (an agent) the calls whose conversation they
may see (their queues, the ones they handled or were offered); anyone else gets 403. A call an
agent may not see answers 404, as if it did not exist. Every export stores a
``voice.calls_exported`` event (who, format, rows, filters, client) in the audit trail.

Exported cells go through :mod:`hub.services.spreadsheets`: text that a spreadsheet would read as
a formula (``=``, ``+``, ``-``, ``@`` …) gets a quote in front; numbers stay numbers.

REST (docs/API.md, "Voice"):

- ``GET /api/voice/calls`` (supervise) – live calls, counters and a page of call records
  (``limit``/``offset`` with ``total``; filters as below) — registered by the component;
- ``GET /api/voice/calls/{id}`` (supervise|desk) – one call record with its history;
- ``GET /api/voice/calls/export?format=csv|xlsx`` (supervise|desk) – the records matching the
  filters, newest first, at most :data:`MAX_EXPORT_ROWS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, cast, func, select
from starlette.requests import Request
from starlette.responses import Response

import voice.calls.schemas as S
from hub.api.http import Api, current_user, json_response, parse_query, request_client
from hub.api.schemas import MAX_OFFSET
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.events import Event
from hub.services.auth import User
from hub.services.spreadsheets import XLSX_MEDIA_TYPE, Cell, XlsxBook, csv_text
from voice.calls.events import VoiceEventType
from voice.calls.history import Segment
from voice.calls.tables import calls as t_calls
from voice.calls.tables import recordings as t_rec

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.app import Services

__all__ = ["MAX_EXPORT_ROWS", "CallQuery", "CallRecords", "register_api"]

MAX_EXPORT_ROWS = 50_000


class CallFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: float | None = Field(None, description="call started at or after (epoch seconds)")
    until: float | None = Field(None, description="call started before (epoch seconds)")
    queue_id: str | None = Field(None, max_length=32, description="the queue the call ended in")
    agent_id: str | None = Field(None, max_length=32, description="an agent the caller talked to")
    caller: str | None = Field(None, max_length=64, description="part of the caller's number")
    end_reason: str | None = Field(None, max_length=32)


class CallQuery(CallFilters):
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class CallExportQuery(CallFilters):
    format: Literal["csv", "xlsx"] = "csv"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _iso(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


EXPORT_HEADER = ("id", "started_at", "caller", "callee", "direction", "source", "queue", "agent", "agents",
                 "answered_at", "connected_at", "ended_at", "end_reason", "wait_s", "talk_s", "hold_s",
                 "recorded", "conversation_id", "history")


class CallRecords:
    def __init__(self, services: Services) -> None:
        self.services = services

    # -- who sees which call ------------------------------------------------------------------------

    def _scope(self, user: User) -> list[Any]:
        """Conditions on ``voice_calls`` limiting it to what ``user`` may see."""
        perms = user.permissions
        if "supervise" not in perms and "desk" not in perms:
            raise Forbidden("call records need the 'supervise' or 'desk' permission")
        visible = self.services.conversations.visible_ids(user)
        return [] if visible is None else [t_calls.c.conversation_id.in_(visible)]

    def _conditions(self, user: User | None, q: CallFilters) -> list[Any]:
        if q.since is not None and q.until is not None and q.until <= q.since:
            raise ValidationFailed("'until' must be after 'since'")
        c = t_calls.c
        cond = self._scope(user) if user is not None else []
        if q.since is not None:
            cond.append(c.started_at >= q.since)
        if q.until is not None:
            cond.append(c.started_at < q.until)
        if q.queue_id:
            cond.append(c.queue_id == q.queue_id)
        if q.agent_id:  # the last agent, or any agent of the history (a consulted transfer's first)
            cond.append((c.agent_id == q.agent_id)
                        | cast(c.segments, String).like(_like(f'"agent_id": "{q.agent_id}"'), escape="\\"))
        if q.caller:
            cond.append(c.caller.like(_like(q.caller), escape="\\"))
        if q.end_reason:
            cond.append(c.end_reason == q.end_reason)
        return cond

    @staticmethod
    def _select() -> Any:
        return (select(t_calls, t_rec.c.duration_s.label("recording_duration_s"),
                       t_rec.c.attachment_id.label("recording_attachment_id"),
                       t_rec.c.id.label("recording_row_id"))
                .select_from(t_calls.outerjoin(t_rec, t_rec.c.call_id == t_calls.c.id)))

    # -- reading ------------------------------------------------------------------------------------

    async def page(self, user: User | None, q: CallQuery) -> dict[str, Any]:
        """A page of records, newest first, with the total that match (``user`` None: all)."""
        cond = self._conditions(user, q)
        query = (self._select().where(*cond).order_by(t_calls.c.started_at.desc(), t_calls.c.id)
                 .limit(q.limit).offset(q.offset))
        count = select(func.count()).select_from(t_calls).where(*cond)
        async with self.services.db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (await conn.execute(count)).scalar_one()
        return {"records": [self.public(r) for r in rows], "total": int(total), "limit": q.limit,
                "offset": q.offset}

    async def get(self, user: User, call_id: str) -> dict[str, Any]:
        cond = self._scope(user)
        async with self.services.db.read() as conn:
            r = (await conn.execute(self._select().where(t_calls.c.id == call_id, *cond))).first()
        if r is None:
            raise NotFound(f"call {call_id} does not exist")
        return self.public(r)

    def public(self, r: Any) -> dict[str, Any]:
        """A record with the names of its queue and agents and its history (``segments``)."""
        conv = self.services.conversations
        queues, users = conv.queue_names, conv.user_names
        out = {k: v for k, v in r._mapping.items() if k != "recording_row_id"}
        segments = [Segment.from_public(s).public() for s in (r.segments or [])]
        for s in segments:
            s["agent_name"] = users.get(s["agent_id"] or "")
            s["queue_name"] = queues.get(s["queue_id"] or "")
        agents = list(dict.fromkeys(s["agent_id"] for s in segments if s["agent_id"]))
        if not agents and r.agent_id:
            agents = [r.agent_id]
        out.update(segments=segments, agents=[{"id": a, "name": users.get(a)} for a in agents],
                   queue_name=queues.get(r.queue_id or ""), agent_name=users.get(r.agent_id or ""),
                   recording_row_id=r.recording_row_id)
        return out

    # -- export -------------------------------------------------------------------------------------

    async def export(self, request: Request, user: User, q: CallExportQuery) -> Response:
        cond = self._conditions(user, q)
        query = (self._select().where(*cond).order_by(t_calls.c.started_at.desc(), t_calls.c.id)
                 .limit(MAX_EXPORT_ROWS))
        async with self.services.db.read() as conn:
            rows = [self.public(r) for r in (await conn.execute(query)).all()]
        cells = [self._cells(r) for r in rows]
        async with self.services.db.tx() as tx:
            tx.emit(Event(VoiceEventType.CALLS_EXPORTED, self.services.clock.now(), user_id=user.id,
                          data={"format": q.format, "rows": len(cells),
                                "filters": q.model_dump(exclude={"format"}, exclude_none=True),
                                **request_client(request).audit()}))
        stamp = dt.datetime.fromtimestamp(self.services.clock.now(), dt.UTC).strftime("%Y%m%d-%H%M")
        if q.format == "xlsx":
            book = XlsxBook()
            sheet = book.sheet("Calls")
            for row in (EXPORT_HEADER, *cells):
                book.append(sheet, row)
            return Response(book.to_bytes(), media_type=XLSX_MEDIA_TYPE,
                            headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.xlsx"'})
        return Response(csv_text(EXPORT_HEADER, cells), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.csv"'})

    @staticmethod
    def _cells(r: dict[str, Any]) -> Sequence[Cell]:
        history = " > ".join(
            f"{s['kind']}" + "".join(f" {x}" for x in (s["agent_name"] or s["agent_id"], s["party"]) if x)
            + f" {s['duration_s']:.0f}s" for s in r["segments"])
        return (r["id"], _iso(r["started_at"]), r["caller"], r["callee"], r["direction"], r["source"],
                r["queue_name"] or r["queue_id"], r["agent_name"] or r["agent_id"],
                ", ".join(a["name"] or a["id"] for a in r["agents"]), _iso(r["answered_at"]),
                _iso(r["connected_at"]), _iso(r["ended_at"]), r["end_reason"],
                *(None if r[k] is None else round(r[k], 1) for k in ("wait_s", "talk_s", "hold_s")),
                "yes" if r["recording_id"] else "no", r["conversation_id"], history)


def register_api(api: Api, records: Callable[[], CallRecords]) -> None:
    """The routes of one call and the export (the list is the component's ``/api/voice/calls``)."""

    @api.add("/api/voice/calls/export", "GET", "Export call records as CSV or XLSX (format=csv|xlsx)",
             tag="voice", query=CallExportQuery, access="supervise|desk")
    async def export(request: Request) -> Response:
        user = await current_user(request)
        return await records().export(request, user, parse_query(request, CallExportQuery))

    @api.add("/api/voice/calls/{id}", "GET", "One call record with its per-leg history", tag="voice",
             response=S.CallRecord, access="supervise|desk")
    async def one(request: Request) -> Response:
        user = await current_user(request)
        return json_response(await records().get(user, request.path_params["id"]))
