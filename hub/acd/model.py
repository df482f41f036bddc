"""Configuration and request types of the ACD (pure data, no behaviour beyond validation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    FAX = "fax"


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    ROUND_ROBIN = "round_robin"
    RING_ALL = "ring_all"
    LEAST_TALK_TIME = "least_talk_time"
    FEWEST_CONTACTS = "fewest_contacts"
    LINEAR = "linear"
    RANDOM = "random"
    SKILLS_BEST_MATCH = "skills_best_match"


DEFAULT_CAPACITY: Mapping[Channel, int] = {
    Channel.VOICE: 1,
    Channel.CHAT: 3,
    Channel.EMAIL: 5,
    Channel.SMS: 5,
    Channel.FAX: 5,
}


@dataclass(frozen=True, slots=True)
class OverflowStep:
    """After a contact waited ``after_s``, drop ``relax_skills`` and lower remaining levels."""

    after_s: float
    relax_skills: frozenset[str] = frozenset()
    level_delta: int = 0

    def __post_init__(self) -> None:
        if self.after_s < 0:
            raise ValueError(f"OverflowStep.after_s must be >= 0, got {self.after_s}")
        if self.level_delta < 0:
            raise ValueError(f"OverflowStep.level_delta must be >= 0, got {self.level_delta}")
        object.__setattr__(self, "relax_skills", frozenset(self.relax_skills))


OverflowKind = Literal["queue", "voicemail", "callback", "offline_form", "reject"]
_OVERFLOW_KINDS = ("queue", "voicemail", "callback", "offline_form", "reject")


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    kind: OverflowKind
    queue_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _OVERFLOW_KINDS:
            raise ValueError(f"unknown overflow target kind {self.kind!r}")
        if self.kind == "queue" and not self.queue_id:
            raise ValueError("overflow target of kind 'queue' needs a queue_id")


def _parse_hhmm(text: str) -> int:
    """'08:30' -> minutes since midnight; '24:00' allowed as an end of day."""
    try:
        hh, mm = text.split(":")
        h, m = int(hh), int(mm)
    except (ValueError, AttributeError) as err:
        raise ValueError(f"business hours time {text!r} is not HH:MM") from err
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(f"business hours time {text!r} is out of range")
    return h * 60 + m


def _parse_intervals(raw: list[tuple[str, str]], where: str) -> tuple[tuple[int, int], ...]:
    out = []
    for item in raw:
        try:
            start_s, end_s = item
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: interval {item!r} is not a (start, end) pair") from err
        start, end = _parse_hhmm(start_s), _parse_hhmm(end_s)
        if start >= end:
            raise ValueError(f"{where}: interval {start_s}-{end_s} ends before it starts")
        out.append((start, end))
    out.sort()
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Calendar:
    """Business hours of a queue, evaluated in the calendar's own time zone.

    Precedence for a local date: ``special`` hours (if the date is listed) override
    everything, then ``holidays`` (closed all day), then the ``weekly`` schedule
    (weekday 0 = Monday).  Intervals are half-open: open at start, closed at end;
    ``"24:00"`` is accepted as an end of day.
    """

    tz: str
    weekly: Mapping[int, list[tuple[str, str]]]
    holidays: frozenset[date] = frozenset()
    special: Mapping[date, list[tuple[str, str]]] | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekly: dict[int, tuple[tuple[int, int], ...]] = field(init=False, repr=False, compare=False)
    _special: dict[date, tuple[tuple[int, int], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {self.tz!r}") from err
        weekly: dict[int, tuple[tuple[int, int], ...]] = {}
        for day, intervals in self.weekly.items():
            if not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(f"weekday {day!r} must be an int 0 (Monday) .. 6 (Sunday)")
            weekly[day] = _parse_intervals(list(intervals), f"weekday {day}")
        special: dict[date, tuple[tuple[int, int], ...]] = {}
        for sday, intervals in (self.special or {}).items():
            if not isinstance(sday, date):
                raise ValueError(f"special hours key {sday!r} must be a date")
            special[sday] = _parse_intervals(list(intervals), f"special day {sday}")
        for hday in self.holidays:
            if not isinstance(hday, date):
                raise ValueError(f"holiday {hday!r} must be a date")
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_weekly", weekly)
        object.__setattr__(self, "_special", special)

    def _intervals_for(self, day: date) -> tuple[tuple[int, int], ...]:
        if day in self._special:
            return self._special[day]
        if day in self.holidays:
            return ()
        return self._weekly.get(day.weekday(), ())

    def is_open(self, t: float) -> bool:
        local = datetime.fromtimestamp(t, self._zone)
        minute = local.hour * 60 + local.minute + local.second / 60.0
        return any(start <= minute < end for start, end in self._intervals_for(local.date()))

    def _instant(self, day: date, minute: int) -> float:
        base = datetime(day.year, day.month, day.day, tzinfo=self._zone)
        if minute >= 24 * 60:
            nxt = day + timedelta(days=1)
            base = datetime(nxt.year, nxt.month, nxt.day, tzinfo=self._zone)
            return base.timestamp()
        local = datetime(
            day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._zone
        )
        return local.timestamp()

    def next_change(self, t: float, horizon_days: int = 400) -> float | None:
        """The next instant after ``t`` where ``is_open`` flips, or None within the horizon."""
        current = self.is_open(t)
        day = datetime.fromtimestamp(t, self._zone).date() - timedelta(days=1)
        for _ in range(horizon_days + 2):
            candidates = []
            for start, end in self._intervals_for(day):
                candidates.append(self._instant(day, start))
                candidates.append(self._instant(day, end))
            # midnight boundaries matter when a day's schedule differs from the previous one
            candidates.append(self._instant(day, 0))
            for c in sorted(candidates):
                if c > t and self.is_open(c) != current:
                    return c
            day += timedelta(days=1)
        return None


def _frozen_skills(raw: Mapping[str, int], what: str) -> dict[str, int]:
    out = {}
    for name, level in dict(raw).items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what}: skill name {name!r} must be a non-empty string")
        if not isinstance(level, int) or isinstance(level, bool):
            raise ValueError(f"{what}: level of skill {name!r} must be an int, got {level!r}")
        if level < 0:
            raise ValueError(f"{what}: level of skill {name!r} must be >= 0, got {level}")
        out[name] = level
    return out


@dataclass(frozen=True, slots=True)
class QueueConfig:
    id: str
    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    required_skills: Mapping[str, int] = field(default_factory=dict)
    overflow_steps: tuple[OverflowStep, ...] = ()
    offer_timeout_s: float = 20
    max_wait_s: float | None = None
    max_length: int | None = None
    overflow: OverflowTarget | None = None
    closed_target: OverflowTarget | None = None
    calendar: Calendar | None = None
    members: tuple[str, ...] = ()  # agent ids, in order: order matters for LINEAR
    wrapup_s: float = 0
    service_level_s: float = 20
    owner_wait_s: float = 30
    sticky_wait_s: float = 15
    vip_priority_boost: int = 10
    noanswer_sets_not_ready: bool = True

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("queue id must not be empty")
        object.__setattr__(self, "strategy", Strategy(self.strategy))
        object.__setattr__(
            self, "required_skills", _frozen_skills(self.required_skills, f"queue {self.id}")
        )
        steps = tuple(sorted(self.overflow_steps, key=lambda s: s.after_s))
        object.__setattr__(self, "overflow_steps", steps)
        members = tuple(self.members)
        if len(set(members)) != len(members):
            raise ValueError(f"queue {self.id}: members list an agent twice")
        object.__setattr__(self, "members", members)
        if self.offer_timeout_s <= 0:
            raise ValueError(f"queue {self.id}: offer_timeout_s must be > 0")
        if self.max_wait_s is not None and self.max_wait_s < 0:
            raise ValueError(f"queue {self.id}: max_wait_s must be >= 0")
        if self.max_length is not None and self.max_length < 0:
            raise ValueError(f"queue {self.id}: max_length must be >= 0")
        for name in ("wrapup_s", "owner_wait_s", "sticky_wait_s", "service_level_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"queue {self.id}: {name} must be >= 0")


@dataclass(frozen=True, slots=True)
class AgentConfig:
    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[Channel, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    # While the agent has a voice contact (ringing or connected) they get no new offers.
    voice_blocks_other_channels: bool = True

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("agent id must not be empty")
        object.__setattr__(self, "skills", _frozen_skills(self.skills, f"agent {self.id}"))
        cap = {}
        for ch, n in dict(self.capacity).items():
            if not isinstance(n, int) or n < 0:
                raise ValueError(f"agent {self.id}: capacity for {ch} must be an int >= 0")
            cap[Channel(ch)] = n
        object.__setattr__(self, "capacity", cap)


@dataclass(frozen=True, slots=True)
class ContactRequest:
    id: str
    channel: Channel
    queue_id: str
    priority: int = 0
    vip: bool = False
    owner_agent_id: str | None = None
    last_agent_id: str | None = None
    # extra per-contact needs, merged with the queue's (the higher level wins)
    required_skills: Mapping[str, int] = field(default_factory=dict)
    # original enqueue time, for a restart: restored contacts keep their place
    enqueued_at: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("contact id must not be empty")
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(
            self, "required_skills", _frozen_skills(self.required_skills, f"contact {self.id}")
        )
