"""Call recordings (VOICE-5): search, download, retention and the per-queue recording choice.

Who sees what: a user with ``supervise`` (supervisors, admins) sees every recording; a user with
``desk`` but not ``supervise`` (an agent) sees only the recordings of calls *they* answered
(``voice_calls.agent_id``); anyone else gets 403. A recording an agent may not see answers 404,
as if it did not exist. The WAV is an attachment of the conversation whose ``route`` is this
module's audio route, so ``GET /api/attachments/{id}`` does not serve it to the queue's members.
Every request for the audio (range requests included) stores a ``voice.recording_downloaded``
event with the user, the byte range, the client's IP address and user agent, shown in the audit
trail.

Retention: ``voice_recording_retention_days`` (0: keep forever). A durable scheduler timer
(``voice.recordings.purge``, key ``voice:recordings-purge``) fires once a day and deletes the
recordings older than that: the ``voice_recordings`` row, the attachment row and the WAV file.
The call record (CDR) and the conversation stay; the purge stores a ``voice.recordings_purged``
event with the count and bytes.

Per-queue choice (``voice_queue_settings.record``): yes, no, or unset (the global
``voice_recording`` setting). The recorder runs from the moment a call is answered (before the
IVR has picked a queue) whenever any call could be recorded; when the call ends, the queue it ended
in decides whether the WAV is kept: a call of a queue set to "no" is never written to disk.

REST (docs/API.md, "Voice recordings"):

- ``GET /api/voice/recordings`` – search (time range, agent, caller, callee, queue, duration; paged);
- ``GET /api/voice/recordings/{id}`` – one recording with its call record;
- ``GET /api/voice/recordings/{id}/audio`` – the WAV (range requests; ``?download=1``: attachment);
- ``GET /api/voice/queue-settings`` (supervise) and ``PUT /api/voice/queue-settings/{queue_id}``
  (admin) – the per-queue recording choice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select, update
from starlette.requests import Request
from starlette.responses import FileResponse, Response

import voice.calls.schemas as S
import voice.calls.store as store
from hub.api.http import (
    Api,
    current_user,
    json_response,
    parse_body,
    parse_query,
    request_client,
    require,
)
from hub.api.schemas import MAX_OFFSET
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.events import Event, EventType
from hub.services.auth import User
from hub.services.scheduler import Timer
from voice.calls.events import VoiceEventType
from voice.calls.recording_tables import queue_settings as t_qs
from voice.calls.settings import VoiceSettings
from voice.calls.tables import calls as t_calls
from voice.calls.tables import recordings as t_rec

if TYPE_CHECKING:
    from hub.app import Services

__all__ = ["PURGE_KEY", "PURGE_KIND", "RecordingPolicy", "Recordings"]

log = logging.getLogger(__name__)

PURGE_KIND = "voice.recordings.purge"
PURGE_KEY = "voice:recordings-purge"
DAY_S = 86400.0
_BATCH = 200


class RecordingPolicy:
    """Which calls are recorded: the global default and the queues that say otherwise."""

    def __init__(self, default: bool) -> None:
        self.default = default
        self.queues: dict[str, bool] = {}

    def capture(self) -> bool:
        """Whether a newly answered call needs a recorder (its queue may still change)."""
        return self.default or any(self.queues.values())

    def keep(self, queue_id: str | None) -> bool:
        """Whether the recording of a call that ended in ``queue_id`` is stored."""
        if queue_id is not None and queue_id in self.queues:
            return self.queues[queue_id]
        return self.default


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: float | None = Field(None, description="call started at or after (epoch seconds)")
    until: float | None = Field(None, description="call started before (epoch seconds)")
    agent_id: str | None = None
    caller: str | None = Field(None, max_length=64, description="part of the caller's number")
    callee: str | None = Field(None, max_length=64, description="part of the dialled number")
    queue_id: str | None = None
    min_duration: float | None = Field(None, ge=0)
    max_duration: float | None = Field(None, ge=0)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class QueueSettingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: bool | None = Field(description="record calls of this queue; null: the global setting")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _scope(user: User) -> str | None:
    """``None``: every recording; a user id: only that agent's calls."""
    perms = user.permissions
    if "supervise" in perms:
        return None
    if "desk" in perms:
        return user.id
    raise Forbidden("recordings need the 'supervise' or 'desk' permission")


