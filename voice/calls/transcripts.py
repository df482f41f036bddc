"""Live transcription of calls (VOICE-6): how a call's audio reaches the speech recogniser and
what happens with the words.

One :class:`CallTranscripts` per call service holds the vosk model (loaded once, at voice start,
when ``voice_transcribe`` is on) behind one :class:`~voice.asr.stream.Transcriber`. The call
service tells it when a leg starts carrying audio (:meth:`leg_started`: the caller's leg when
the hub answers, the agent's when the call is bridged) and when it stops (:meth:`leg_stopped`,
:meth:`call_ended`).

What is transcribed (issue #18: transcribing every queued caller left 150 of 156 segments late):
people talking to people. The caller's leg is held back until an agent's leg joins it; a speech
menu (:meth:`listen`) transcribes the caller only while it listens; ``voice_transcribe_unanswered``
transcribes callers from the answer on. At most ``voice_asr_max_streams`` legs are transcribed at
once (0: measured at start with :mod:`voice.asr.capacity`); a call admitted holds two streams until
it ends, a call beyond the cap is not transcribed, says so (``voice_call_transcription`` row,
``transcript_status`` on ``/desk``, ``GET /api/voice/transcription``) and its call goes on.

Each leg transcribed gets one :class:`~voice.asr.stream.TranscriptionStream`, fed from a PCM
subscription on the RTP leg (``MediaLeg.subscribe_pcm``) with ``feed_nowait`` (a copy of the
decoded audio, queued for the decoding threads: the call audio itself is never delayed) and read
by one owned task:

- a partial → Socket.IO ``transcript`` (``final: false``) to the agent on the call and to the
  supervisors (``/desk``), nothing stored;
- a final → one ``voice_transcript_segments`` row and a ``transcript.segment`` event in the same
  transaction (assist suggests FAQ answers from the caller's finals), then ``transcript``
  (``final: true``) on ``/desk``.

Finals are searchable from the inbox through ``ConversationService.search_hooks``; they are not
messages, so the conversation's message list stays what the customer and the agent wrote.

A missing model, a recogniser failure or odd audio never touches the call: one clear error is
logged (and kept in :attr:`CallTranscripts.error` for the status page) and the call goes on.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from starlette.requests import Request
from starlette.responses import Response

import voice.calls.schemas as S
from hub.api.http import Api, current_user, json_response, require
from hub.errors import ConfigError
from hub.events import Event
from hub.security import new_id
from voice.asr.base import AsrError, Final, Leg, Partial
from voice.calls.events import VoiceEventType
from voice.calls.settings import VoiceSettings
from voice.calls.transcript_tables import call_transcription as t_status
from voice.calls.transcript_tables import transcript_segments as t_segments

if TYPE_CHECKING:
    import numpy as np

    from hub.app import Services
    from voice.asr.stream import Transcriber, TranscriptionStream
    from voice.calls.call import Call

__all__ = ["CallTranscripts", "list_segments", "register_api", "segment_public"]

log = logging.getLogger(__name__)

CALLER_END_AFTER_S = 2.0

RATE = 8000  # G.711 on the RTP legs
BATCH_S = 0.1  # audio decoded per step: a partial is at most this much behind the RTP it came in
SPEAKER = {"caller": "Caller", "agent": "Agent"}
CALL_STREAMS = 2  # an answered call: the caller's leg and the agent's


def segment_public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "conversation_id": row.conversation_id, "call_id": row.call_id, "leg": row.leg,
        "speaker": SPEAKER.get(row.leg, row.leg), "agent_id": row.agent_id, "text": row.text,
        "start_s": row.start_s, "end_s": row.end_s, "started_at": row.started_at, "ended_at": row.ended_at,
        "confidence": row.confidence, "words": json.loads(row.words), "late": bool(row.late),
    }


@dataclass(eq=False)
class LegTranscript:
    """The transcription of one leg of one call, from :meth:`CallTranscripts.leg_started` on."""

    call: Call
    leg: Leg
    media: Any  # a voice.media.leg.MediaLeg (anything with ``subscribe_pcm`` and ``closed``)
    agent_id: str | None
    attached_at: float  # hub clock when the transcription of this leg started
    stream: TranscriptionStream | None = None
    # stream time → hub clock: at sample marks_pos[i] the clock read marks_t[i] (a new mark at the
    # first packet and at every RTP timestamp discontinuity: silence suppression, hold, new SSRC)
    marks_pos: list[int] = field(default_factory=list)
    marks_t: list[float] = field(default_factory=list)
    fed: int = 0
    next_ts: int | None = None
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    segments: int = 0
    partials: int = 0
    unsubscribe: Callable[[], None] | None = field(default=None, repr=False)  # ends the PCM feed


class CallTranscripts:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.voice = services.settings.section(VoiceSettings)
        self.transcriber: Transcriber | None = None
        self.model_path: str | None = None
        self.error: str | None = None
        self._legs: dict[tuple[str, Leg], LegTranscript] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loading: asyncio.Task[None] | None = None
        self._listeners: dict[str, Callable[[str, float], None]] = {}  # call id → IVR speech menu
        self._held: dict[str, int] = {}  # call id → streams reserved (running or kept for the call)
        self._waiting: dict[str, Any] = {}  # call id → the caller's media, not yet transcribed
        self._admitted: set[str] = set()  # calls transcribed as people talking to people
        self.capacity: int | None = self.voice.asr_max_streams or None  # None: not measured yet
        self.rtf: float | None = None
        self.stats = {"streams": 0, "segments": 0, "partials": 0, "failed_streams": 0, "transcribed_calls": 0,
                      "shed_calls": 0, "shed_listens": 0}

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start loading the model once (in a thread, so the hub and its SIP side start at once;
        calls answered meanwhile are transcribed as soon as it is ready) when
        ``voice_transcribe`` is on."""
        hooks = getattr(self.services.conversations, "search_hooks", None)
        if hooks is not None and self.conversation_search not in hooks:
            hooks.append(self.conversation_search)  # stored transcripts stay searchable
        if self.voice.asr_workers < 0 or self.voice.asr_max_backlog_s <= 0:
            raise ConfigError("settings 'voice_asr_workers' must be 0 or more and 'voice_asr_max_backlog_s' "
                              "positive")
        if self.voice.transcribe:
            self._loading = self._spawn(self._load(), "asr-model-load")
        ivr = self.services.ports.ivr
        if ivr is not None and self.services.ports.kb is not None:
            ivr.register_hook("faq", self.faq_hook)  # speech menus: `hook: faq` answers from the FAQ

    async def faq_hook(self, args: dict[str, Any]) -> dict[str, Any]:
        """IVR hook ``faq`` (a speech menu's ``hook``): the best published FAQ answer for what the
        caller said, ``{answer, confidence, article_id, question}``, or ``{}`` when none."""
        text = str(args.get("text") or "").strip()
        kb = self.services.ports.kb
        if not text or kb is None:
            return {}
        hits = await kb.search(text[:500], limit=1)
        if not hits:
            return {}
        hit = hits[0]
        return {"answer": hit.answer_text, "confidence": hit.confidence, "article_id": hit.article_id,
                "question": hit.question}

    async def wait_ready(self) -> bool:
        """Wait for the model load started by :meth:`start`; True when transcription is on."""
        if self._loading is not None:
            await asyncio.wait({self._loading})
        return self.enabled

    async def _load(self) -> None:
        """A missing engine or model is logged once with what to install; calls work without
        transcripts."""
        from voice.asr.vosk import VoskConfig, create_vosk_transcriber

        model = self.voice.asr_model.strip()
        config = VoskConfig(model_path=Path(model) if model else None, max_idle=self.voice.asr_max_idle)
        try:
            transcriber = await asyncio.to_thread(
                create_vosk_transcriber, config, workers=self.voice.asr_workers or None,
                max_backlog_s=self.voice.asr_max_backlog_s, batch_s=BATCH_S)
            if self.capacity is None:
                await self._measure(transcriber)
            self.transcriber = transcriber
        except AsrError as err:
            self.error = f"{err.code}: {err}"
            log.error("voice: live call transcription is OFF (voice_transcribe is on): %s", err)
            return
        except Exception as err:  # noqa: BLE001 - whatever the engine raises, calls go on
            self.error = f"asr_error: {err}"
            log.exception("voice: live call transcription is OFF: the speech engine failed to start")
            return
        pool = self.transcriber.pool
        self.model_path = str(getattr(pool, "model_path", "") or "") or None
        log.info("voice: live call transcription on (vosk model %s, at most %s streams)", self.model_path,
                 self.capacity)

    async def _measure(self, transcriber: Transcriber) -> None:
        """``voice_asr_max_streams = 0``: the streams this machine decodes in real time."""
        from voice.asr.capacity import realtime_factor, realtime_streams

        self.rtf = await asyncio.to_thread(realtime_factor, transcriber.pool)
        workers = self.voice.asr_workers or transcriber.workers
        self.capacity = realtime_streams(self.rtf, workers)
        log.info("voice: transcription measured a real-time factor of %.3f per stream: at most %d concurrent "
                 "streams (set voice_asr_max_streams to choose)", self.rtf, self.capacity)

    async def stop(self) -> None:
        if self._loading is not None:
            await asyncio.wait({self._loading})
        for lt in list(self._legs.values()):
            self._stop_leg(lt)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.transcriber is not None:
            await asyncio.to_thread(self.transcriber.close)
            self.transcriber = None

    @property
    def enabled(self) -> bool:
        return self.transcriber is not None

    def status(self) -> dict[str, Any]:
        """The health/metrics figure (``GET /api/voice/transcription``, the voice status)."""
        pool: Any = self.transcriber.pool if self.transcriber is not None else None
        return {"enabled": self.enabled, "model": self.model_path, "error": self.error,
                "max_streams": self.capacity, "realtime_factor": self.rtf,
                "active_streams": len(self._legs), "reserved_streams": sum(self._held.values()),
                # streams still decoding (a call's last audio after its hang-up) or giving back
                "decoding_streams": self.transcriber.active if self.transcriber is not None else 0,
                "idle_recognizers": pool.idle_count() if hasattr(pool, "idle_count") else None,
                **self.stats}

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- hooks from the call service ----------------------------------------------------------------

    def leg_started(self, call: Call, leg: str, media: Any, agent_id: str | None = None) -> None:
        """``media`` (received audio of one leg) carries a person from now on. The caller's leg
        waits for an agent's (or a speech menu) unless ``voice_transcribe_unanswered``; an agent's
        leg admits the call within the stream cap. Never raises."""
        if self._loading is None or self.error is not None or call.conversation_id is None or call.ended:
            return
        if not callable(getattr(media, "subscribe_pcm", None)):
            log.info("call %s: the %s leg gives no PCM (%s): not transcribed", call.id, leg,
                     type(media).__name__)
            return
        if Leg(leg) is Leg.CALLER and call.id not in self._admitted:
            self._waiting[call.id] = media
            if self.voice.transcribe_unanswered and (call.id, Leg.CALLER) not in self._legs:
                if self._take(call, 1):
                    self._start(call, Leg.CALLER, media, None)
                else:
                    self._shed(call)
            return
        if call.id not in self._admitted and not self._admit(call):
            return
        if Leg(leg) is Leg.AGENT and (call.id, Leg.CALLER) not in self._legs and call.id in self._waiting:
            self._start(call, Leg.CALLER, self._waiting[call.id], None)
        self._start(call, Leg(leg), media, agent_id)

    def _start(self, call: Call, leg: Leg, media: Any, agent_id: str | None) -> None:
        key = (call.id, leg)
        old = self._legs.get(key)
        if old is not None:
            self._stop_leg(old)
        lt = LegTranscript(call, leg, media, agent_id, self.services.clock.now())
        self._legs[key] = lt
        lt.task = self._spawn(self._run(lt), f"asr-{call.id}-{leg.value}")

    # -- the stream cap -----------------------------------------------------------------------------

    def _take(self, call: Call, n: int) -> bool:
        """Reserve ``n`` more streams for ``call`` if the cap allows (always while the cap is still
        being measured)."""
        if n <= 0:
            return True
        if self.capacity is not None and sum(self._held.values()) + n > self.capacity:
            return False
        self._held[call.id] = self._held.get(call.id, 0) + n
        return True

    def _give(self, call_id: str, n: int) -> None:
        left = self._held.get(call_id, 0) - n
        if left > 0:
            self._held[call_id] = left
        else:
            self._held.pop(call_id, None)

    def _admit(self, call: Call) -> bool:
        """A person answered: the call keeps two streams until it ends, or is not transcribed."""
        if not self._take(call, CALL_STREAMS - self._held.get(call.id, 0)):
            self._shed(call)
            return False
        self._admitted.add(call.id)
        self.stats["transcribed_calls"] += 1
        self._spawn(self._record(call, "transcribed", None), f"asr-{call.id}-status")
        return True

    def _shed(self, call: Call) -> None:
        self.stats["shed_calls"] += 1
        log.info("call %s: not transcribed: all %s transcription streams are in use", call.id, self.capacity)
        self._spawn(self._record(call, "not_transcribed", "capacity"), f"asr-{call.id}-status")

    async def _record(self, call: Call, status: str, reason: str | None) -> None:
        """The call's transcript status, stored (the transcript API shows it) then pushed."""
        cid = call.conversation_id
        if cid is None:
            return
        now = self.services.clock.now()
        row = {"call_id": call.id, "conversation_id": cid, "status": status, "reason": reason, "at": now}
        try:
            async with self.services.db.tx() as tx:
                await tx.conn.execute(delete(t_status).where(t_status.c.call_id == call.id))
                await tx.conn.execute(insert(t_status).values(**row))
            await self.services.push.about_conversation("transcript_status", row, assignee_id=call.agent_id)
        except Exception:  # noqa: BLE001 - the status is informative: the call goes on
            log.exception("call %s: transcript status not stored", call.id)

    # -- hooks from the call service ----------------------------------------------------------------

    def leg_stopped(self, call: Call, leg: str) -> None:
        """The person on this leg left (an agent who transferred the call): flush and stop."""
        lt = self._legs.get((call.id, Leg(leg)))
        if lt is not None:
            self._stop_leg(lt)

    def call_ended(self, call: Call) -> None:
        self._listeners.pop(call.id, None)
        self._waiting.pop(call.id, None)
        self._admitted.discard(call.id)
        self._held.pop(call.id, None)
        for leg in Leg:
            self.leg_stopped(call, leg)

    def listen(self, call: Call, on_text: Callable[[str, float], None]) -> bool:
        """The IVR speech menu: ``on_text(text, confidence)`` once, with the caller's next final
        utterance; the caller's leg is transcribed for it if it was not. False when it cannot be
        (transcription off, the stream cap reached: the menu hears nothing)."""
        if (call.id, Leg.CALLER) not in self._legs:
            media = self._waiting.get(call.id)
            if media is None or self.error is not None:
                return False
            if not self._take(call, 1):
                self.stats["shed_listens"] += 1
                log.info("call %s: the speech menu cannot listen: all %s transcription streams are in use",
                         call.id, self.capacity)
                return False
            self._start(call, Leg.CALLER, media, None)
        self._listeners[call.id] = on_text
        return True

    def unlisten(self, call: Call) -> None:
        self._listeners.pop(call.id, None)
        self._end_listen(call.id)

    def _end_listen(self, call_id: str) -> None:
        """The speech menu stopped listening: a caller no person answered yet is not transcribed
        any more (unless ``voice_transcribe_unanswered``)."""
        if call_id in self._listeners or call_id in self._admitted or self.voice.transcribe_unanswered:
            return
        lt = self._legs.get((call_id, Leg.CALLER))
        if lt is not None:
            self._stop_leg(lt)
            self._give(call_id, 1)

    def _stop_leg(self, lt: LegTranscript) -> None:
        if lt.stopping:
            return
        lt.stopping = True
        self._detach(lt)
        if self._legs.get((lt.call.id, lt.leg)) is lt:
            del self._legs[(lt.call.id, lt.leg)]
        if lt.stream is not None:  # the run task sees the end of the results and finishes
            self._spawn(lt.stream.close(), f"asr-{lt.call.id}-{lt.leg}-close")

    @staticmethod
    def _detach(lt: LegTranscript) -> None:
        if lt.unsubscribe is not None:
            lt.unsubscribe()

    # -- one leg ------------------------------------------------------------------------------------

    async def _run(self, lt: LegTranscript) -> None:
        call = lt.call
        if self.transcriber is None and self._loading is not None:
            await asyncio.wait({self._loading})
        if self.transcriber is None:  # the model is missing: reported once at start
            self._legs.pop((call.id, lt.leg), None)
            return
        try:
            # the caller's words may be what an IVR speech menu waits for: an utterance the
            # model does not end is ended after 2 s without new words (voice/asr/stream.py)
            stream = await self.transcriber.open_stream(
                lt.leg, RATE, end_after_s=CALLER_END_AFTER_S if lt.leg is Leg.CALLER else None)
        except AsrError as err:
            self.stats["failed_streams"] += 1
            log.error("call %s: no transcription of the %s leg: %s", call.id, lt.leg.value, err)
            self._legs.pop((call.id, lt.leg), None)
            return
        lt.stream = stream
        if lt.stopping or getattr(lt.media, "closed", False):
            await stream.close()
            return
        self.stats["streams"] += 1

        clock = self.services.clock

        def hook(pcm: np.ndarray, ts: int) -> None:
            if ts != lt.next_ts:
                lt.marks_pos.append(lt.fed)
                lt.marks_t.append(clock.now())
            n = len(pcm)
            lt.fed += n
            lt.next_ts = (ts + n) & 0xFFFFFFFF
            stream.feed_nowait(pcm.tobytes())  # queued for the decoder threads; never blocks

        lt.attached_at = self.services.clock.now()
        lt.unsubscribe = lt.media.subscribe_pcm(hook)
        try:
            async for result in stream.results():
                try:
                    if isinstance(result, Final):
                        await self._final(lt, result)
                    elif isinstance(result, Partial):
                        await self._partial(lt, result)
                except Exception:  # noqa: BLE001 - one lost segment must not end the transcript
                    log.exception("call %s: transcript result of the %s leg not delivered", call.id,
                                  lt.leg.value)
        finally:
            self._detach(lt)
            if self._legs.get((call.id, lt.leg)) is lt:
                del self._legs[(call.id, lt.leg)]
            if stream.error is not None:
                self.stats["failed_streams"] += 1
                log.error("call %s: transcription of the %s leg stopped: %s", call.id, lt.leg.value,
                          stream.error)

    @staticmethod
    def _clock_at(lt: LegTranscript, stream_s: float) -> float:
        """The hub clock when the sample at ``stream_s`` (stream seconds) was received."""
        pos = int(round(stream_s * RATE))
        i = max(bisect.bisect_right(lt.marks_pos, pos) - 1, 0)
        if not lt.marks_pos:
            return lt.attached_at + stream_s
        return lt.marks_t[i] + (pos - lt.marks_pos[i]) / RATE

    def _call_s(self, lt: LegTranscript, stream_s: float) -> float:
        """Stream seconds → seconds since the call was answered (the recording's origin)."""
        origin = lt.call.answered_at or lt.attached_at
        return round(self._clock_at(lt, stream_s) - origin, 3)

    async def _emit(self, lt: LegTranscript, payload: dict[str, Any]) -> None:
        await self.services.push.about_conversation("transcript", payload, assignee_id=lt.call.agent_id,
                                                    also=[lt.agent_id])

    async def _partial(self, lt: LegTranscript, result: Partial) -> None:
        lt.partials += 1
        self.stats["partials"] += 1
        await self._emit(lt, {
            "conversation_id": lt.call.conversation_id, "call_id": lt.call.id, "leg": lt.leg.value,
            "speaker": SPEAKER[lt.leg.value], "final": False, "text": result.text,
            "start_s": self._call_s(lt, result.start_s), "late": result.late,
        })

    async def _final(self, lt: LegTranscript, result: Final) -> None:
        call = lt.call
        cid = call.conversation_id
        text = result.text.strip()
        if not text or cid is None:
            return
        now = self.services.clock.now()
        words = [{"text": w.text, "start_s": self._call_s(lt, w.start_s), "end_s": self._call_s(lt, w.end_s),
                  "conf": w.conf} for w in result.words]
        conf = round(sum(w.conf for w in result.words) / len(result.words), 4) if result.words else None
        agent_id = lt.agent_id if lt.leg is Leg.AGENT else call.agent_id
        listener = self._listeners.pop(call.id, None) if lt.leg is Leg.CALLER else None
        if listener is not None:
            listener(text, 1.0 if conf is None else conf)
            # a menu that listens again (a retry) does so at once: keep the stream for it
            asyncio.get_running_loop().call_soon(self._end_listen, call.id)
        values = {
            "id": new_id(), "conversation_id": cid, "call_id": call.id, "leg": lt.leg.value,
            "agent_id": agent_id, "text": text, "search_text": text.lower(),
            "start_s": self._call_s(lt, result.start_s), "end_s": self._call_s(lt, result.end_s),
            "started_at": self._clock_at(lt, result.start_s), "ended_at": self._clock_at(lt, result.end_s),
            "confidence": conf, "words": json.dumps(words, ensure_ascii=False), "late": result.late,
            "created_at": now,
        }
        seg = segment_public(_Row(values))
        async with self.services.db.tx() as tx:
            await tx.conn.execute(insert(t_segments).values(**values))
            tx.emit(Event(VoiceEventType.TRANSCRIPT_SEGMENT, now, conversation_id=cid, user_id=agent_id,
                          data={"text": text, "final": True, "leg": lt.leg.value, "speaker": lt.leg.value,
                                "call_id": call.id, "segment": seg}))
        lt.segments += 1
        self.stats["segments"] += 1
        await self._emit(lt, {**seg, "final": True})

    # -- reading ------------------------------------------------------------------------------------

    async def segments(self, conversation_id: str) -> list[dict[str, Any]]:
        return await list_segments(self.services, conversation_id)

    def conversation_search(self, q: str) -> Any:
        """Conversation ids whose call transcript contains ``q`` (the inbox search hook)."""
        like = f"%{q.strip().lower()}%"
        return select(t_segments.c.conversation_id).where(func.lower(t_segments.c.search_text).like(like))


