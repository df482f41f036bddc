"""Driver of an IVR session (``voice/ivr``) for one call: feeds it events (DTMF, prompt ends,
timers, queue position, agent answered, hang-up) and performs the actions it returns, in order.

The session is pure; this driver owns one timer task per call (``next_deadline`` + ``tick``), plays
prompts on the caller's RTP leg (barge-in: ``StopPlay`` stops the leg's player at once, so the
next 20 ms frame is already silent) and maps ``Enqueue``/``Transfer``/``Hangup`` onto the call
service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from voice.calls.call import CallHost
from voice.ivr import model as m
from voice.ivr.texts import template_language
from voice.media.prompts import Prompt as MediaPrompt
from voice.media.prompts import PromptError

if TYPE_CHECKING:
    from voice.calls.call import Call
    from voice.calls.callback import CallbackService
    from voice.calls.voicemail import VoicemailService
    from voice.media.prompts import PromptCache

__all__ = ["IvrDriver", "IvrHost"]

log = logging.getLogger(__name__)

EXPECTED_WAIT_PER_POSITION_S = 45.0  # rough estimate until the ACD publishes a forecast


class IvrHost(CallHost, Protocol):
    """What the IVR driver needs of the call service that runs it (see ``CallHost``)."""

    @property
    def prompts(self) -> PromptCache: ...
    @property
    def voicemail(self) -> VoicemailService | None: ...
    @property
    def callbacks(self) -> CallbackService | None: ...

    def now(self) -> float: ...
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    async def enqueue(self, call: Call, queue_id: str, *, priority: int = 0,
                      skills: dict[str, int] | None = None, enqueued_at: float | None = None,
                      force_music: bool = False, agent_id: str | None = None) -> None: ...
    async def leave_queue(self, call: Call) -> None: ...
    async def end(self, call: Call, reason: str) -> None: ...


class IvrDriver:
    plays_queue_audio = True  # the flow's queue node plays intro, music and announcements

    def __init__(self, service: IvrHost, call: Call, flow: Any) -> None:
        from voice.ivr import IvrSession

        self.service = service
        self.call = call
        self.session = IvrSession(flow, caller=call.caller_number, called=call.callee, now=service.now(),
                                  variables={"conversation_id": call.conversation_id, "call_id": call.id},
                                  session_id=f"{call.id}:")
        self.current_play: str | None = None
        self.variables: dict[str, Any] = {}
        self.digits: list[str] = []
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._last_status: tuple[int, float | None] | None = None
        self._closed = False

    # -- events in --------------------------------------------------------------------------------

    def start(self) -> None:
        self._timer = self.service.spawn(self._run_timers(), f"call-{self.call.id}-ivr", self.call)
        self._feed(None)

    def dtmf(self, digit: str) -> None:
        self.digits.append(digit)
        self._feed(m.Dtmf(digit))

    def agent_answered(self, agent_id: str) -> None:
        self._feed(m.AgentAnswered(agent_id))

    def queue_left(self, reason: str) -> None:
        self._feed(m.QueueLeft(reason))

    def hung_up(self) -> None:
        vm = self._voicemail_service()
        if vm is not None:
            vm.stop_recording(self.call, "hangup")  # the message so far is kept
        if not self._closed:
            self._feed(m.CallerHungUp())
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()

    def _feed(self, event: m.Event | None) -> None:
        if self._closed:
            return
        now = self.service.now()
        try:
            actions = self.session.start(now) if event is None else self.session.handle(event, now)
            self._perform(actions)
        except Exception:  # noqa: BLE001 - a flow bug must not leave the caller in silence
            log.exception("call %s: IVR failed on %r; queueing the call", self.call.id, event)
            self._fallback()
        self._wake.set()

    def _fallback(self) -> None:
        self._closed = True
        queue = self.call.queue_id or self.service.settings.widget_default_queue
        self.service.spawn(self.service.enqueue(self.call, queue, force_music=True),
                           f"call-{self.call.id}-ivr-fallback", self.call)

    async def _run_timers(self) -> None:
        while not self._closed:
            self._wake.clear()
            deadline = self.session.next_deadline()
            status_due = 2.0 if self.call.state == "queued" else None
            delay = None if deadline is None else max(0.0, deadline - self.service.now())
            if status_due is not None:
                delay = status_due if delay is None else min(delay, status_due)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            if self._closed:
                return
            self._queue_status()
            try:
                self._perform(self.session.tick(self.service.now()))
            except Exception:  # noqa: BLE001
                log.exception("call %s: IVR timer failed", self.call.id)

    def _queue_status(self) -> None:
        call = self.call
        if call.state != "queued" or call.conversation_id is None or call.queue_id is None:
            return
        engine = self.service.services.routing.engine
        try:
            waiting = engine.waiting_contacts(call.queue_id)
        except Exception:  # noqa: BLE001 - the queue may just have been removed
            return
        ids = [w.contact_id for w in waiting]
        if call.conversation_id not in ids:
            return
        position = ids.index(call.conversation_id) + 1
        status = (position, position * EXPECTED_WAIT_PER_POSITION_S)
        if status != self._last_status:
            self._last_status = status
            self._perform(self.session.handle(m.QueueStatus(*status), self.service.now()))

    # -- actions out ------------------------------------------------------------------------------

    def _perform(self, actions: list[Any]) -> None:
        for action in actions:
            self._one(action)

    def _one(self, action: Any) -> None:
        call, svc = self.call, self.service
        media = call.caller.media
        if isinstance(action, m.StopPlay):
            if self.current_play == action.play_id:
                media.stop_play()
                self.current_play = None
        elif isinstance(action, m.Play):
            self._play(action)
        elif isinstance(action, m.StartTimer | m.CancelTimer):
            self._wake.set()  # timers run from next_deadline()
        elif isinstance(action, m.Enqueue):
            svc.spawn(svc.enqueue(call, action.queue_id, priority=action.priority, skills=action.skills,
                                  enqueued_at=action.enqueued_at), f"call-{call.id}-enqueue", call)
        elif isinstance(action, m.LeaveQueue):
            if action.reason != "abandoned":
                svc.spawn(svc.leave_queue(call), f"call-{call.id}-leave-queue", call)
        elif isinstance(action, m.Transfer):
            self._transfer(action)
        elif isinstance(action, m.Hangup):
            self._closed = True
            svc.spawn(svc.end(call, f"ivr_{action.reason}"), f"call-{call.id}-ivr-hangup", call)
        elif isinstance(action, m.SetVariable):
            self.variables[action.name] = action.value
            if action.name == "language" and action.value and call.conversation_id:
                svc.spawn(self._set_language(call.conversation_id, str(action.value)),
                          f"call-{call.id}-language", call)
        elif isinstance(action, m.Lookup):
            svc.spawn(self._lookup(action), f"call-{call.id}-lookup", call)
        elif isinstance(action, m.Listen):
            # the speech menu hears the caller's next final utterance from the call's live
            # transcription (voice/calls/transcripts.py); without it: "nothing understood"
            tr = svc.transcripts
            lid = action.listen_id
            if tr is None or not tr.listen(call, lambda text, conf: self._feed(
                    m.SpeechResult(text, conf, listen_id=lid))):
                asyncio.get_running_loop().call_soon(self._feed, m.SpeechResult("", 0.0, listen_id=lid))
        elif isinstance(action, m.StopListen):
            if svc.transcripts is not None:
                svc.transcripts.unlisten(call)
        elif isinstance(action, m.RecordVoicemail):
            self._voicemail(action)
        elif isinstance(action, m.StopRecording):
            vm = self._voicemail_service()
            if vm is None or not vm.stop_recording(call, "end_key"):
                asyncio.get_running_loop().call_soon(self._feed, m.RecordingFinished(0.0))
        elif isinstance(action, m.RequestCallback):
            self.variables["callback_number"] = action.number
            callbacks = self.service.callbacks
            if callbacks is None:
                log.warning("call %s: callback to %s requested but the voice service is off", call.id,
                            action.number)
            else:
                svc.spawn(callbacks.request(call, action.number, action.queue_id), f"call-{call.id}-callback",
                          call)
        else:
            log.debug("call %s: IVR action %r not handled", call.id, action)

    def _play(self, action: m.Play) -> None:
        """Play the action's prompts in order. The 20 ms pacer only ever sends frames already in
        memory: prompts whose audio is not (a first play since the start, a text prompt that was
        not pre-rendered: ``services.ports.ivr.audio_for`` synthesises it) are loaded or rendered
        off the event loop first and played once ready; a prompt that cannot be rendered or read
        is skipped with a warning, the rest still plays."""
        self.current_play = action.play_id
        codec = self.call.caller.media.codec
        ready = [self.service.prompts.peek(p.path, codec) if p.path is not None else None
                 for p in action.prompts]
        if any(r is None for r in ready):
            self.service.spawn(self._render_and_play(action), f"call-{self.call.id}-tts", self.call)
            return
        self._start_play(action, [frame for r in ready if r is not None for frame in r.frames])

    def _frames(self, source: str | None, label: str) -> tuple[bytes, ...]:
        if source is None:
            log.info("call %s: prompt %r has no audio", self.call.id, label[:60])
            return ()
        try:
            return self.service.prompts.get(source, self.call.caller.media.codec).frames
        except (OSError, PromptError) as err:
            log.warning("call %s: prompt %s unreadable: %s", self.call.id, source, err)
            return ()

    async def _render_and_play(self, action: m.Play) -> None:
        ivr = self.service.services.ports.ivr
        frames: list[bytes] = []
        for prompt in action.prompts:
            source = prompt.path
            if source is None and prompt.kind == "tts":
                if not prompt.value.strip():
                    log.warning("call %s: empty TTS prompt skipped", self.call.id)
                    continue
                try:
                    source = await ivr.audio_for(prompt) if ivr is not None else None
                except Exception:  # noqa: BLE001 - a bad prompt must not silence the whole flow
                    log.exception("call %s: TTS prompt %r failed", self.call.id, prompt.value[:60])
                    source = None
                if source is None:
                    log.warning("call %s: TTS prompt %r could not be rendered (see the TTS engine "
                                "errors above); skipped", self.call.id, prompt.value[:60])
                    continue
            frames.extend(await asyncio.to_thread(self._frames, source, prompt.value))
        if self._closed or self.call.ended or self.current_play != action.play_id:
            return  # barged in, hung up or replaced while the prompt was being rendered
        self._start_play(action, frames)

    def _start_play(self, action: m.Play, frames: list[bytes]) -> None:
        media = self.call.caller.media
        play_id = action.play_id

        def done() -> None:
            if self.current_play == play_id:
                self.current_play = None
                self._feed(m.PromptFinished(play_id))

        if not frames:
            asyncio.get_running_loop().call_soon(done)
            return
        prompt = MediaPrompt(play_id, media.codec, tuple(frames))
        media.play(prompt, loop=action.loop, on_done=None if action.loop else done)

    def _transfer(self, action: m.Transfer) -> None:
        call, svc = self.call, self.service
        self._closed = True
        if action.kind == m.TransferKind.QUEUE:
            svc.spawn(svc.enqueue(call, action.target, force_music=True), f"call-{call.id}-ivr-queue", call)
        elif action.kind == m.TransferKind.AGENT:
            svc.spawn(svc.enqueue(call, call.queue_id or svc.settings.widget_default_queue, force_music=True,
                                  agent_id=action.target), f"call-{call.id}-ivr-agent", call)
        else:
            log.warning("call %s: IVR transfer to external %s: no outbound trunk support yet", call.id,
                        action.target)
            svc.spawn(svc.end(call, "ivr_external_unsupported"), f"call-{call.id}-ivr-ext", call)

    async def _set_language(self, conversation_id: str, language: str) -> None:
        """The language of the IVR entry the caller chose (or the flow's) becomes the
        conversation's (``zh-CN``, ``en``): every later automatic text to this customer uses it."""
        await self.service.services.conversations.set_language(conversation_id, template_language(language))

    async def _lookup(self, action: m.Lookup) -> None:
        ivr = self.service.services.ports.ivr
        if ivr is None:
            result = m.LookupResult(action.name, error="no lookup hooks")
        else:
            result = await ivr.lookup(action.name, action.args)
        self._feed(result)

    def _voicemail_service(self) -> VoicemailService | None:
        return self.service.voicemail

    def _voicemail(self, action: m.RecordVoicemail) -> None:
        """Record the caller's message into its own WAV (voice/calls/voicemail.py); the flow
        goes on (thanks prompt, next node) once it ends."""
        vm = self._voicemail_service()
        loop = asyncio.get_running_loop()
        if vm is None:
            log.warning("call %s: voicemail is not available; the flow goes on", self.call.id)
            loop.call_soon(self._feed, m.RecordingFinished(0.0))
            return

        def finished(duration_s: float, voicemail_id: str) -> None:
            loop.call_soon(self._feed, m.RecordingFinished(duration_s, voicemail_id))

        vm.record(self.call, action, finished)
