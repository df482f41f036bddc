"""A call's per-leg history for its record (CDR): an ordered list of segments — where the caller
was (the IVR, a queue, talking to an agent, on hold, waiting while the agent consults someone, in
a conference, leaving a voicemail, talking to an external number), with whom, in which queue,
from when to when, and why the segment began (a blind, consulted or desk transfer).

Pure bookkeeping: every method takes the time as input. The call service calls
:meth:`CallHistory.enter` at each step (voice/calls/acd.py, transfers.py, consult.py, control.py,
voicemail.py) and :meth:`CallHistory.close` when the call ends; the CDR's ``wait_s``, ``talk_s``
and ``hold_s`` are sums over the segments (:meth:`CallHistory.totals`), so time spent queued after
a transfer is waiting, not talking, and a voicemail is neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CallHistory", "Segment", "SegmentKind"]


class SegmentKind(StrEnum):
    IVR = "ivr"  # answered: welcome prompt, IVR menus (no agent)
    QUEUED = "queued"  # waiting in a queue (music on hold), agents may be ringing
    TALK = "talk"  # talking to an agent
    HOLD = "hold"  # held by the agent (or holding the agent) — music on hold
    CONSULT = "consult"  # on hold while the agent consults someone (``party``)
    CONFERENCE = "conference"  # three-way: the caller, the agent and ``party``
    EXTERNAL = "external"  # talking to an external number (``party``) through the trunk
    VOICEMAIL = "voicemail"  # leaving a voicemail message


#: segments that count as talk time, and those that count as hold time
TALKING = frozenset({SegmentKind.TALK, SegmentKind.CONFERENCE, SegmentKind.EXTERNAL})
HOLDING = frozenset({SegmentKind.HOLD, SegmentKind.CONSULT})


@dataclass
class Segment:
    kind: SegmentKind
    started_at: float
    ended_at: float | None = None
    agent_id: str | None = None
    queue_id: str | None = None
    party: str | None = None  # the consulted party / the external number
    reason: str | None = None  # why it began: blind_transfer, consult_transfer, desk_transfer, …

    @property
    def duration(self) -> float:
        return max(0.0, (self.ended_at if self.ended_at is not None else self.started_at) - self.started_at)

    def same_place(self, other: Segment) -> bool:
        return (self.kind, self.agent_id, self.queue_id, self.party) == (
            other.kind, other.agent_id, other.queue_id, other.party)

    def public(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "agent_id": self.agent_id, "queue_id": self.queue_id,
                "party": self.party, "reason": self.reason, "started_at": self.started_at,
                "ended_at": self.ended_at, "duration_s": round(self.duration, 3)}

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> Segment:
        return cls(SegmentKind(data["kind"]), float(data["started_at"]),
                   None if data.get("ended_at") is None else float(data["ended_at"]),
                   data.get("agent_id"), data.get("queue_id"), data.get("party"), data.get("reason"))


@dataclass
class CallHistory:
    segments: list[Segment] = field(default_factory=list)
    closed: bool = False

    @property
    def current(self) -> Segment | None:
        last = self.segments[-1] if self.segments else None
        return last if last is not None and last.ended_at is None else None

    def enter(self, kind: SegmentKind, at: float, *, agent_id: str | None = None, queue_id: str | None = None,
              party: str | None = None, reason: str | None = None) -> None:
        """The caller is now in ``kind`` (the open segment ends at ``at``). Entering the place the
        caller already is changes nothing; nothing is recorded after :meth:`close`."""
        if self.closed:
            return
        new = Segment(kind, at, None, agent_id, queue_id, party, reason)
        cur = self.current
        if cur is not None:
            if cur.same_place(new):
                return
            cur.ended_at = max(at, cur.started_at)
        self.segments.append(new)

    def close(self, at: float) -> None:
        cur = self.current
        if cur is not None:
            cur.ended_at = max(at, cur.started_at)
        self.closed = True

    def totals(self) -> dict[str, float | None]:
        """``wait_s`` (queued), ``talk_s`` (with an agent, a conference or an external number) and
        ``hold_s`` (on hold, or waiting while the agent consults), in seconds; None for a kind of
        time the call never had (never queued, never talked)."""
        def total(kinds: frozenset[SegmentKind]) -> float | None:
            spans = [s.duration for s in self.segments if s.kind in kinds]
            return round(sum(spans), 3) if spans else None
        return {"wait_s": total(frozenset({SegmentKind.QUEUED})), "talk_s": total(TALKING),
                "hold_s": total(HOLDING)}

    def first_connected(self) -> float | None:
        """When the caller first talked to someone (an agent or an external number)."""
        return next((s.started_at for s in self.segments if s.kind in TALKING), None)

    def agents(self) -> list[str]:
        """The agents the caller was with, in order (each once)."""
        seen: list[str] = []
        for s in self.segments:
            if s.agent_id and s.agent_id not in seen:
                seen.append(s.agent_id)
        return seen

    def public(self) -> list[dict[str, Any]]:
        return [s.public() for s in self.segments]
