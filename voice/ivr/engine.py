"""The IVR state machine (VOICE-2, VOICE-3): one :class:`IvrSession` per call.

Pure: events and the current time in, a list of actions out (``voice/ivr/model.py``). No sockets,
no clock reads, no hub services. The driver (``voice/calls``) performs the actions in order and
sends ``Timeout`` when a timer is due (or calls :meth:`IvrSession.tick` at
:meth:`IvrSession.next_deadline`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from voice.asr.base import join_cjk
from voice.ivr.conditions import ConditionError, Context, get_path, render, rule_matches
from voice.ivr.errors import SessionOver, UnknownNode
from voice.ivr.flow import (
    CallbackNode,
    CollectNode,
    ConditionNode,
    Flow,
    FlowDefinition,
    GotoNode,
    HangupNode,
    LookupNode,
    MenuNode,
    PlayNode,
    PromptRef,
    QueueNode,
    SetNode,
    SpeechMenuNode,
    TransferNode,
    VoicemailNode,
    audio_key,
)
from voice.ivr.model import (
    Action,
    AgentAnswered,
    CallerHungUp,
    CancelTimer,
    Dtmf,
    Event,
    Hangup,
    LeaveQueue,
    Listen,
    Lookup,
    LookupResult,
    Play,
    Prompt,
    PromptFinished,
    QueueLeft,
    QueueStatus,
    RecordingFinished,
    RecordVoicemail,
    RequestCallback,
    SessionState,
    SetVariable,
    SpeechResult,
    StartTimer,
    StopListen,
    StopPlay,
    StopRecording,
    Timeout,
    Transfer,
    TransferKind,
)
from voice.ivr.queueing import QueueEntry, QueueExperience, QueueWait
from voice.ivr.texts import builtin_prompt

MAX_HOPS = 64  # nodes entered without waiting for anything: more means a loop without input
RECORDING_GRACE_S = 5.0
_WAIT = object()
_WHOLE_VAR = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_.]*)\}$")
_CALLBACK_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


class IvrSession(QueueExperience):
    """One caller's walk through a flow.

    ``caller``/``called`` are the numbers; ``vip`` comes from the contact record; ``variables``
    seed the call variables (e.g. ``contact_id``)."""

    def __init__(self, flow: Flow | FlowDefinition | dict[str, Any], *, caller: str = "",
                 called: str = "", now: float = 0.0, vip: bool = False,
                 variables: Mapping[str, Any] | None = None, session_id: str = "") -> None:
        self.flow = Flow.of(flow)
        self.definition = self.flow.definition
        self.caller = caller
        self.called = called
        self.vip = vip
        self.created_at = now
        self.variables: dict[str, Any] = dict(variables or {})
        self.session_id = session_id
        self.state = SessionState.NEW
        self.node_id: str | None = None
        self.path: list[str] = []  # nodes entered, in order (for the call record)
        self._now = now
        self._seq = 0
        self._out: list[Action] = []
        self._timers: dict[str, tuple[str, float]] = {}  # id -> (kind, at)
        self._play_id: str | None = None
        self._play_barge_in = False
        self._listen_id: str | None = None
        self._mode = ""
        self._retries = 0
        self._repeat_left = 0
        self._digits: list[str] = []
        self._typeahead: list[str] = []
        self._queue: QueueWait | None = None
        self._return_entry: QueueEntry | None = None
        self._agent_branch = False
        self._mailbox: str | None = None
        self._voicemail_outcome = "voicemail_left"  # or "voicemail_discarded" (no message kept)

    # ------------------------------------------------------------------ public API

    @property
    def finished(self) -> bool:
        return self.state in (SessionState.ENDED, SessionState.TRANSFERRED)

    def start(self, now: float) -> list[Action]:
        if self.state is not SessionState.NEW:
            raise SessionOver("the session was already started")
        self._begin(now)
        self.state = SessionState.RUNNING
        language = self.definition.settings.language
        if language and "language" not in self.variables:
            # the call's language (the conversation's, for its automatic texts) until an IVR
            # entry sets another one (a ``set`` node with ``language``)
            self._set("language", language)
        self._goto(self.definition.start)
        return self._flush()

    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply one event; stale events (old play ids, cancelled timers) change nothing."""
        self._begin(now)
        if self.finished:
            return []
        if isinstance(event, CallerHungUp):
            self._caller_hung_up()
        elif isinstance(event, Timeout):
            timer = self._timers.pop(event.timer_id, None)
            if timer is not None:
                self._on_timer(event.timer_id, timer[0])
        elif isinstance(event, Dtmf):
            self._on_dtmf(event.digit)
        elif isinstance(event, PromptFinished):
            if event.play_id == self._play_id:
                self._play_id = None
                self._on_prompt_finished()
        elif isinstance(event, QueueStatus):
            if self._queue is not None:
                self._queue.position = event.position
                self._queue.expected_wait_s = event.expected_wait_s
        elif isinstance(event, AgentAnswered):
            self._agent_answered(event)
        elif isinstance(event, QueueLeft):
            self._queue_left(event.reason)
        elif isinstance(event, SpeechResult):
            self._on_speech(event)
        elif isinstance(event, LookupResult):
            self._on_lookup(event)
        elif isinstance(event, RecordingFinished):
            self._on_recording_finished(event)
        return self._flush()

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now`` (earliest first)."""
        self._begin(now)
        while not self.finished:
            due = sorted((at, tid) for tid, (_, at) in self._timers.items() if at <= now)
            if not due:
                break
            at, tid = due[0]
            kind, _ = self._timers.pop(tid)
            self._now = at
            self._on_timer(tid, kind)
        self._now = now
        return self._flush()

    def next_deadline(self) -> float | None:
        if self.finished or not self._timers:
            return None
        return min(at for _, at in self._timers.values())

    def enter(self, node_id: str, now: float, return_to: QueueEntry | None = None) -> list[Action]:
        """An agent sends the caller to an IVR branch (人工转自动). The caller can press the flow's
        ``return_key`` there to come back to a person in the same queue, with their original
        priority and age; ``return_to`` names that queue when the call did not queue via the
        flow."""
        if node_id not in self.definition.nodes:
            raise UnknownNode(f"the flow has no node {node_id!r}", details={"node": node_id})
        self._begin(now)
        if self.finished:
            raise SessionOver("the call is over")
        if return_to is not None:
            self._return_entry = return_to
        self._stop_all()
        if self._queue is not None:
            self._return_entry = self._queue.entry
            self._out.append(LeaveQueue(self._queue.entry.queue_id, "agent_branch"))
            self._queue = None
        self._agent_branch = True
        self.state = SessionState.RUNNING
        self._goto(node_id)
        return self._flush()

    @property
    def queue_entry(self) -> QueueEntry | None:
        """The queue the caller waits in (or last waited in)."""
        return self._queue.entry if self._queue is not None else self._return_entry

    # ------------------------------------------------------------------ plumbing

    def _begin(self, now: float) -> None:
        self._now = now
        self._out = []

    def _flush(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{self.session_id}{prefix}{self._seq}"

    def _timer(self, kind: str, delay_s: float) -> str:
        tid = self._id(f"t-{kind}-")
        at = self._now + delay_s
        self._timers[tid] = (kind, at)
        self._out.append(StartTimer(tid, at))
        return tid

    def _cancel(self, kind: str | None = None) -> None:
        for tid, (k, _) in list(self._timers.items()):
            if kind is None or k == kind:
                del self._timers[tid]
                self._out.append(CancelTimer(tid))

    def _stop_play(self) -> None:
        if self._play_id is not None:
            self._out.append(StopPlay(self._play_id))
            self._play_id = None
        if self._queue is not None:
            self._queue.music_playing = False

    def _stop_listen(self) -> None:
        if self._listen_id is not None:
            self._out.append(StopListen(self._listen_id))
            self._listen_id = None

    def _stop_all(self) -> None:
        self._stop_play()
        self._stop_listen()
        if self._mailbox is not None:
            self._out.append(StopRecording(self._mailbox))
            self._mailbox = None
        self._cancel()

    def _context_vars(self) -> dict[str, Any]:
        q = self._queue
        wait_s = q.expected_wait_s if q is not None else None
        number = str(self.variables.get("callback_number", self.caller))
        base: dict[str, Any] = {
            "caller": self.caller,
            "called": self.called,
            "vip": self.vip,
            "position": q.position if q is not None else None,
            "wait_s": None if wait_s is None else int(round(wait_s)),
            "wait_min": None if wait_s is None else max(1, math.ceil(wait_s / 60)),
            "number": number,
            "number_digits": " ".join(c for c in number if c.isdigit()),
        }
        base.update(self.variables)
        return base

    def _prompts(self, refs: list[PromptRef] | tuple[PromptRef, ...]) -> tuple[Prompt, ...]:
        voice = self.definition.settings.voice
        values = self._context_vars()
        out = []
        for ref in refs:
            if ref.file is not None:
                out.append(Prompt("file", ref.file, self.flow.audio.get(audio_key(ref))))
            elif ref.builtin is not None:
                out.append(Prompt("builtin", ref.builtin, f"builtin:{ref.builtin}"))
            else:
                text = render(ref.text or "", values)
                rendered = PromptRef(text=text, voice=ref.voice) if text.strip() else None
                if rendered is None:
                    continue
                path = self.flow.audio.get(audio_key(rendered, voice))
                out.append(Prompt("tts", text, path, ref.voice or voice))
        return tuple(out)

    def _play(self, refs: list[PromptRef] | tuple[PromptRef, ...], *, barge_in: bool = True,
              loop: bool = False) -> bool:
        """Start playing; False when there is nothing to play (the caller continues at once)."""
        prompts = self._prompts(refs)
        if not prompts:
            return False
        self._play_id = self._id("p")
        self._play_barge_in = barge_in
        self._out.append(Play(self._play_id, prompts, barge_in, loop))
        return True

    @property
    def language(self) -> str | None:
        """The call's language: the variable ``language`` (an IVR entry sets it), else the flow's."""
        value = self.variables.get("language") or self.definition.settings.language
        return str(value) if value else None

    def _builtin(self, given: list[PromptRef] | None, key: str) -> list[PromptRef]:
        """A node's own prompt, or the built-in one (voice/ivr/texts.py) in the call's language."""
        return builtin_prompt(given, key, self.language)

    def _set(self, name: str, value: Any) -> None:
        self.variables[name] = value
        self._out.append(SetVariable(name, value))

    def _value(self, raw: Any) -> Any:
        """A template value: ``"{var}"`` keeps the variable's type, other strings are rendered."""
        if isinstance(raw, str):
            m = _WHOLE_VAR.match(raw)
            if m:
                return get_path(self._context_vars(), m[1], None)
            return render(raw, self._context_vars())
        if isinstance(raw, dict):
            return {k: self._value(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self._value(v) for v in raw]
        return raw

    def _end(self, reason: str) -> None:
        self._stop_all()
        self.state = SessionState.ENDED
        self._out.append(Hangup(reason))

    # ------------------------------------------------------------------ moving between nodes

    def _goto(self, node_id: str | None, end_reason: str = "end_of_flow") -> None:
        hops = 0
        target: Any = node_id
        while True:
            if target is _WAIT or self.finished:
                return
            if target is None:
                self._end(end_reason)
                return
            hops += 1
            if hops > MAX_HOPS:
                self._end("flow_loop")
                return
            node = self.definition.nodes.get(target)
            if node is None:
                self._end("flow_error")
                return
            self.node_id = target
            self.path.append(target)
            self._mode = ""
            self._retries = 0
            self._digits = []
            target = self._enter(node)

    def _enter(self, node: Any) -> Any:
        if not isinstance(node, (PlayNode, MenuNode, CollectNode, SpeechMenuNode)):
            self._typeahead = []
        if isinstance(node, PlayNode):
            self._repeat_left = node.repeat
            if self._play(node.prompts, barge_in=node.barge_in):
                self._mode = "play"
                return _WAIT
            return node.next
        if isinstance(node, MenuNode):
            if self._typeahead:
                digit = self._typeahead.pop(0)
                self._typeahead = []
                return self._menu_choice(node, digit)
            return self._menu_prompt(node, [])
        if isinstance(node, CollectNode):
            typed, self._typeahead = self._typeahead, []
            for digit in typed:
                result = self._collect_digit(node, digit)
                if result is not _WAIT:
                    return result
            if typed:
                self._mode = "wait"
                self._timer("interdigit", node.inter_digit_timeout_s)
                return _WAIT
            return self._collect_prompt(node, [])
        if isinstance(node, ConditionNode):
            ctx = Context(self._now, self.caller, self.vip, self._context_vars(),
                          self.flow.calendars, self.definition.settings.timezone)
            for rule in node.rules:
                try:
                    if rule_matches(rule, ctx):
                        return rule.next
                except ConditionError:
                    continue
            return node.default
        if isinstance(node, LookupNode):
            args = {k: self._value(v) for k, v in node.args.items()}
            args.setdefault("caller", self.caller)
            self._mode = "lookup"
            self._out.append(Lookup(node.name, args))
            self._timer("lookup", node.timeout_s)
            return _WAIT
        if isinstance(node, QueueNode):
            entry = QueueEntry(self.node_id, node.queue_id, node.priority, dict(node.skills),
                               self._now)
            self._enter_queue(entry, node, original=False)
            return _WAIT
        if isinstance(node, VoicemailNode):
            self._mode = "greeting"
            if self._play(node.greeting, barge_in=True):
                return _WAIT
            self._start_recording(node)
            return _WAIT
        if isinstance(node, CallbackNode):
            raw = self.variables.get(node.number_var) if node.number_var else self.caller
            number = re.sub(r"[\s().-]", "", str(raw or ""))
            if not _CALLBACK_NUMBER.match(number):
                self._set("callback_error", "no_valid_number")
                if node.on_failure is None:
                    self._end("no_callback_number")
                    return _WAIT
                return node.on_failure
            self._set("callback_number", number)
            self._out.append(RequestCallback(number, node.queue_id, dict(self.variables)))
            self._mode = "confirm"
            if self._play(self._builtin(node.confirm, "callback_confirm"), barge_in=True):
                return _WAIT
            return self._after_callback(node)
        if isinstance(node, TransferNode):
            self._mode = "transfer"
            if self._play(node.prompt, barge_in=False):
                return _WAIT
            self._transfer(node)
            return _WAIT
        if isinstance(node, SpeechMenuNode):
            if self._typeahead:
                digit = self._typeahead.pop(0)
                self._typeahead = []
                if digit in node.options:
                    return node.options[digit]
            return self._speech_prompt(node, [])
        if isinstance(node, HangupNode):
            self._mode = "goodbye"
            if self._play(node.prompt, barge_in=False):
                return _WAIT
            self._end(node.reason)
            return _WAIT
        if isinstance(node, GotoNode):
            return node.target
        if isinstance(node, SetNode):
            for name, raw in node.variables.items():
                self._set(name, self._value(raw))
            return node.next
        self._end("flow_error")
        return _WAIT

    def _node(self) -> Any:
        return self.definition.nodes.get(self.node_id or "")

    # ------------------------------------------------------------------ events

    def _on_dtmf(self, digit: str) -> None:
        if self.state is SessionState.CONNECTED:
            return
        ret = self.definition.settings.return_key
        if (self._agent_branch and self._return_entry is not None and digit == ret
                and self.state is SessionState.RUNNING):
            self._back_to_person()
            return
        node = self._node()
        if isinstance(node, QueueNode) and self._queue is not None:
            self._queue_key(digit)
            return
        if self.state is SessionState.RECORDING:
            if isinstance(node, VoicemailNode) and digit == node.end_key and self._mailbox:
                self._out.append(StopRecording(self._mailbox))
                self._mailbox = None
                self._mode = "record_stopping"
            return
        interrupted = False
        if self._play_id is not None and self._play_barge_in:
            self._stop_play()  # barge-in: StopPlay is the first action
            interrupted = True
        if isinstance(node, PlayNode):
            if interrupted:
                self._typeahead.append(digit)
                self._goto(node.next)
        elif isinstance(node, MenuNode):
            if self._mode in ("prompt", "wait"):
                self._cancel("menu")
                self._goto_result(self._menu_choice(node, digit))
        elif isinstance(node, CollectNode):
            if self._mode in ("prompt", "wait"):
                self._mode = "wait"
                self._cancel()
                result = self._collect_digit(node, digit)
                if result is _WAIT and not self.finished and self._mode == "wait":
                    self._timer("interdigit", node.inter_digit_timeout_s)
                self._goto_result(result)
        elif isinstance(node, SpeechMenuNode):
            if digit in node.options and self._mode in ("prompt", "listen"):
                self._stop_listen()
                self._cancel()
                self._goto(node.options[digit])
            elif interrupted and self._mode == "prompt":
                self._start_listen(node)
        elif isinstance(node, VoicemailNode):
            if interrupted and self._mode == "greeting":
                self._start_recording(node)
            elif interrupted and self._mode == "thanks":
                self._goto(node.next, self._voicemail_outcome)
        elif isinstance(node, CallbackNode):
            if interrupted and self._mode == "confirm":
                self._goto_result(self._after_callback(node))

    def _goto_result(self, result: Any) -> None:
        if result is not _WAIT:
            self._goto(result)

    def _on_prompt_finished(self) -> None:
        node = self._node()
        if self._queue is not None and self.state is SessionState.QUEUED:
            self._queue_play_next()
            return
        if isinstance(node, PlayNode) and self._mode == "play":
            self._repeat_left -= 1
            if self._repeat_left > 0 and self._play(node.prompts, barge_in=node.barge_in):
                return
            self._goto(node.next)
        elif isinstance(node, MenuNode) and self._mode == "prompt":
            self._mode = "wait"
            self._timer("menu", node.timeout_s)
        elif isinstance(node, CollectNode) and self._mode == "prompt":
            self._mode = "wait"
            self._timer("first", node.timeout_s)
        elif isinstance(node, SpeechMenuNode):
            if self._mode == "prompt":
                self._start_listen(node)
            elif self._mode == "answer":
                self._goto(node.after_answer or node.default, "answered")
        elif isinstance(node, VoicemailNode):
            if self._mode == "greeting":
                self._start_recording(node)
            elif self._mode == "thanks":
                self._goto(node.next, self._voicemail_outcome)
        elif isinstance(node, CallbackNode) and self._mode == "confirm":
            self._goto_result(self._after_callback(node))
        elif isinstance(node, TransferNode) and self._mode == "transfer":
            self._transfer(node)
        elif isinstance(node, HangupNode) and self._mode == "goodbye":
            self._end(node.reason)

    def _on_timer(self, tid: str, kind: str) -> None:
        node = self._node()
        if kind in ("announce", "offer", "max_wait"):
            self._queue_timer(kind)
        elif kind == "menu" and isinstance(node, MenuNode):
            self._goto_result(self._menu_retry(node, self._builtin(node.timeout_prompt, "menu_no_input"), "no_input"))
        elif kind == "first" and isinstance(node, CollectNode):
            if self._digits:
                self._goto_result(self._collect_finish(node))
            else:
                self._goto_result(self._collect_retry(node, self._builtin(node.timeout_prompt, "collect_no_input")))
        elif kind == "interdigit" and isinstance(node, CollectNode):
            self._goto_result(self._collect_finish(node))
        elif kind == "lookup" and isinstance(node, LookupNode):
            self._set("lookup_error", "timeout")
            self._goto(node.on_error or node.next)
        elif kind == "listen" and isinstance(node, SpeechMenuNode):
            self._stop_listen()
            self._goto_result(self._speech_no_match(node))
        elif kind == "speech_lookup" and isinstance(node, SpeechMenuNode):
            self._goto_result(self._speech_no_match(node))
        elif kind == "record" and isinstance(node, VoicemailNode):
            # the driver never reported the end: stop it and carry on
            if self._mailbox is not None:
                self._out.append(StopRecording(self._mailbox))
                self._mailbox = None
            self._on_recording_finished(RecordingFinished(node.max_s))

    # ------------------------------------------------------------------ menu

    def _menu_prompt(self, node: MenuNode, before: list[PromptRef]) -> Any:
        self._mode = "prompt"
        if self._play([*before, *node.prompt], barge_in=True):
            return _WAIT
        self._mode = "wait"
        self._timer("menu", node.timeout_s)
        return _WAIT

    def _menu_choice(self, node: MenuNode, digit: str) -> Any:
        if digit in node.options:
            if node.store:
                self._set(node.store, digit)
            return node.options[digit]
        return self._menu_retry(node, self._builtin(node.invalid_prompt, "menu_invalid"), "invalid")

    def _menu_retry(self, node: MenuNode, prompt: list[PromptRef], why: str) -> Any:
        self._retries += 1
        if self._retries > node.retries:
            if node.default is None:
                self._end("no_valid_input")
                return _WAIT
            return node.default
        return self._menu_prompt(node, prompt)

    # ------------------------------------------------------------------ collect

    def _collect_prompt(self, node: CollectNode, before: list[PromptRef]) -> Any:
        self._digits = []
        self._mode = "prompt"
        if self._play([*before, *node.prompt], barge_in=True):
            return _WAIT
        self._mode = "wait"
        self._timer("first", node.timeout_s)
        return _WAIT

    def _collect_digit(self, node: CollectNode, digit: str) -> Any:
        if node.terminator is not None and digit == node.terminator:
            return self._collect_finish(node)
        if not digit.isdigit():
            return _WAIT  # other keys are not part of a number
        self._digits.append(digit)
        if len(self._digits) >= node.max_digits:
            return self._collect_finish(node)
        return _WAIT

    def _collect_finish(self, node: CollectNode) -> Any:
        self._cancel()
        value = "".join(self._digits)
        ok = node.min_digits <= len(value) <= node.max_digits
        if ok and node.pattern is not None:
            ok = re.fullmatch(node.pattern, value) is not None
        if ok:
            self._set(node.store, value)
            return node.next
        return self._collect_retry(node, self._builtin(node.invalid_prompt, "collect_invalid"))

    def _collect_retry(self, node: CollectNode, prompt: list[PromptRef]) -> Any:
        self._digits = []
        self._retries += 1
        if self._retries > node.retries:
            if node.on_failure is None:
                self._end("no_valid_input")
                return _WAIT
            return node.on_failure
        retries = self._retries
        result = self._collect_prompt(node, prompt)
        self._retries = retries
        return result

    # ------------------------------------------------------------------ lookup

    def _on_lookup(self, event: LookupResult) -> None:
        node = self._node()
        if isinstance(node, LookupNode) and self._mode == "lookup" and event.name == node.name:
            self._cancel("lookup")
            self._mode = ""
            if event.error is not None:
                self._set("lookup_error", event.error)
                self._goto(node.on_error or node.next)
                return
            self._set(node.store, event.value)
            self._goto(node.next)
        elif (isinstance(node, SpeechMenuNode) and self._mode == "speech_lookup"
              and event.name == node.hook):
            self._cancel("speech_lookup")
            value = event.value if isinstance(event.value, Mapping) else {}
            if event.error is not None or not value:
                self._goto_result(self._speech_no_match(node))
                return
            confidence = value.get("confidence")
            if isinstance(confidence, (int, float)) and confidence < node.min_confidence:
                self._goto_result(self._speech_no_match(node))
                return
            branch = value.get("branch")
            for b in node.branches:
                if branch is not None and b.key == branch:
                    if node.store:
                        self._set(node.store, b.key)
                    self._goto(b.next)
                    return
            answer = value.get("answer")
            if isinstance(answer, str) and answer.strip():
                self._set("answer", answer)
                self._mode = "answer"
                if not self._play([PromptRef(text=answer)], barge_in=True):
                    self._goto(node.after_answer or node.default, "answered")
                return
            self._goto_result(self._speech_no_match(node))

    # ------------------------------------------------------------------ speech menu

    def _speech_prompt(self, node: SpeechMenuNode, before: list[PromptRef]) -> Any:
        self._mode = "prompt"
        if self._play([*before, *node.prompt], barge_in=True):
            return _WAIT
        self._start_listen(node)
        return _WAIT

    def _start_listen(self, node: SpeechMenuNode) -> None:
        self._mode = "listen"
        phrases = tuple(dict.fromkeys(kw for b in node.branches for kw in b.keywords))
        self._listen_id = self._id("l")
        self._out.append(Listen(self._listen_id, phrases,
                                node.language or self.definition.settings.language))
        self._timer("listen", node.timeout_s)

    def _on_speech(self, event: SpeechResult) -> None:
        node = self._node()
        if not isinstance(node, SpeechMenuNode) or self._mode != "listen":
            return
        if event.listen_id is not None and event.listen_id != self._listen_id:
            return
        self._stop_listen()
        self._cancel("listen")
        text = " ".join(event.text.split())
        if text:
            self._set("speech_text", text)
        if not text or event.confidence < node.min_confidence:
            self._goto_result(self._speech_no_match(node))
            return
        branch = match_keywords(text, node)
        if branch is not None:
            if node.store:
                self._set(node.store, branch.key)
            self._goto(branch.next)
            return
        if node.hook:
            self._mode = "speech_lookup"
            self._out.append(Lookup(node.hook, {"text": text,
                                                "branches": [b.key for b in node.branches],
                                                "language": node.language
                                                or self.definition.settings.language}))
            self._timer("speech_lookup", 5.0)
            return
        self._goto_result(self._speech_no_match(node))

    def _speech_no_match(self, node: SpeechMenuNode) -> Any:
        self._retries += 1
        if self._retries > node.retries:
            if node.default is None:
                self._end("no_valid_input")
                return _WAIT
            return node.default
        retries = self._retries
        result = self._speech_prompt(node, self._builtin(node.no_match_prompt, "speech_no_match"))
        self._retries = retries
        return result

    # ------------------------------------------------------------------ voicemail, callback, transfer

    def _start_recording(self, node: VoicemailNode) -> None:
        self._mode = "record"
        self.state = SessionState.RECORDING
        self._mailbox = node.mailbox
        self._out.append(RecordVoicemail(node.mailbox, node.max_s, node.beep, dict(self.variables),
                                         queue_id=node.queue_id, agent_id=node.agent_id,
                                         silence_s=node.silence_s,
                                         notify_email=tuple(node.notify_email),
                                         notify_sms=tuple(node.notify_sms)))
        self._timer("record", node.max_s + RECORDING_GRACE_S)

    def _on_recording_finished(self, event: RecordingFinished) -> None:
        node = self._node()
        if not isinstance(node, VoicemailNode) or self._mode not in ("record", "record_stopping"):
            return
        self._cancel("record")
        self._mailbox = None
        self.state = SessionState.RUNNING
        self._set("voicemail_s", round(event.duration_s, 2))
        # an empty id: the service kept nothing (too little speech), and the call's end says so
        # (None: not known, as when the driver never reported the end)
        self._voicemail_outcome = "voicemail_discarded" if event.recording_id == "" else "voicemail_left"
        if event.recording_id:
            self._set("voicemail_id", event.recording_id)
        self._mode = "thanks"
        if not self._play(node.thanks, barge_in=True):
            self._goto(node.next, self._voicemail_outcome)

    def _after_callback(self, node: CallbackNode) -> Any:
        if node.next is None:
            self._end("callback_requested")
            return _WAIT
        return node.next

    def _transfer(self, node: TransferNode) -> None:
        self._stop_all()
        target = str(self._value(node.target))
        self.state = SessionState.TRANSFERRED
        self._out.append(Transfer(TransferKind(node.kind), target, dict(self.variables)))

    def _caller_hung_up(self) -> None:
        self._stop_play()
        self._stop_listen()
        self._mailbox = None
        self._cancel()
        if self._queue is not None:
            self._out.append(LeaveQueue(self._queue.entry.queue_id, "abandoned"))
            self._queue = None
        self.state = SessionState.ENDED


def match_keywords(text: str, node: SpeechMenuNode) -> Any:
    """The first branch with a keyword in ``text`` (whole words for Latin script, substring
    otherwise, case-insensitive). Chinese is matched as written, without spaces: a recogniser's
    "我 要 交 燃气 费" (vosk's Chinese models put spaces between words) and an unsegmented
    "我要交燃气费" both contain the keyword "燃气费"."""
    lowered = join_cjk(text.lower())
    for branch in node.branches:
        for kw in branch.keywords:
            k = join_cjk(kw.lower().strip())
            if not k:
                continue
            if k.isascii():
                if re.search(rf"(?<![\w]){re.escape(k)}(?![\w])", lowered):
                    return branch
            elif k in lowered:
                return branch
    return None
