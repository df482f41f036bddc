"""Structural validation of a flow: every problem listed, each with the node and field.

Checks: the start node exists; every node reference points at a node; every node is reachable
from ``start`` (or an agent entry); no cycle runs only through nodes that never wait for the
caller (it would spin forever); prompts are present where the caller must hear something and
uploaded files exist; calendars named by conditions exist; time zones are known.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from voice.ivr.flow import (
    INPUT_TYPES,
    CalendarTest,
    CallbackNode,
    CollectNode,
    ConditionNode,
    FlowDefinition,
    GotoNode,
    HolidayTest,
    LookupNode,
    MenuNode,
    PlayNode,
    PromptRef,
    QueueNode,
    SetNode,
    SpeechMenuNode,
    TimeTest,
    TransferNode,
    VoicemailNode,
)


@dataclass(frozen=True)
class Problem:
    """One problem: where (node, field), what in English (``message``, for developers and older
    clients), and the same as a stable ``code`` with its ``params`` (names, ids, times: never
    sentences), which the web UI shows in the reader's language (catalogue ``ivr.problem.<code>``)."""

    node: str | None
    field: str
    message: str
    code: str = "invalid"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"node {self.node!r}" if self.node else "flow"
        return f"{where} {self.field}: {self.message}"


def references(node: Any) -> Iterator[tuple[str, str | None]]:
    """(field, target node id) for every outgoing edge of ``node``."""
    if isinstance(node, PlayNode | CollectNode | LookupNode | VoicemailNode | CallbackNode
                  | SetNode):
        yield "next", node.next
    if isinstance(node, MenuNode):
        for key, target in node.options.items():
            yield f"options.{key}", target
        yield "default", node.default
    if isinstance(node, CollectNode | CallbackNode):
        yield "on_failure", node.on_failure
    if isinstance(node, LookupNode):
        yield "on_error", node.on_error
    if isinstance(node, ConditionNode):
        for i, rule in enumerate(node.rules):
            yield f"rules.{i}.next", rule.next
        yield "default", node.default
    if isinstance(node, QueueNode):
        for key, target in node.keys.items():
            yield f"keys.{key}", target
        yield "overflow", node.overflow
    if isinstance(node, SpeechMenuNode):
        for i, branch in enumerate(node.branches):
            yield f"branches.{i}.next", branch.next
        for key, target in node.options.items():
            yield f"options.{key}", target
        yield "after_answer", node.after_answer
        yield "default", node.default
    if isinstance(node, GotoNode):
        yield "target", node.target


