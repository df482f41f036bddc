"""Automatic Call Distributor (ACD-1..6, AGENT-1, RPT-2): pure decision code.

The hub service layer feeds it events with the current time and persists/pushes the
returned decisions. See ``hub/acd/README.md`` for the rules chosen.
"""

from hub.acd.decisions import (
    Abandoned,
    AgentState,
    AgentStateChanged,
    Assigned,
    Decision,
    NoAnswer,
    Offer,
    OfferRevoked,
    Overflowed,
    QueueStateChanged,
    Released,
)
from hub.acd.engine import Acd
from hub.acd.erlang import (
    agents_required,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)
from hub.acd.errors import (
    AcdError,
    InvalidState,
    OfferNotFound,
    UnknownAgent,
    UnknownContact,
    UnknownQueue,
)
from hub.acd.model import (
    AgentConfig,
    Calendar,
    Channel,
    ContactRequest,
    OverflowStep,
    OverflowTarget,
    QueueConfig,
    Strategy,
)
from hub.acd.simulation import SimResult, simulate
from hub.acd.snapshots import AgentSnapshot, ContactLocation, QueueSnapshot, WaitingContact

__all__ = [
    "Abandoned",
    "Acd",
    "AcdError",
    "AgentConfig",
    "AgentSnapshot",
    "AgentState",
    "AgentStateChanged",
    "Assigned",
    "Calendar",
    "Channel",
    "ContactLocation",
    "ContactRequest",
    "Decision",
    "InvalidState",
    "NoAnswer",
    "Offer",
    "OfferNotFound",
    "OfferRevoked",
    "OverflowStep",
    "OverflowTarget",
    "Overflowed",
    "QueueConfig",
    "QueueSnapshot",
    "QueueStateChanged",
    "Released",
    "SimResult",
    "Strategy",
    "UnknownAgent",
    "UnknownContact",
    "UnknownQueue",
    "WaitingContact",
    "agents_required",
    "average_speed_of_answer",
    "erlang_b",
    "erlang_c",
    "service_level",
    "simulate",
]