def _row(r: Any, file: dict[str, Any] | None, queue_name: str | None,
         agent_name: str | None) -> dict[str, Any]:
    return {
        "id": r.id, "call_id": r.call_id, "conversation_id": r.conversation_id,
        "attachment_id": r.attachment_id, "duration_s": r.duration_s, "channels": r.channels,
        "sample_rate": r.sample_rate, "created_at": r.created_at,
        "size": file["size"] if file else None, "filename": file["filename"] if file else None,
        "caller": r.caller, "callee": r.callee, "direction": r.direction, "source": r.source,
        "queue_id": r.queue_id, "queue_name": queue_name, "agent_id": r.agent_id,
        "agent_name": agent_name, "started_at": r.started_at, "connected_at": r.connected_at,
        "ended_at": r.ended_at, "end_reason": r.end_reason, "wait_s": r.wait_s, "talk_s": r.talk_s,
        "audio_url": store.recording_audio_url(r.id),
    }


def _select() -> Any:
    return (select(t_rec, t_calls.c.caller, t_calls.c.callee, t_calls.c.direction, t_calls.c.source,
                   t_calls.c.queue_id, t_calls.c.agent_id, t_calls.c.started_at, t_calls.c.connected_at,
                   t_calls.c.ended_at, t_calls.c.end_reason, t_calls.c.wait_s, t_calls.c.talk_s)
            .select_from(t_rec.join(t_calls, t_calls.c.id == t_rec.c.call_id)))


