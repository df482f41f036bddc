"""Read-only views of the ACD for wallboards, reports and restart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.acd.decisions import AgentState
from hub.acd.model import Channel, ContactRequest

ContactState = Literal["waiting", "held", "offered", "assigned"]


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue_id: str
    waiting: int  # contacts in the queue not yet assigned (waiting, held for an agent, ringing)
    offered: int  # of which currently ringing/offered
    longest_wait_s: float
    by_channel: dict[Channel, int]
    is_open: bool
    agents_available: dict[Channel, int]  # members with a free slot now, per channel


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    state: AgentState
    reason: str | None
    since: float | None
    load: dict[Channel, int]  # offered + assigned, per channel
    offers: tuple[str, ...]
    assigned: tuple[str, ...]
    held: tuple[str, ...]  # contacts waiting for this agent (owner/sticky/direct transfer)
    busy: bool  # derived: at least one assigned contact, or work outside the ACD (occupied)
    talk_time_s: float  # handling seconds since the last reset_daily_stats()
    contacts_handled: int
    idle_since: float | None
    occupied: tuple[str, ...] = ()  # keys of work outside the ACD taking a slot (Acd.occupy)


@dataclass(frozen=True, slots=True)
class ContactLocation:
    contact_id: str
    state: ContactState
    queue_id: str
    agent_ids: tuple[str, ...]  # ringing agents (offered), the agent (assigned) or held-for agent
    enqueued_at: float
    priority: int  # effective: priority + VIP boost of the current queue


@dataclass(frozen=True, slots=True)
class WaitingContact:
    """One not-yet-assigned contact of a queue, in routing order (enough to restore it)."""

    contact_id: str
    request: ContactRequest
    state: ContactState
    enqueued_at: float
    priority: int
    held_for: str | None