def _prompt_lists(node: Any) -> Iterator[tuple[str, list[PromptRef]]]:
    for name in ("prompts", "prompt", "invalid_prompt", "timeout_prompt", "intro", "music",
                 "greeting", "thanks", "confirm", "no_match_prompt"):
        value = getattr(node, name, None)
        if isinstance(value, list):
            yield name, value
    if isinstance(node, QueueNode):
        if node.announce is not None and node.announce.prompt is not None:
            yield "announce.prompt", node.announce.prompt
        if node.offer is not None:
            yield "offer.prompt", node.offer.prompt


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_flow(flow: FlowDefinition, *, prompt_files: Iterable[str] | None = None,
               calendars: Iterable[str] | None = None) -> list[Problem]:
    """Every structural problem of ``flow`` (empty when it can be published).

    ``prompt_files``: the ids of the files uploaded to the flow (None = do not check);
    ``calendars``: the names of known calendars (None = do not check)."""
    problems: list[Problem] = []
    nodes = flow.nodes
    files = set(prompt_files) if prompt_files is not None else None
    cals = set(calendars) if calendars is not None else None

    def add(at: str | None, where: str, message: str, code: str, /, **params: Any) -> None:
        problems.append(Problem(at, where, message, code, params))

    if flow.start not in nodes:
        add(None, "start", f"start node {flow.start!r} does not exist", "start_missing", node=flow.start)
    if not _zone_ok(flow.settings.timezone):
        add(None, "settings.timezone", f"unknown time zone {flow.settings.timezone!r}", "unknown_timezone",
            zone=flow.settings.timezone)
    for entry in flow.settings.agent_entries:
        if entry not in nodes:
            add(None, "settings.agent_entries", f"agent entry {entry!r} does not exist", "agent_entry_missing",
                node=entry)

    edges: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        targets = []
        for ref_field, target in references(node):
            if target is None:
                continue
            if target not in nodes:
                add(node_id, ref_field, f"refers to unknown node {target!r}", "unknown_node", node=target)
            else:
                targets.append(target)
        edges[node_id] = targets

        for prompt_field, refs in _prompt_lists(node):
            for i, ref in enumerate(refs):
                if ref.file is not None and files is not None and ref.file not in files:
                    add(node_id, f"{prompt_field}.{i}", f"prompt file {ref.file!r} is not uploaded",
                        "prompt_file_missing", file=ref.file)
        # the caller must hear something where they are asked to act
        if isinstance(node, PlayNode) and not node.prompts:
            add(node_id, "prompts", "a play node needs at least one prompt", "play_needs_prompt")
        if isinstance(node, MenuNode | CollectNode | SpeechMenuNode) and not node.prompt:
            add(node_id, "prompt", f"a {node.type} node needs a prompt", "needs_prompt", type=node.type)
        if isinstance(node, MenuNode) and not node.options:
            add(node_id, "options", "a menu needs at least one option", "menu_needs_option")
        if isinstance(node, QueueNode):
            if node.offer is not None and not node.offer.prompt:
                add(node_id, "offer.prompt", "a periodic offer needs a prompt", "offer_needs_prompt")
            if node.offer is not None and not node.keys:
                add(node_id, "keys", "the offer has no keys the caller could press", "offer_needs_keys")
            if node.announce is not None and node.announce.prompt == []:
                add(node_id, "announce.prompt", "announcements need a prompt", "announce_needs_prompt")
        if isinstance(node, SpeechMenuNode):
            if not node.hook and not any(b.keywords for b in node.branches):
                add(node_id, "branches", "no keywords and no matching hook: nothing can match",
                    "nothing_can_match")
            keys = [b.key for b in node.branches]
            if len(set(keys)) != len(keys):
                add(node_id, "branches", "two branches have the same key", "duplicate_branch_key")
        if isinstance(node, ConditionNode):
            for i, rule in enumerate(node.rules):
                for j, test in enumerate(rule.when):
                    where = f"rules.{i}.when.{j}"
                    if isinstance(test, TimeTest | HolidayTest) and test.tz and not _zone_ok(test.tz):
                        add(node_id, where, f"unknown time zone {test.tz!r}", "unknown_timezone", zone=test.tz)
                    if isinstance(test, TimeTest) and test.start >= test.end and test.end != "24:00":
                        add(node_id, where, f"time window {test.start}-{test.end} is empty", "empty_time_window",
                            start=test.start, end=test.end)
                    name = getattr(test, "calendar", None)
                    if (isinstance(test, CalendarTest | HolidayTest) and name is not None
                            and cals is not None and name not in cals):
                        add(node_id, where, f"unknown calendar {name!r}", "unknown_calendar", calendar=name)
                    if isinstance(test, HolidayTest) and test.calendar is None and not test.dates:
                        add(node_id, where, "a holiday test needs a calendar or dates", "holiday_needs_dates")
        if isinstance(node, TransferNode) and node.kind == "external":
            target = node.target.lstrip("+")
            if not (target.isdigit() or target.startswith("{") or "@" in target):
                add(node_id, "target", "an external transfer needs a phone number or SIP URI",
                    "external_target")

    # reachability from start (and the nodes an agent may send a caller to)
    roots = [r for r in [flow.start, *flow.settings.agent_entries] if r in nodes]
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        stack.extend(edges.get(cur, []))
    for node_id in nodes:
        if node_id not in seen:
            add(node_id, "", "is unreachable from the start node", "unreachable")

    # cycles through nodes that never wait for the caller
    passive = {n for n, node in nodes.items() if node.type not in INPUT_TYPES}
    for cycle in _cycles_within(passive, edges):
        add(cycle[0], "", "loops without waiting for the caller through nodes "
            + ", ".join(repr(n) for n in cycle), "passive_loop", nodes=cycle)
    return problems


def _cycles_within(allowed: set[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected component of the ``allowed`` subgraph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in allowed:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, []):
                out.append(sorted(comp))

    for v in sorted(allowed):
        if v not in index:
            strong(v)
    return out


def validation_problems(data: Any, **kwargs: Any) -> tuple[FlowDefinition | None, list[Problem]]:
    """Parse and check a raw flow dict: (flow or None, problems) with shape errors included."""
    try:
        flow = FlowDefinition.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = [str(p) for p in e["loc"]]
            node = None
            if len(loc) >= 2 and loc[0] == "nodes":
                node = loc[1]
                # drop pydantic's discriminator tag (nodes.<id>.<type>.<field>)
                rest = loc[3:] if len(loc) > 2 and loc[2] in _NODE_TYPES else loc[2:]
            else:
                rest = loc
            # pydantic's error type (missing, extra_forbidden, …) is the code's second half
            problems.append(Problem(node, ".".join(rest), e["msg"], f"schema.{e['type']}",
                                    {"detail": e["msg"]}))
        return None, problems
    return flow, check_flow(flow, **kwargs)


_NODE_TYPES = {"play", "menu", "collect", "condition", "lookup", "queue", "voicemail", "callback",
               "transfer", "speech_menu", "hangup", "goto", "set"}
