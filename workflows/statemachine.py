"""The work-order and ticket state machines (pure: data in, decision out).

Work order (WO-1)::

    new ──dispatch──► dispatched ──accept──► accepted ──depart──► departed ──arrive──► arrived
     ▲  ◄─redispatch─┘   │  ▲                                                           │
     │                reject │dispatch                                                  fix
     │                   ▼  │                                                           ▼
     │                 rejected                       closed ◄──close── completed ◄─complete─ fixed
     └──────────────────────────reopen─────────────────┴────────────────┘

``cancel`` ends new, dispatched, rejected or accepted orders. Each action names the permission
that may perform it (``dispatch``: the dispatch centre, ``department``: the assigned repair
department, ``tickets``: agents)."""

from __future__ import annotations

from dataclasses import dataclass

from workflows.errors import InvalidTransition

WO_STATES = ("new", "dispatched", "rejected", "accepted", "departed", "arrived", "fixed",
             "completed", "closed", "cancelled")
WO_OPEN = ("new", "dispatched", "rejected", "accepted", "departed", "arrived", "fixed")
WO_DONE = ("completed", "closed", "cancelled")


@dataclass(frozen=True)
class WoAction:
    name: str
    sources: tuple[str, ...]
    target: str
    permissions: tuple[str, ...]
    needs_reason: bool = False


WO_ACTIONS: dict[str, WoAction] = {a.name: a for a in (
    WoAction("dispatch", ("new", "rejected", "dispatched"), "dispatched", ("dispatch",)),
    WoAction("accept", ("dispatched",), "accepted", ("department",)),
    WoAction("reject", ("dispatched",), "rejected", ("department",), needs_reason=True),
    WoAction("depart", ("accepted",), "departed", ("department",)),
    WoAction("arrive", ("departed",), "arrived", ("department",)),
    WoAction("fix", ("arrived",), "fixed", ("department",)),
    WoAction("complete", ("fixed",), "completed", ("department", "dispatch")),
    WoAction("close", ("completed",), "closed", ("dispatch", "tickets")),
    WoAction("reopen", ("completed", "closed"), "new", ("dispatch", "tickets"), needs_reason=True),
    WoAction("cancel", ("new", "dispatched", "rejected", "accepted"), "cancelled", ("dispatch",),
             needs_reason=True),
)}

# The step names used by reports: the state a work order enters and the step that got it there.
WO_STEPS = ("dispatched", "accepted", "departed", "arrived", "fixed", "completed", "closed")


def wo_transition(state: str, action: str) -> WoAction:
    """The action if it is allowed from ``state``; otherwise ``InvalidTransition`` (409)."""
    act = WO_ACTIONS.get(action)
    if act is None:
        raise InvalidTransition(f"unknown action {action!r}", code="unknown_action",
                                details={"state": state, "action": action,
                                         "allowed": wo_allowed(state)})
    if state not in act.sources:
        raise InvalidTransition(
            f"cannot {action} a work order that is {state}; allowed now: "
            f"{', '.join(wo_allowed(state)) or 'nothing'}",
            details={"state": state, "action": action, "allowed": wo_allowed(state)})
    return act


def wo_allowed(state: str, permissions: frozenset[str] | None = None) -> list[str]:
    return [a.name for a in WO_ACTIONS.values() if state in a.sources
            and (permissions is None or any(p in permissions for p in a.permissions))]


TICKET_TYPES = ("complaint", "repair", "inquiry", "request", "feedback", "other")
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
TICKET_FLOW: dict[str, tuple[str, ...]] = {
    "new": ("open", "pending", "resolved", "closed"),
    "open": ("pending", "resolved", "closed"),
    "pending": ("open", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": ("open",),
}


def ticket_transition(status: str, to: str) -> None:
    if to not in TICKET_STATUSES:
        raise InvalidTransition(f"unknown ticket status {to!r}", code="unknown_status",
                                details={"from": status, "allowed": list(TICKET_FLOW[status])})
    if to not in TICKET_FLOW[status]:
        raise InvalidTransition(
            f"a ticket that is {status} cannot become {to}; allowed: {', '.join(TICKET_FLOW[status])}",
            details={"from": status, "to": to, "allowed": list(TICKET_FLOW[status])})
