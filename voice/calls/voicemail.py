"""Voicemail (VOICE-8): the caller's message recorded on its own, delivered to the inbox as a
conversation with the audio and its transcript, and announced by email/SMS.

When an IVR flow reaches a ``voicemail`` node the driver (``voice/calls/ivr.py``) gets a
``RecordVoicemail`` action and calls :meth:`VoicemailService.record`:

1. a short beep (when the node asks for one) is played to the caller;
2. from the end of the beep the caller's leg only (the decoded PCM of the received RTP, through
   a PCM subscription on the leg; gaps in the RTP timestamps become silence) is kept in memory;
3. the message ends on the end key (``StopRecording``), at ``max_s``, after ``silence_s`` without
   speech (a simple energy threshold on 20 ms frames, ``voice_voicemail_energy_threshold``; no
   RTP at all counts as silence) or when the caller hangs up — what was said so far is kept;
4. a message with less than ``voice_voicemail_min_speech_s`` of speech energy is discarded with a
   log line; otherwise it is written as a mono 8 kHz WAV attachment and a new ``voice``
   conversation is opened (``meta.voicemail``), in the node's queue (or a queue named like the
   mailbox, or the call's queue), for the contact found or created by the caller's number, and
   routed by the ACD like any conversation;
5. the WAV is transcribed off the event loop with the vosk engine of ``voice/asr`` (the live
   transcription's model when it is loaded, else the model of ``voice_asr_model`` loaded once)
   and the text is added as a note; without a usable model the note says it was not transcribed;
6. the node's ``notify_email`` addresses get a mail (caller, duration, transcript, a link to the
   conversation, the WAV attached up to ``voice_voicemail_attach_max_bytes``) through the email
   channel's public ``send_mail``, and its ``notify_sms`` numbers an SMS through the SMS channel's
   ``send_text`` (the ``email`` and ``sms`` ports, ``services.ports``: this package imports no
   channel code).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.errors import HubError
from hub.security import new_id
from hub.services.attachments import AttachmentStore
from voice.calls.history import SegmentKind
from voice.calls.settings import VoiceSettings
from voice.media.prompts import FRAME_SAMPLES, Prompt, frames_of

if TYPE_CHECKING:
    from hub.app import Services
    from hub.ports import Email
    from voice.calls.call import Call, CallHost
    from voice.ivr.model import RecordVoicemail

__all__ = ["VoicemailService", "VoicemailRecording", "beep_pcm", "transcribe_wav"]

log = logging.getLogger(__name__)

RATE = 8000
FRAME_S = FRAME_SAMPLES / RATE
MAX_GAP_SAMPLES = 10 * RATE  # an RTP timestamp jump larger than this is a new stream, not silence


def beep_pcm(seconds: float = 0.4, freq: float = 1000.0) -> bytes:
    """The tone before the recording: 16-bit mono PCM at 8 kHz with 10 ms fades."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = 0.35 * np.sin(2 * math.pi * freq * t)
    fade = min(n // 2, RATE // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
    return (tone * 32767).astype("<i2").tobytes()


def _fmt_duration(seconds: float) -> str:
    mins, secs = divmod(int(round(seconds)), 60)
    return f"{mins}:{secs:02d}"


@dataclass(eq=False)
class VoicemailRecording:
    """One message being recorded: the caller's PCM and the speech/silence bookkeeping. The
    decision part (:meth:`add`, :meth:`due`) takes the time as input."""

    id: str
    call: Call
    action: RecordVoicemail
    threshold: float
    started_at: float = 0.0  # loop time when recording (after the beep) started
    chunks: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    voiced_frames: int = 0
    last_voice_at: float | None = None
    next_ts: int | None = None
    end_reason: str | None = None
    on_finished: Any = field(default=None, repr=False)
    unsubscribe: Callable[[], None] | None = field(default=None, repr=False)  # ends the capture
    timer: asyncio.Task[None] | None = field(default=None, repr=False)

    def add(self, pcm: np.ndarray, ts: int, now: float) -> None:
        if self.end_reason is not None:
            return
        if self.next_ts is not None and self.chunks:
            gap = (ts - self.next_ts) & 0xFFFFFFFF
            if 0 < gap <= MAX_GAP_SAMPLES:  # silence suppression / lost packets: keep the timeline
                self.chunks.append(np.zeros(gap, dtype=np.int16))
                self.samples += gap
        self.next_ts = (ts + len(pcm)) & 0xFFFFFFFF
        self.chunks.append(np.asarray(pcm, dtype=np.int16).copy())
        self.samples += len(pcm)
        for i in range(0, len(pcm), FRAME_SAMPLES):
            frame = pcm[i:i + FRAME_SAMPLES].astype(np.float64)
            if len(frame) and math.sqrt(float(np.mean(frame * frame))) >= self.threshold:
                self.voiced_frames += 1
                self.last_voice_at = now

    def due(self, now: float) -> str | None:
        """Why the message ends at ``now`` (``max_length`` / ``silence``), or None."""
        if now - self.started_at >= self.action.max_s or self.samples >= self.action.max_s * RATE:
            return "max_length"
        silence = self.action.silence_s
        if silence > 0 and now - max(self.started_at, self.last_voice_at or 0.0) >= silence:
            return "silence"
        return None

    @property
    def duration_s(self) -> float:
        return self.samples / RATE

    @property
    def speech_s(self) -> float:
        return self.voiced_frames * FRAME_S

    def pcm(self) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        data = np.concatenate(self.chunks)
        return data[: int(self.action.max_s * RATE)]


def write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.astype("<i2").tobytes())