class Recordings:
    """Owned by the voice component; works whether or not the SIP service runs (stored
    recordings stay searchable and the retention keeps purging with voice off)."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.policy = RecordingPolicy(True)

    @property
    def services(self) -> Services:
        assert self._services is not None, "the voice component is not started"
        return self._services

    async def start(self, services: Services) -> None:
        self._services = services
        self.policy.default = services.settings.section(VoiceSettings).recording
        async with services.db.read() as conn:
            rows = (await conn.execute(select(t_qs).where(t_qs.c.record.is_not(None)))).all()
        self.policy.queues = {r.queue_id: bool(r.record) for r in rows}
        # a change made through another server process
        services.bus.subscribe(self._on_event, types=(EventType.ADMIN_CHANGED,), name="voice.recordings")
        services.scheduler.on(PURGE_KIND, self._on_timer)
        retention = services.settings.section(VoiceSettings).recording_retention_days
        if retention > 0 and await services.scheduler.find(PURGE_KEY) is None:
            async with services.db.tx() as tx:  # the first purge now (catch-up), then daily
                await services.scheduler.schedule(tx, kind=PURGE_KIND, due_at=services.clock.now(),
                                                  payload={}, key=PURGE_KEY)

    # -- search and download ----------------------------------------------------------------------

    async def search(self, user: User, q: SearchQuery) -> dict[str, Any]:
        scope = _scope(user)
        if q.since is not None and q.until is not None and q.until <= q.since:
            raise ValidationFailed("'until' must be after 'since'")
        if q.min_duration is not None and q.max_duration is not None and q.max_duration < q.min_duration:
            raise ValidationFailed("'max_duration' must not be below 'min_duration'")
        c = t_calls.c
        cond: list[Any] = []
        if scope is not None:
            cond.append(c.agent_id == scope)
        if q.agent_id:
            cond.append(c.agent_id == q.agent_id)
        if q.since is not None:
            cond.append(c.started_at >= q.since)
        if q.until is not None:
            cond.append(c.started_at < q.until)
        if q.caller:
            cond.append(c.caller.like(_like(q.caller), escape="\\"))
        if q.callee:
            cond.append(c.callee.like(_like(q.callee), escape="\\"))
        if q.queue_id:
            cond.append(c.queue_id == q.queue_id)
        if q.min_duration is not None:
            cond.append(t_rec.c.duration_s >= q.min_duration)
        if q.max_duration is not None:
            cond.append(t_rec.c.duration_s <= q.max_duration)
        query = _select().where(*cond).order_by(c.started_at.desc(), t_rec.c.id).limit(q.limit).offset(q.offset)
        count = (select(func.count()).select_from(t_rec.join(t_calls, t_calls.c.id == t_rec.c.call_id))
                 .where(*cond))
        async with self.services.db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = (await conn.execute(count)).scalar_one()
        return {"items": await self._public(rows), "total": int(total), "limit": q.limit, "offset": q.offset}

    async def _public(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows with their file's size and name, the queue's and the agent's names."""
        s = self.services
        files = await s.attachments.describe(r.attachment_id for r in rows if r.attachment_id)
        queues, agents = s.conversations.queue_names, s.conversations.user_names
        return [_row(r, files.get(r.attachment_id or ""), queues.get(r.queue_id or ""),
                     agents.get(r.agent_id or "")) for r in rows]

    async def get(self, user: User, rid: str) -> dict[str, Any]:
        scope = _scope(user)
        async with self.services.db.read() as conn:
            r = (await conn.execute(_select().where(t_rec.c.id == rid))).first()
        if r is None or (scope is not None and r.agent_id != scope):
            raise NotFound(f"recording {rid} does not exist")
        [public] = await self._public([r])
        return public

    async def audio(self, request: Request, user: User, rid: str) -> Response:
        rec = await self.get(user, rid)
        if rec["attachment_id"] is None or rec["filename"] is None:
            raise NotFound(f"the audio of recording {rid} is gone")
        path = self.services.attachments.path_for(rec["attachment_id"])
        if not await asyncio.to_thread(path.exists):
            raise NotFound(f"the audio of recording {rid} is gone")
        async with self.services.db.tx() as tx:  # every request, a range request too
            tx.emit(Event(VoiceEventType.RECORDING_DOWNLOADED, self.services.clock.now(), user_id=user.id,
                          conversation_id=rec["conversation_id"], queue_id=rec["queue_id"],
                          data={"recording_id": rid, "call_id": rec["call_id"],
                                "download": request.query_params.get("download") == "1",
                                "range": request.headers.get("range"),
                                **request_client(request).audit()}))
        disposition = "attachment" if request.query_params.get("download") == "1" else "inline"
        return FileResponse(path, media_type="audio/wav", filename=rec["filename"],
                            content_disposition_type=disposition,
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})

    # -- retention --------------------------------------------------------------------------------

    async def purge(self) -> dict[str, int]:
        """Delete the recordings older than the retention (rows and files; never the CDR)."""
        s = self.services
        days = s.settings.section(VoiceSettings).recording_retention_days
        if days <= 0:
            return {"deleted": 0, "bytes": 0}
        cutoff = s.clock.now() - days * DAY_S
        deleted = size = 0
        while True:
            async with s.db.read() as conn:
                rows = (await conn.execute(
                    select(t_rec.c.id, t_rec.c.call_id, t_rec.c.attachment_id)
                    .where(t_rec.c.created_at < cutoff).order_by(t_rec.c.created_at).limit(_BATCH))).all()
            if not rows:
                break
            ids = [r.id for r in rows]
            att_ids = [r.attachment_id for r in rows if r.attachment_id]
            files = await s.attachments.describe(att_ids)
            async with s.db.tx() as tx:
                await tx.conn.execute(delete(t_rec).where(t_rec.c.id.in_(ids)))
                await tx.conn.execute(update(t_calls).where(t_calls.c.id.in_([r.call_id for r in rows]))
                                      .values(recording_id=None))
                await s.attachments.forget(tx, att_ids)
            await s.attachments.unlink(att_ids)  # after the commit: a failed commit leaves the files
            deleted += len(rows)
            size += sum(f["size"] or 0 for f in files.values())
        if deleted:
            async with s.db.tx() as tx:
                tx.emit(Event(VoiceEventType.RECORDINGS_PURGED, s.clock.now(),
                              data={"deleted": deleted, "bytes": size, "older_than": cutoff,
                                    "retention_days": days}))
            log.info("voice: purged %d recordings (%d bytes) older than %s days", deleted, size, days)
        return {"deleted": deleted, "bytes": size}

    async def _on_timer(self, timer: Timer) -> None:
        s = self.services
        await self.purge()
        async with s.db.tx() as tx:
            if await s.scheduler.complete(tx, timer) and s.settings.section(VoiceSettings).recording_retention_days > 0:
                await s.scheduler.schedule(tx, kind=PURGE_KIND, due_at=s.clock.now() + DAY_S, payload={},
                                           key=PURGE_KEY)

    # -- per-queue choice -------------------------------------------------------------------------

    async def queue_settings(self) -> list[dict[str, Any]]:
        queues = await self.services.directory.list_queues()
        async with self.services.db.read() as conn:
            rows = {r.queue_id: r for r in (await conn.execute(select(t_qs))).all()}
        out = []
        for q in queues:
            r = rows.get(q["id"])
            record = None if r is None or r.record is None else bool(r.record)
            out.append({"queue_id": q["id"], "name": q["name"], "record": record,
                        "effective": self.policy.keep(q["id"])})
        return out

    async def set_queue(self, user: User, queue_id: str, record: bool | None) -> dict[str, Any]:
        s = self.services
        await s.directory.get_queue(queue_id)  # NotFound for an unknown queue
        now = s.clock.now()
        async with s.db.tx() as tx:
            await tx.conn.execute(delete(t_qs).where(t_qs.c.queue_id == queue_id))
            await tx.conn.execute(t_qs.insert().values(queue_id=queue_id, record=record, updated_at=now,
                                                       updated_by=user.id))
            tx.emit(Event(EventType.ADMIN_CHANGED, now, user_id=user.id, queue_id=queue_id,
                          data={"entity": "voice_queue_settings", "id": queue_id, "action": "update",
                                "record": record}))
        self._apply(queue_id, record)
        return next(q for q in await self.queue_settings() if q["queue_id"] == queue_id)

    def _apply(self, queue_id: str, record: bool | None) -> None:
        if record is None:
            self.policy.queues.pop(queue_id, None)
        else:
            self.policy.queues[queue_id] = record

    async def _on_event(self, ev: Event) -> None:
        if ev.type == EventType.ADMIN_CHANGED and ev.data.get("entity") == "voice_queue_settings":
            self._apply(str(ev.data["id"]), ev.data.get("record"))

    # -- HTTP -------------------------------------------------------------------------------------

    def register(self, api: Api) -> None:
        rec = self

        @api.add("/api/voice/recordings", "GET", "Search call recordings (agents: their own calls)",
                 tag="voice", query=SearchQuery, response=S.RecordingPage, access="supervise|desk")
        async def search(request: Request) -> Response:
            user = await _user(request)
            return json_response(await rec.search(user, parse_query(request, SearchQuery)))

        @api.add("/api/voice/recordings/{id}", "GET", "One recording with its call record", tag="voice",
                 response=S.Recording, access="supervise|desk")
        async def one(request: Request) -> Response:
            user = await _user(request)
            return json_response(await rec.get(user, request.path_params["id"]))

        @api.add("/api/voice/recordings/{id}/audio", "GET",
                 "The recording's WAV (range requests; ?download=1 for an attachment)", tag="voice",
                 access="supervise|desk")
        async def audio(request: Request) -> Response:
            user = await _user(request)
            return await rec.audio(request, user, request.path_params["id"])

        @api.add("/api/voice/queue-settings", "GET", "Per-queue recording choice", tag="voice",
                 response=S.QueueRecordingSettings, access="supervise")
        async def list_qs(request: Request) -> Response:
            await require(request, "supervise")
            return json_response({"default": rec.policy.default, "queues": await rec.queue_settings()})

        @api.add("/api/voice/queue-settings/{queue_id}", "PUT", "Record calls of this queue: yes, no or default",
                 tag="voice", body=QueueSettingBody, response=S.QueueRecordingSetting, access="admin")
        async def put_qs(request: Request) -> Response:
            user = await require(request, "admin")
            body = await parse_body(request, QueueSettingBody)
            return json_response(await rec.set_queue(user, request.path_params["queue_id"], body.record))


async def _user(request: Request) -> User:
    user = await current_user(request)
    _scope(user)
    return user

