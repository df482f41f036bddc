"""Typed decisions returned by the ACD engine (events the service layer persists and pushes)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from hub.acd.model import OverflowTarget


class AgentState(StrEnum):
    """The presence an agent chose (load is tracked separately, per channel).

    ``busy`` in reports is derived: an agent with at least one assigned contact.
    """

    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    WRAP_UP = "wrap_up"


RevokeReason = Literal["accepted_elsewhere", "timeout", "withdrawn", "abandoned", "rejected"]
OverflowReason = Literal["max_wait", "max_length", "closed"]


@dataclass(frozen=True, slots=True)
class Offer:
    contact_id: str
    agent_id: str
    queue_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class OfferRevoked:
    contact_id: str
    agent_id: str
    reason: RevokeReason


@dataclass(frozen=True, slots=True)
class Assigned:
    contact_id: str
    agent_id: str
    queue_id: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class NoAnswer:
    contact_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Overflowed:
    contact_id: str
    from_queue_id: str
    target: OverflowTarget
    reason: OverflowReason


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    state: AgentState
    reason: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Abandoned:
    contact_id: str
    queue_id: str
    waited_s: float


@dataclass(frozen=True, slots=True)
class Released:
    """The agent finished (or transferred away) an assigned contact; handled_s = talk time."""

    contact_id: str
    agent_id: str
    queue_id: str
    handled_s: float


@dataclass(frozen=True, slots=True)
class QueueStateChanged:
    """A queue's business-hours calendar opened or closed it."""

    queue_id: str
    open: bool
    at: float


Decision = (
    Offer
    | OfferRevoked
    | Assigned
    | NoAnswer
    | Overflowed
    | AgentStateChanged
    | Abandoned
    | Released
    | QueueStateChanged
)
