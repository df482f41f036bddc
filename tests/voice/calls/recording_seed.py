"""Stored call recordings for the recordings tests (search, retention, the browser page) without
placing a call each: the rows the call service writes at the end of a call (a CDR in
``voice_calls``, the WAV as an attachment, a ``voice_recordings`` row) and the WAV file itself.
The real call path writes the same rows (tests/voice/calls/test_recordings_calls.py checks that
against a real sipp call)."""

from __future__ import annotations

import hashlib
import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub.db import tables as t
from hub.security import new_id
from voice.calls.store import recording_audio_url
from voice.calls.tables import calls as t_calls
from voice.calls.tables import recordings as t_rec


def stereo_wav(seconds: float, freq: float = 440.0, rate: int = 8000) -> bytes:
    """A caller channel with a tone that swells and fades (a visible waveform), a quiet right one."""
    n = int(seconds * rate)
    x = np.arange(n) / rate
    envelope = 0.2 + 0.8 * np.abs(np.sin(np.pi * x / max(seconds, 0.1)))
    left = (9000 * envelope * np.sin(2 * np.pi * freq * x)).astype("<i2")
    right = (800 * np.sin(2 * np.pi * 220 * x)).astype("<i2")
    stereo = np.empty(2 * n, dtype="<i2")
    stereo[0::2], stereo[1::2] = left, right
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.tobytes())
    return buf.getvalue()


@dataclass
class Seeded:
    call: dict[str, Any]
    attachment: dict[str, Any]
    recording: dict[str, Any]
    wav: bytes
    path: Path


def recording_rows(attachments_dir: Path, *, caller: str, callee: str = "5000", queue_id: str | None = "general",
                   agent_id: str | None, started_at: float, duration: float,
                   created_at: float | None = None, conversation_id: str | None = None) -> Seeded:
    """Write the WAV file under ``attachments_dir`` and return the rows to insert (the WAV an
    attachment of ``conversation_id``, if given, served only by the recording's own route)."""
    wav = stereo_wav(duration)
    cid, aid, rid = new_id(), new_id(), new_id()
    ended = started_at + duration + 5
    created = ended if created_at is None else created_at
    path = attachments_dir / aid[:2] / aid
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav)
    call = {"id": cid, "conversation_id": conversation_id, "sip_call_id": f"{cid}@test", "direction": "in",
            "source": "trunk", "caller": caller, "callee": callee, "queue_id": queue_id,
            "agent_id": agent_id, "started_at": started_at, "answered_at": started_at,
            "queued_at": started_at + 1, "connected_at": started_at + 5, "ended_at": ended,
            "end_reason": "caller_hangup", "wait_s": 4.0, "talk_s": duration, "recording_id": aid}
    att = {"id": aid, "conversation_id": conversation_id, "message_id": None,
           "filename": f"call-{caller}-{int(started_at)}.wav", "content_type": "audio/wav",
           "size": len(wav), "sha256": hashlib.sha256(wav).hexdigest(), "uploaded_by": "voice",
           "created_at": created, "route": recording_audio_url(rid)}
    rec = {"id": rid, "call_id": cid, "conversation_id": conversation_id, "attachment_id": aid,
           "duration_s": duration, "channels": 2, "sample_rate": 8000, "note": None, "created_at": created}
    return Seeded(call, att, rec, wav, path)


async def seed_recording(services: Any, **kw: Any) -> Seeded:
    """Insert one recorded call into a running in-process hub."""
    s = recording_rows(services.settings.attachments_dir, **kw)
    async with services.db.tx() as tx:
        await tx.conn.execute(t_calls.insert().values(**s.call))
        await tx.conn.execute(t.attachments.insert().values(**s.attachment))
        await tx.conn.execute(t_rec.insert().values(**s.recording))
    return s


def seed_recording_sync(data_dir: Path, **kw: Any) -> Seeded:
    """Insert one recorded call into the SQLite database of a hub running as a process."""
    import sqlalchemy as sa

    s = recording_rows(data_dir / "attachments", **kw)
    engine = sa.create_engine(f"sqlite:///{(data_dir / 'hub.db').resolve()}")
    try:
        with engine.begin() as conn:
            conn.execute(t_calls.insert().values(**s.call))
            conn.execute(t.attachments.insert().values(**s.attachment))
            conn.execute(t_rec.insert().values(**s.recording))
    finally:
        engine.dispose()
    return s