def transcribe_wav(pool: Any, path: Path) -> str:
    """The text of a mono 16-bit 8/16 kHz WAV with a :class:`~voice.asr.base.RecognizerPool`
    (blocking, CPU-bound: run it in a thread)."""
    with wave.open(str(path), "rb") as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    rec = pool.acquire(rate)
    texts: list[str] = []
    try:
        step = rate  # 0.5 s of 16-bit samples
        for i in range(0, len(data), step):
            if rec.accept(data[i:i + step]):
                texts.append(rec.result().text)
        texts.append(rec.flush().text)
    finally:
        pool.release(rec)
    return " ".join(t for t in texts if t).strip()


class VoicemailService:
    """Records, stores, transcribes and announces voicemail messages for the call service."""

    def __init__(self, services: Services, calls: CallHost) -> None:
        self.services = services
        self.settings = services.settings
        self.voice = services.settings.section(VoiceSettings)
        self.calls = calls
        self.store = AttachmentStore(services.db, services.clock, services.settings.attachments_dir,
                                     max_bytes=2**34, allowed_types=("audio/wav",))
        self._active: dict[str, VoicemailRecording] = {}  # call id → recording
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pool: Any = None
        self._pool_error: str | None = None
        self._pool_lock = asyncio.Lock()
        self.stats = {"recorded": 0, "delivered": 0, "discarded": 0, "transcribed": 0, "notified": 0}

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(coro: Any, name: str) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one message must not take the service down
            log.exception("voicemail task %s failed", name)
            return None

    async def stop(self) -> None:
        """Messages being delivered are finished (bounded), then the rest is cancelled."""
        for rec in list(self._active.values()):
            self._finish(rec, "shutdown")
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=20)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- recording ---------------------------------------------------------------------------------

    def recording(self, call: Call) -> VoicemailRecording | None:
        return self._active.get(call.id)

    def record(self, call: Call, action: RecordVoicemail, on_finished: Any) -> VoicemailRecording:
        """Start the message of ``call`` (beep first when asked). ``on_finished(duration_s,
        voicemail_id)`` is called once when it ends, whatever ends it."""
        old = self._active.pop(call.id, None)
        if old is not None:
            self._finish(old, "replaced")
        rec = VoicemailRecording(new_id(), call, action, float(self.voice.voicemail_energy_threshold))
        rec.on_finished = on_finished
        self._active[call.id] = rec
        call.segment(SegmentKind.VOICEMAIL, self.services.clock.now())  # neither waiting nor talking
        media = call.caller.media
        if action.beep:
            prompt = Prompt("voicemail-beep", media.codec, frames_of(beep_pcm(), media.codec))
            media.play(prompt, on_done=lambda: self._capture(rec))
        else:
            self._capture(rec)
        return rec

    def _capture(self, rec: VoicemailRecording) -> None:
        if rec.end_reason is not None or rec.call.ended:
            return
        media = rec.call.caller.media
        loop = asyncio.get_running_loop()
        rec.started_at = loop.time()

        def hook(pcm: np.ndarray, ts: int) -> None:
            rec.add(pcm, ts, loop.time())

        rec.chunks.clear()
        rec.unsubscribe = media.subscribe_pcm(hook)
        rec.timer = loop.create_task(self._watch(rec), name=f"voicemail-{rec.call.id}")
        log.info("call %s: recording voicemail %s for mailbox %s (max %.0f s, silence %.1f s)",
                 rec.call.id, rec.id, rec.action.mailbox, rec.action.max_s, rec.action.silence_s)

    async def _watch(self, rec: VoicemailRecording) -> None:
        loop = asyncio.get_running_loop()
        while rec.end_reason is None:
            reason = rec.due(loop.time())
            if reason is not None:
                self._finish(rec, reason)
                return
            await asyncio.sleep(0.1)

    def stop_recording(self, call: Call, reason: str = "end_key") -> bool:
        """End the message now (the end key, the flow leaving the node, the caller hanging up)."""
        rec = self._active.get(call.id)
        if rec is None:
            return False
        self._finish(rec, reason)
        return True

    def _finish(self, rec: VoicemailRecording, reason: str) -> None:
        if rec.end_reason is not None:
            return
        rec.end_reason = reason
        if self._active.get(rec.call.id) is rec:
            del self._active[rec.call.id]
        media = rec.call.caller.media
        if media is not None and media.player is not None and media.player.prompt.name == "voicemail-beep":
            media.stop_play()
        if rec.timer is not None and rec.timer is not asyncio.current_task():
            rec.timer.cancel()
        if rec.unsubscribe is not None:
            rec.unsubscribe()
        self.stats["recorded"] += 1
        log.info("call %s: voicemail %s ended (%s) after %.1f s, %.1f s of speech", rec.call.id, rec.id,
                 reason, rec.duration_s, rec.speech_s)
        rec.call.segment(SegmentKind.IVR, self.services.clock.now())
        on_finished, rec.on_finished = rec.on_finished, None
        if on_finished is not None:  # no id: the message is discarded (too little speech), not left
            with contextlib.suppress(Exception):
                on_finished(rec.duration_s, rec.id if self.kept(rec) else "")
        self._spawn(self.deliver(rec), f"voicemail-{rec.id}-deliver")

    # -- delivery ----------------------------------------------------------------------------------

    def kept(self, rec: VoicemailRecording) -> bool:
        """Whether a finished message is delivered: it has enough speech (``voicemail_min_speech_s``)."""
        return rec.speech_s >= self.voice.voicemail_min_speech_s

    async def deliver(self, rec: VoicemailRecording) -> str | None:
        """Store the message as a conversation; returns its id (None when discarded)."""
        call = rec.call
        if not self.kept(rec):
            self.stats["discarded"] += 1
            log.info("call %s: voicemail %s from %s discarded: %.2f s of speech (< %.2f s), %.1f s long",
                     call.id, rec.id, call.caller_number, rec.speech_s, self.voice.voicemail_min_speech_s,
                     rec.duration_s)
            return None
        pcm = rec.pcm()
        duration = len(pcm) / RATE
        tmp_dir = self.settings.data_dir / "voice"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=".vm-", suffix=".wav")
        os.close(fd)
        path = Path(name)
        try:
            await asyncio.to_thread(write_wav, path, pcm)
            filename = f"voicemail-{call.caller_number}-{int(call.started_at)}-{secrets.token_hex(3)}.wav"
            att = await self.store.save(filename, "audio/wav", _file_chunks(path), uploaded_by="voice")
            cid = await self._open_conversation(rec, att["id"], duration)
            self.stats["delivered"] += 1
            log.info("call %s: voicemail %s (%.1f s) delivered as conversation %s", call.id, rec.id,
                     duration, cid)
            transcript, why_not = await self._transcribe(path)
            await self._note_transcript(cid, transcript, why_not)
            await self._notify(rec, cid, duration, transcript, why_not, path, att)
            return cid
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    def _queue_for(self, rec: VoicemailRecording) -> str:
        queues = self.services.conversations.queue_names
        for candidate in (rec.action.queue_id, rec.action.mailbox, rec.call.queue_id,
                          self.voice.default_queue, self.settings.widget_default_queue):
            if candidate and candidate in queues:
                return candidate
        return next(iter(queues))

    async def _open_conversation(self, rec: VoicemailRecording, attachment_id: str, duration: float) -> str:
        call, action = rec.call, rec.action
        conv = self.services.conversations
        queue_id = self._queue_for(rec)
        who = call.caller_name or call.caller_number
        row = await conv.open(
            channel="voice", queue_id=queue_id,
            identity={"phone": call.caller_number, "name": who},
            subject=f"Voicemail from {who} ({_fmt_duration(duration)})",
            first_message=f"Voicemail from {call.caller_number} to mailbox {action.mailbox}, "
                          f"{_fmt_duration(duration)} long.",
            attachment_ids=[attachment_id],
            meta={"voicemail": {"id": rec.id, "mailbox": action.mailbox, "duration_s": round(duration, 2),
                                "speech_s": round(rec.speech_s, 2), "ended_by": rec.end_reason,
                                "attachment_id": attachment_id, "call_id": call.id,
                                "call_conversation_id": call.conversation_id, "agent_id": action.agent_id},
                  "caller": call.caller_number, "callee": call.callee,
                  **({"preferred_agent_id": action.agent_id} if action.agent_id else {})})
        try:
            await self.services.routing.enqueue(row)
        except Exception:  # noqa: BLE001 - stored and queued: the ACD picks it up on restart
            log.exception("voicemail conversation %s stored but not routed", row.id)
        return str(row.id)

    async def _recognizer_pool(self) -> tuple[Any, str | None]:
        """The live transcription's pool when its model is loaded, else one loaded here once."""
        if not self.voice.voicemail_transcribe:
            return None, "transcription of voicemail is off (voice_voicemail_transcribe)"
        live = self.calls.transcripts
        if live is not None and live.transcriber is not None:
            return live.transcriber.pool, None
        async with self._pool_lock:
            if self._pool is None and self._pool_error is None:
                from voice.asr.base import AsrError
                from voice.asr.vosk import VoskConfig, VoskRecognizerPool

                model = self.voice.asr_model.strip()
                try:
                    self._pool = await asyncio.to_thread(
                        VoskRecognizerPool, VoskConfig(model_path=Path(model) if model else None))
                except AsrError as err:
                    self._pool_error = str(err)
                    log.error("voice: voicemail is not transcribed: %s", err)
                except Exception as err:  # noqa: BLE001 - whatever the engine raises, messages go on
                    self._pool_error = f"the speech engine failed to start: {err}"
                    log.exception("voice: voicemail is not transcribed")
        return self._pool, self._pool_error

    async def _transcribe(self, path: Path) -> tuple[str, str | None]:
        pool, error = await self._recognizer_pool()
        if pool is None:
            return "", error or "no speech recognition model"
        try:
            text = await asyncio.to_thread(transcribe_wav, pool, path)
        except Exception as err:  # noqa: BLE001 - the message is there without its text
            log.exception("voicemail transcription failed")
            return "", f"the speech engine failed: {err}"
        self.stats["transcribed"] += 1
        return text, None

    async def _note_transcript(self, cid: str, text: str, why_not: str | None) -> None:
        if why_not is not None:
            body = f"Voicemail not transcribed: {why_not}"[:2000]
        elif text:
            body = f"Voicemail transcript: {text}"
        else:
            body = "Voicemail transcript: (no words recognised)"
        try:
            await self.services.conversations.add_message(cid, sender="system", kind="note", body=body,
                                                          sender_name="Voicemail")
        except HubError as err:
            log.warning("voicemail conversation %s: transcript note not added: %s", cid, err)

    # -- notification ------------------------------------------------------------------------------

    def link(self, cid: str) -> str:
        st = self.settings
        base = (self.voice.voicemail_link_url or f"http://{st.host}:{st.port}").rstrip("/")
        return f"{base}/desk?c={cid}"

    async def _notify(self, rec: VoicemailRecording, cid: str, duration: float, transcript: str,
                      why_not: str | None, path: Path, att: dict[str, Any]) -> None:
        action = rec.action
        texts = self.services.texts
        text = transcript if why_not is None else await texts.render("voicemail.notice.not_transcribed", None,
                                                                     reason=why_not)
        if action.notify_email:
            email = self.services.ports.email
            if email is None:
                log.warning("voicemail %s: email notification to %s skipped: the email channel is off",
                            rec.id, ", ".join(action.notify_email))
            else:
                data = None
                if int(att.get("size") or 0) <= self.voice.voicemail_attach_max_bytes:
                    data = await asyncio.to_thread(path.read_bytes)
                msg = await self.email_notice(email.address, rec, cid, duration, text, data, att)
                self._spawn(self._send_mail(email, msg, rec.id, cid), f"voicemail-{rec.id}-mail")
        if action.notify_sms:
            sms = self.services.ports.sms
            if sms is None:
                log.warning("voicemail %s: SMS notification to %s skipped: the SMS channel is off",
                            rec.id, ", ".join(action.notify_sms))
            else:
                body = await texts.render("voicemail.notice.sms", None, caller=rec.call.caller_number,
                                          duration=_fmt_duration(duration), mailbox=action.mailbox,
                                          link=self.link(cid))
                for phone in action.notify_sms:
                    try:
                        await sms.send_text(phone, body, kind="voicemail", dedupe_key=f"voicemail:{rec.id}:{phone}")
                        self.stats["notified"] += 1
                    except HubError as err:
                        log.warning("voicemail %s: SMS to %s not queued: %s", rec.id, phone, err)

    async def email_notice(self, sender: str, rec: VoicemailRecording, cid: str, duration: float, text: str,
                           data: bytes | None, att: dict[str, Any]) -> EmailMessage:
        """The notification mail (texts ``voicemail.notice.*`` in the hub's default language: it
        goes to the centre's staff); the recording attached when ``data`` is given."""
        call, action = rec.call, rec.action
        render = self.services.texts.render
        caller = call.caller_number + (f" ({call.caller_name})" if call.caller_name else "")
        m = EmailMessage()
        m["From"] = sender
        m["To"] = ", ".join(action.notify_email)
        m["Subject"] = await render("voicemail.notice.subject", None, caller=call.caller_number,
                                    duration=_fmt_duration(duration), mailbox=action.mailbox)
        m["Date"] = formatdate(usegmt=True)
        m["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or "localhost")
        note = "" if data is not None else "\n" + await render(
            "voicemail.notice.recording_in_conversation", None, size_kib=int(att.get("size") or 0) // 1024) + "\n"
        m.set_content(await render(
            "voicemail.notice.body", None, mailbox=action.mailbox, caller=caller, callee=call.callee,
            duration=_fmt_duration(duration), seconds=f"{duration:.1f}", link=self.link(cid),
            transcript=text or await render("voicemail.notice.no_words", None), recording_note=note))
        if data is not None:
            m.add_attachment(data, maintype="audio", subtype="wav",
                             filename=str(att.get("filename") or "voicemail.wav"))
        return m

    async def _send_mail(self, email: Email, msg: EmailMessage, vm_id: str, cid: str) -> None:
        attempts = max(1, email.send_attempts)
        for attempt in range(1, attempts + 1):
            try:
                await email.send_mail(msg)
                self.stats["notified"] += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - SMTP/network errors: retry with backoff
                error = f"{type(err).__name__}: {err}"[:300]
                log.warning("voicemail %s: notification mail attempt %d/%d failed: %s", vm_id, attempt,
                            attempts, error)
                if attempt < attempts:
                    await asyncio.sleep(email.retry_base_s * 2 ** (attempt - 1))
        with contextlib.suppress(HubError):
            await self.services.conversations.add_message(
                cid, sender="system", kind="note", sender_name="Voicemail",
                body=f"The voicemail notification mail to {msg['To']} could not be sent: {error}")


async def _file_chunks(path: Path, size: int = 256 * 1024) -> Any:
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local file read in bounded chunks
        while chunk := fh.read(size):
            yield chunk
