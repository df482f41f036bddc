"""The queue experience (VOICE-3) of an IVR session: while the caller waits in an ACD queue, the
intro, music on hold, position / expected-wait announcements every N s, the periodic
"press 1 for a callback, 2 for voicemail" offer, keys that leave the queue, max wait overflow,
an agent answering, and coming back to a person after an IVR branch with the original age.

A mixin of :class:`voice.ivr.engine.IvrSession` (it uses the session's plumbing: ``_play``,
``_timer``, ``_stop_all``, ``_goto``, ``_set``); pure like the rest of the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voice.ivr.flow import PromptRef, QueueNode
from voice.ivr.model import Action, AgentAnswered, Enqueue, LeaveQueue, SessionState

if TYPE_CHECKING:
    from voice.ivr.flow import FlowDefinition


@dataclass
class QueueEntry:
    """What the session needs to put the caller back in a queue with their original age."""

    node_id: str | None
    queue_id: str
    priority: int
    skills: dict[str, int]
    enqueued_at: float


@dataclass
class QueueWait:
    entry: QueueEntry
    node: QueueNode | None
    pending: list[tuple[PromptRef, ...]] = field(default_factory=list)
    music_playing: bool = False
    position: int | None = None
    expected_wait_s: float | None = None


class QueueExperience:
    """State and steps of waiting in a queue (mixed into ``IvrSession``)."""

    # provided by IvrSession
    state: SessionState
    node_id: str | None
    path: list[str]
    definition: FlowDefinition
    variables: dict[str, Any]
    _out: list[Action]
    _play_id: str | None
    _queue: QueueWait | None
    _return_entry: QueueEntry | None
    _agent_branch: bool

    if TYPE_CHECKING:
        def _play(self, refs: Any, *, barge_in: bool = True, loop: bool = False) -> bool: ...
        def _builtin(self, given: list[PromptRef] | None, key: str) -> list[PromptRef]: ...
        def _timer(self, kind: str, delay_s: float) -> str: ...
        def _stop_play(self) -> None: ...
        def _stop_all(self) -> None: ...
        def _set(self, name: str, value: Any) -> None: ...
        def _goto(self, node_id: str | None, end_reason: str = "end_of_flow") -> None: ...

    def _enter_queue(self, entry: QueueEntry, node: QueueNode | None, *, original: bool) -> None:
        self.state = SessionState.QUEUED
        self._queue = QueueWait(entry, node)
        self._return_entry = None
        self._agent_branch = False
        self._out.append(Enqueue(entry.queue_id, entry.priority, dict(entry.skills),
                                 dict(self.variables), entry.enqueued_at if original else None))
        if node is not None:
            if node.announce is not None:
                first = node.announce.first_after_s
                self._timer("announce", node.announce.every_s if first is None else first)
            if node.offer is not None and node.offer.prompt:
                first = node.offer.first_after_s
                self._timer("offer", node.offer.every_s if first is None else first)
            if node.max_wait_s is not None:
                self._timer("max_wait", node.max_wait_s)
            if node.intro:
                self._queue.pending.append(tuple(node.intro))
        self._queue_play_next()

    def _queue_play_next(self) -> None:
        q = self._queue
        if q is None:
            return
        while q.pending:
            refs = q.pending.pop(0)
            if self._play(refs, barge_in=True):
                q.music_playing = False
                return
        if q.node is not None and q.node.music and self._play(q.node.music, barge_in=True,
                                                              loop=True):
            q.music_playing = True

    def _queue_timer(self, kind: str) -> None:
        q = self._queue
        if q is None or q.node is None or self.state is not SessionState.QUEUED:
            return
        node = q.node
        if kind == "max_wait":
            self._leave_queue("max_wait")
            self._set("queue_exit", "max_wait")
            self._goto(node.overflow, "max_wait")
            return
        every = None
        if kind == "announce" and node.announce is not None:
            every = node.announce.every_s
            # nothing known yet: say nothing rather than a blank number
            if q.position is not None:
                prompt = self._builtin(node.announce.prompt, "queue_position")
                q.pending.append(tuple(_without_unknown_wait(prompt, q.expected_wait_s is None)))
        elif kind == "offer" and node.offer is not None:
            every = node.offer.every_s
            q.pending.append(tuple(node.offer.prompt))
        if q.pending and (q.music_playing or self._play_id is None):
            self._stop_play()  # audio first: the music stops in the same frame
            self._queue_play_next()
        if every is not None:
            self._timer(kind, every)

    def _queue_key(self, digit: str) -> None:
        q = self._queue
        assert q is not None
        node = q.node
        if node is None or digit not in node.keys:
            return
        self._stop_play()  # StopPlay first: the key interrupts music or an announcement
        self._leave_queue("caller_choice")
        self._set("queue_exit", digit)
        self._goto(node.keys[digit])

    def _leave_queue(self, reason: str) -> None:
        q = self._queue
        if q is None:
            return
        self._stop_all()
        self._out.append(LeaveQueue(q.entry.queue_id, reason))
        self._queue = None
        self.state = SessionState.RUNNING

    def _queue_left(self, reason: str) -> None:
        q = self._queue
        if q is None:
            return
        self._stop_all()
        self._queue = None
        self.state = SessionState.RUNNING
        self._set("queue_exit", reason)
        self._goto(q.node.overflow if q.node is not None else None, reason)

    def _agent_answered(self, event: AgentAnswered) -> None:
        q = self._queue
        if q is None:
            return
        self._stop_all()
        self._return_entry = q.entry
        self._queue = None
        self.state = SessionState.CONNECTED
        if event.agent_id:
            self.variables["agent_id"] = event.agent_id

    def _back_to_person(self) -> None:
        entry = self._return_entry
        assert entry is not None
        self._stop_all()
        node = self.definition.nodes.get(entry.node_id or "")
        self.node_id = entry.node_id
        if entry.node_id:
            self.path.append(entry.node_id)
        self._set("returned_to_person", True)
        self._enter_queue(entry, node if isinstance(node, QueueNode) else None, original=True)


def _without_unknown_wait(refs: list[PromptRef], unknown: bool) -> list[PromptRef]:
    """While the expected wait is unknown, drop the sentences of TTS announcements that say it
    (rather than "about  minutes")."""
    if not unknown:
        return list(refs)
    out = []
    for ref in refs:
        if ref.text is None or "{wait_" not in ref.text:
            out.append(ref)
            continue
        kept = [part for part in re.split(r"(?<=[.!?。！？])\s*", ref.text)
                if part and "{wait_" not in part]
        if kept:
            out.append(PromptRef(text=" ".join(kept), voice=ref.voice))
    return out
