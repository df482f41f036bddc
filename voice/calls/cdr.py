"""What a call leaves behind: its recording and the end of its call record (CDR, ``voice_calls``).

The recorder runs from the answer whenever the recording policy may keep the call
(voice/calls/recordings.py, ``RecordingPolicy``: the queue is not known yet). When the call ends
its CDR gets the end, the queue it ended in, its per-leg history (``segments``,
voice/calls/history.py) and the wait, talk and hold times summed from it, and the WAV is stored —
as an attachment of the conversation, with a note, a ``voice_recordings`` row and the CDR's
``recording_id`` — only if the queue it ended in keeps recordings. What this needs of the call
service is :class:`RecordsHost`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import update

import voice.calls.store as store
from hub.security import new_id
from hub.services.attachments import AttachmentStore
from voice.calls.call import Call, CallHost
from voice.media.recorder import CallRecorder

if TYPE_CHECKING:
    from voice.calls.recordings import RecordingPolicy
    from voice.media.engine import MediaEngine

__all__ = ["CallRecords", "RecordsHost"]


class RecordsHost(CallHost, Protocol):
    """What recording and the CDR need of the call service (``CallService`` is one)."""

    @property
    def engine(self) -> MediaEngine: ...
    @property
    def recording_policy(self) -> RecordingPolicy: ...  # replaced by the component after start

    def now(self) -> float: ...


class CallRecords:
    def __init__(self, host: RecordsHost) -> None:
        self.host = host
        services = host.services
        self.recordings = AttachmentStore(services.db, services.clock, services.settings.attachments_dir,
                                          max_bytes=2**40, allowed_types=("audio/wav",))

    def capture(self, call: Call) -> None:
        """A call was just answered: record its caller leg (both directions) if it may be kept."""
        if self.host.recording_policy.capture():
            call.recorder = CallRecorder(self.host.engine.now())
            call.caller.media.recorder = call.recorder

    async def call_ended(self, call: Call) -> None:
        """Complete the CDR of an ended call and store its recording if its queue keeps it."""
        assert call.ended_at is not None
        call.history.close(call.ended_at)
        # the times are sums over the per-leg history (history.py): queued again after a transfer
        # is waiting, a voicemail is neither waiting nor talking, holds are counted apart
        values: dict[str, Any] = {"ended_at": call.ended_at, "end_reason": call.end_reason,
                                  "queue_id": call.queue_id, **call.history.totals(),
                                  "segments": call.history.public()}
        first = call.history.first_connected()
        if first is not None:  # when the caller first reached someone (not the last agent's answer)
            values["connected_at"] = first
        agents = call.history.agents()
        if call.agent_id or agents:
            values["agent_id"] = call.agent_id or agents[-1]
        await store.update_call(self.host.services, call.id, **values)
        if call.recorder is not None and call.conversation_id and self.host.recording_policy.keep(call.queue_id):
            await self._save_recording(call)

    async def _save_recording(self, call: Call) -> None:
        rec = call.recorder
        services = self.host.services
        assert rec is not None and call.conversation_id is not None
        tmp_dir = self.host.settings.data_dir / "voice"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".rec-", suffix=".wav")
        os.close(fd)
        path = Path(name)
        try:
            duration = await asyncio.to_thread(rec.write_wav, path)
            stamp = secrets.token_hex(3)
            filename = f"call-{call.caller_number}-{int(call.started_at)}-{stamp}.wav"
            rid = new_id()  # the recording's own route serves the file (never /api/attachments)
            att = await self.recordings.save(filename, "audio/wav", _file_chunks(path), uploaded_by="voice",
                                             conversation_id=call.conversation_id,
                                             route=store.recording_audio_url(rid))
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        await store.insert_recording(services, call, att["id"], duration, self.host.now(), rid)
        mins, secs = divmod(int(round(duration)), 60)
        async with services.db.tx() as tx:
            await services.conversations.insert_message(
                tx, call.conversation_id, kind="note", sender="system",
                body=f"Call recording ({mins}:{secs:02d})", sender_name="Voice",
                queue_id=call.queue_id, assignee_id=None, attachment_ids=[att["id"]])
            await tx.conn.execute(update(store.t_calls).where(store.t_calls.c.id == call.id)
                                  .values(recording_id=att["id"]))


async def _file_chunks(path: Path, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local file read in bounded chunks
        while chunk := fh.read(size):
            yield chunk