async def list_call_status(services: Services, conversation_id: str) -> list[dict[str, Any]]:
    async with services.db.read() as conn:
        rows = (await conn.execute(select(t_status).where(t_status.c.conversation_id == conversation_id)
                                   .order_by(t_status.c.at, t_status.c.call_id))).all()
    return [{"call_id": r.call_id, "conversation_id": r.conversation_id, "status": r.status, "reason": r.reason,
             "at": r.at} for r in rows]


async def list_segments(services: Services, conversation_id: str) -> list[dict[str, Any]]:
    async with services.db.read() as conn:
        rows = (await conn.execute(
            select(t_segments).where(t_segments.c.conversation_id == conversation_id)
            .order_by(t_segments.c.started_at, t_segments.c.id))).all()
    return [segment_public(r) for r in rows]


def register_api(api: Api, services: Callable[[], Services],
                 transcripts: Callable[[], CallTranscripts | None]) -> None:
    """``GET /api/voice/conversations/{id}/transcript``: the stored transcript of a conversation's
    calls and whether each answered call was transcribed, for whoever may see the conversation
    (works with voice off: the rows stay). ``GET /api/voice/transcription``: the live figures."""

    @api.add("/api/voice/transcription", "GET",
             "Live call transcription: the stream cap, streams in use, calls not transcribed for capacity",
             tag="voice", response=S.TranscriptionStatus, access="supervise")
    async def transcription(request: Request) -> Response:
        await require(request, "supervise")
        tr = transcripts()
        if tr is None:
            return json_response({"enabled": False, "model": None, "error": None, "max_streams": None,
                                  "realtime_factor": None, "active_streams": 0, "reserved_streams": 0,
                                  "decoding_streams": 0,
                                  "idle_recognizers": None, "streams": 0, "segments": 0, "partials": 0,
                                  "failed_streams": 0, "transcribed_calls": 0, "shed_calls": 0,
                                  "shed_listens": 0})
        return json_response(tr.status())

    @api.add("/api/voice/conversations/{id}/transcript", "GET",
             "The call transcript of a conversation (final segments, both legs, in time order)", tag="voice",
             response=S.Transcript, access="desk|supervise")
    async def transcript(request: Request) -> Response:
        user = await current_user(request)
        svc = services()
        row = await svc.conversations.row(request.path_params["id"])
        svc.conversations.require_view(user, row)
        return json_response({"conversation_id": row.id, "segments": await list_segments(svc, row.id),
                              "calls": await list_call_status(svc, row.id)})


class _Row:
    """Attribute access over the values just inserted (for :func:`segment_public`)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
