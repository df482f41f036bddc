"""SLA arithmetic (pure): which policy applies to a ticket and when its deadlines and reminders
fall, in business seconds of a calendar (``None`` = round the clock). The resolution clock can be
paused (ticket pending on the customer): ``consumed_s`` business seconds were used before the
current running segment that started at ``running_since``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hub.acd import Calendar
from hub.services import business_hours


def add_business(cal: Calendar | None, start: float, seconds: float) -> float:
    if cal is None:
        return start + seconds
    return business_hours.add_business_seconds(cal, start, seconds)


def business_between(cal: Calendar | None, a: float, b: float) -> float:
    if cal is None:
        return max(0.0, b - a)
    return business_hours.business_seconds_between(cal, a, b)


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    ticket_type: str | None
    priority: str | None
    vip: bool | None
    first_response_s: float
    resolution_s: float
    reminder_lead_s: float
    calendar_id: str | None
    escalate_to: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: Any) -> Policy:
        return cls(row.id, row.name, row.ticket_type, row.priority, row.vip,
                   float(row.first_response_s), float(row.resolution_s),
                   float(row.reminder_lead_s), row.calendar_id, list(row.escalate_to or []))

    def matches(self, ticket_type: str, priority: str, vip: bool) -> bool:
        return ((self.ticket_type is None or self.ticket_type == ticket_type)
                and (self.priority is None or self.priority == priority)
                and (self.vip is None or self.vip == vip))

    @property
    def specificity(self) -> int:
        return sum(x is not None for x in (self.ticket_type, self.priority, self.vip))


def match_policy(policies: Iterable[Policy], ticket_type: str, priority: str, vip: bool) -> Policy | None:
    """The most specific matching policy (type, priority and VIP each count); ties by name."""
    found = [p for p in policies if p.matches(ticket_type, priority, vip)]
    if not found:
        return None
    return sorted(found, key=lambda p: (-p.specificity, p.name))[0]


@dataclass(frozen=True)
class Deadline:
    which: str          # first_response | resolution
    due: float
    remind_at: float | None


def first_response(cal: Calendar | None, policy: Policy, created_at: float) -> Deadline:
    due = add_business(cal, created_at, policy.first_response_s)
    return Deadline("first_response", due, _remind(cal, created_at, policy.first_response_s,
                                                   policy.reminder_lead_s))


def resolution(cal: Calendar | None, policy: Policy, running_since: float,
               consumed_s: float) -> Deadline:
    left = max(0.0, policy.resolution_s - consumed_s)
    due = add_business(cal, running_since, left)
    return Deadline("resolution", due, _remind(cal, running_since, left, policy.reminder_lead_s))


def _remind(cal: Calendar | None, start: float, seconds: float, lead: float) -> float | None:
    if lead <= 0 or lead >= seconds:
        return None
    return add_business(cal, start, seconds - lead)
