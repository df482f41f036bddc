"""Causality of rule firings: the event chain a piece of work belongs to.

When a rule's action changes something, the events that change emits are dispatched inline (after
its commit, in the same task), so the contextvar set around the action tells the rule engine that
those events are *caused by* that rule: the chain's depth grows and each rule fires at most once
per chain. That is the loop protection (a rule cannot trigger itself forever)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from hub.security import new_id


@dataclass
class Chain:
    id: str = field(default_factory=new_id)
    depth: int = 0
    fired: set[str] = field(default_factory=set)
    root_event: str | None = None

    def child(self) -> Chain:
        return Chain(self.id, self.depth + 1, self.fired, self.root_event)


CURRENT: contextvars.ContextVar[Chain | None] = contextvars.ContextVar("workflow_chain", default=None)


def chain_data() -> dict[str, object]:
    """What an event emitted now should carry about its cause (empty outside a rule's action)."""
    ch = CURRENT.get()
    return {} if ch is None else {"chain_id": ch.id, "chain_depth": ch.depth}
