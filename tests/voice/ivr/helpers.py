"""A tiny driver for tests: runs an IvrSession on a virtual clock, finishing prompts on demand."""

from __future__ import annotations

from typing import Any

from voice.ivr import IvrSession
from voice.ivr.model import (
    Action,
    Event,
    Hangup,
    Play,
    PromptFinished,
    SetVariable,
    StartTimer,
    StopPlay,
)


def text(*parts: str) -> list[dict[str, str]]:
    return [{"text": p} for p in parts]


def flow(nodes: dict[str, Any], start: str | None = None, **settings: Any) -> dict[str, Any]:
    return {"name": "test", "start": start or next(iter(nodes)), "settings": settings,
            "nodes": nodes}


class Driver:
    def __init__(self, data: Any, now: float = 1_000_000.0, **kwargs: Any) -> None:
        self.now = now
        self.session = IvrSession(data, now=now, **kwargs)
        self.log: list[Action] = []
        self.playing: Play | None = None
        self.last: list[Action] = []

    def _apply(self, actions: list[Action]) -> list[Action]:
        self.log.extend(actions)
        self.last = actions
        for a in actions:
            if isinstance(a, Play):
                self.playing = a
            elif isinstance(a, StopPlay) and self.playing and self.playing.play_id == a.play_id:
                self.playing = None
        return actions

    def start(self) -> list[Action]:
        return self._apply(self.session.start(self.now))

    def send(self, event: Event) -> list[Action]:
        return self._apply(self.session.handle(event, self.now))

    def finish_prompt(self) -> list[Action]:
        assert self.playing is not None, "nothing is playing"
        pid = self.playing.play_id
        self.playing = None
        return self.send(PromptFinished(pid))

    def advance(self, seconds: float) -> list[Action]:
        """Move the clock, firing timers as they fall due (like a driver using next_deadline)."""
        target = self.now + seconds
        out: list[Action] = []
        while True:
            deadline = self.session.next_deadline()
            if deadline is None or deadline > target:
                break
            self.now = deadline
            out += self._apply(self.session.tick(self.now))
        self.now = target
        self.last = out
        return out

    def texts(self, actions: list[Action] | None = None) -> list[str]:
        """The spoken texts / file ids of every Play in ``actions`` (default: the last batch)."""
        out = []
        for a in self.last if actions is None else actions:
            if isinstance(a, Play):
                out.append(" | ".join(p.value for p in a.prompts))
        return out

    def variables(self) -> dict[str, Any]:
        return {a.name: a.value for a in self.log if isinstance(a, SetVariable)}

    def hangup(self) -> Hangup | None:
        for a in self.log:
            if isinstance(a, Hangup):
                return a
        return None

    def timers(self) -> list[StartTimer]:
        return [a for a in self.log if isinstance(a, StartTimer)]


def of_type(actions: list[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]
