"""Causality of rule firings: the event chain a piece of work belongs to.

While a rule's actions run, the chain is the hub's event ``CAUSE`` (``hub/events.py``): every
event those actions commit is stored with it, and the bus sets it again around whichever handler
receives such an event — after commit, in another task, or after a restart that replays the event
log. So the rule engine knows an event was *caused by* that rule: the chain's depth grows and each
rule fires at most once per chain. That is the loop protection (a rule cannot trigger itself
forever)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.events import CAUSE
from hub.security import new_id


@dataclass
class Chain:
    id: str = field(default_factory=new_id)
    depth: int = 0
    fired: set[str] = field(default_factory=set)
    root_event: str | None = None

    def child(self) -> Chain:
        return Chain(self.id, self.depth + 1, self.fired, self.root_event)

    def as_cause(self) -> dict[str, Any]:
        return {"id": self.id, "depth": self.depth, "fired": sorted(self.fired), "root_event": self.root_event}

    @classmethod
    def from_cause(cls, c: dict[str, Any]) -> Chain:
        return cls(str(c["id"]), int(c.get("depth", 0)), set(c.get("fired") or ()), c.get("root_event"))


def current() -> Chain | None:
    """The chain the event being handled (or the work being done) belongs to, if any."""
    cause = CAUSE.get()
    c = (cause or {}).get("chain")
    return Chain.from_cause(c) if isinstance(c, dict) and "id" in c else None


@contextmanager
def acting_in(chain: Chain) -> Iterator[None]:
    """Run a rule's actions: what they emit is caused by ``chain``."""
    token = CAUSE.set({**(CAUSE.get() or {}), "chain": chain.as_cause()})
    try:
        yield
    finally:
        CAUSE.reset(token)


def chain_data() -> dict[str, object]:
    """What an event emitted now should carry about its cause (empty outside a rule's action)."""
    ch = current()
    return {} if ch is None else {"chain_id": ch.id, "chain_depth": ch.depth}
