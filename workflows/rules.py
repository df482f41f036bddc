"""Automation rules (FLOW-1), the pure part: conditions evaluated on a context (plain dicts), a
trace of why a rule matched or not, templates, and what each action would do.

A condition is ``{"all": [..]}``, ``{"any": [..]}``, a leaf ``{"field": "contact.vip", "op": "eq",
"value": true}`` or ``{"business_hours": "open" | "closed", "calendar_id": optional}``. The
context has ``event``, ``contact``, ``conversation``, ``message``, ``ticket``, ``workorder`` and
``time`` (``now``, ``hour``, ``weekday``, ``open`` — the calendar of the conversation's queue)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from workflows.errors import RuleInvalid
from workflows.staff_texts import StaffText, staff_text

OPS = ("eq", "neq", "in", "contains", "gt", "lt", "exists")
ROOTS = ("event", "contact", "conversation", "message", "ticket", "workorder", "time")
# The events a rule can be attached to.
RULE_EVENTS = (
    "conversation.created", "conversation.assigned", "conversation.closed", "conversation.csat",
    "message.created", "contact.created", "ticket.created", "ticket.updated",
    "ticket.status_changed", "sla.reminder", "sla.escalated", "workorder.created",
    "workorder.changed", "workorder.late",
)
ACTION_TYPES = ("assign", "set_priority", "create_ticket", "create_work_order", "notify",
                "send_template", "callback")
MAX_DEPTH = 8
_MISSING = object()


def get_path(ctx: dict[str, Any], path: str) -> Any:
    cur: Any = ctx
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _cmp(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        present = actual is not _MISSING and actual is not None and actual != "" and actual != []
        return present if expected in (None, True) else not present
    if actual is _MISSING:
        return op == "neq"
    if op == "eq":
        return bool(actual == expected)
    if op == "neq":
        return bool(actual != expected)
    if op == "in":
        return isinstance(expected, list) and actual in expected
    if op == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected.lower() in actual.lower()
        if isinstance(actual, list | tuple):
            return expected in actual
        return False
    if op in ("gt", "lt"):
        num = (int, float)
        if isinstance(actual, bool) or isinstance(expected, bool):
            return False
        if isinstance(actual, num) and isinstance(expected, num):
            return actual > expected if op == "gt" else actual < expected
        if isinstance(actual, str) and isinstance(expected, str):
            return actual > expected if op == "gt" else actual < expected
        return False
    raise RuleInvalid(f"unknown operator {op!r}")


OpenAt = Callable[[str | None], bool | None]


def evaluate(cond: dict[str, Any], ctx: dict[str, Any], is_open: OpenAt) -> tuple[bool, list[dict[str, Any]]]:
    """(matched, trace). ``is_open(calendar_id)`` answers the business-hours leaf (``None`` calendar
    = the context's queue calendar; ``None`` answer = no calendar, counted as open)."""
    trace: list[dict[str, Any]] = []
    ok = _eval(cond, ctx, is_open, trace)
    return ok, trace


def _eval(cond: dict[str, Any], ctx: dict[str, Any], is_open: OpenAt, trace: list[dict[str, Any]]) -> bool:
    if "all" in cond:
        results = [_eval(c, ctx, is_open, trace) for c in cond["all"]]
        return all(results)
    if "any" in cond:
        results = [_eval(c, ctx, is_open, trace) for c in cond["any"]]
        return any(results)
    if "business_hours" in cond:
        answer = is_open(cond.get("calendar_id"))
        open_now = True if answer is None else answer
        ok = open_now == (cond["business_hours"] == "open")
        trace.append({"condition": f"business hours {cond['business_hours']}", "actual":
                      "open" if open_now else "closed", "result": ok})
        return ok
    actual = get_path(ctx, cond["field"])
    ok = _cmp(cond["op"], actual, cond.get("value"))
    trace.append({"condition": f"{cond['field']} {cond['op']} {cond.get('value')!r}",
                  "actual": None if actual is _MISSING else actual, "result": ok})
    return ok


def sections(cond: dict[str, Any]) -> set[str]:
    """The parts of the context a condition tree reads (``contact``, ``message``, ``time`` …)."""
    if "all" in cond or "any" in cond:
        return set().union(*(sections(c) for c in cond.get("all") or cond.get("any") or []))
    if "business_hours" in cond:
        return {"time"}
    return {str(cond.get("field", "")).split(".", 1)[0]}


MAX_CONDITIONS = 200
_SCALAR = (str, int, float, bool, type(None))


def check_condition(cond: Any, where: str = "conditions", _count: list[int] | None = None) -> None:
    """The shape and meaning of a condition tree, with messages that say which part is wrong."""
    count = _count if _count is not None else [0]
    count[0] += 1
    if count[0] > MAX_CONDITIONS:
        raise RuleInvalid(f"{where}: more than {MAX_CONDITIONS} conditions")
    if where.count(".") > 10:
        raise RuleInvalid(f"{where}: conditions nest too deep")
    if not isinstance(cond, dict):
        raise RuleInvalid(f"{where} must be an object")
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        if set(cond) != {key} or not isinstance(cond[key], list):
            raise RuleInvalid(f"{where}: '{key}' must be the only key and hold a list")
        for i, c in enumerate(cond[key]):
            check_condition(c, f"{where}.{key}[{i}]", count)
        return
    if "business_hours" in cond:
        if cond["business_hours"] not in ("open", "closed"):
            raise RuleInvalid(f"{where}: business_hours must be 'open' or 'closed'")
        extra = set(cond) - {"business_hours", "calendar_id"}
        if extra or not isinstance(cond.get("calendar_id"), str | type(None)):
            raise RuleInvalid(f"{where}: a business-hours condition has only business_hours and calendar_id")
        return
    extra = set(cond) - {"field", "op", "value"}
    if extra:
        raise RuleInvalid(f"{where}: unknown keys {sorted(extra)} (a condition is field, op, value)")
    value = cond.get("value")
    if not (isinstance(value, _SCALAR) or (isinstance(value, list) and len(value) <= 100
                                           and all(isinstance(v, _SCALAR) for v in value))):
        raise RuleInvalid(f"{where}: value must be a string, number, boolean, null or a list of those")
    field = cond.get("field")
    if (not isinstance(field, str) or len(field) > 100 or field.split(".")[0] not in ROOTS
            or not re.fullmatch(r"[a-z_]+(\.[a-z0-9_]+)+", field)):
        raise RuleInvalid(f"{where}: field must look like 'contact.vip' and start with one of "
                          f"{', '.join(ROOTS)}")
    if cond.get("op") not in OPS:
        raise RuleInvalid(f"{where}: op must be one of {', '.join(OPS)}")
    if cond["op"] == "in" and not isinstance(cond.get("value"), list):
        raise RuleInvalid(f"{where}: the 'in' operator needs a list value")
    if cond["op"] in ("gt", "lt") and not isinstance(cond.get("value"), int | float | str):
        raise RuleInvalid(f"{where}: '{cond['op']}' needs a number (or a string) value")


_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z0-9_]+)+)\}")


def render(template: str, ctx: dict[str, Any]) -> str:
    """``{contact.name}`` style placeholders from the context; unknown ones become empty."""
    def sub(m: re.Match[str]) -> str:
        value = get_path(ctx, m.group(1))
        return "" if value is _MISSING or value is None else str(value)
    return _PLACEHOLDER.sub(sub, template)


def describe(action: dict[str, Any], ctx: dict[str, Any]) -> StaffText:
    """What the action would do (dry-run), as a ``dry.*`` staff text (workflows/staff_texts.py)."""
    kind = action["type"]
    target = "ticket" if ctx.get("ticket") else "conversation" if ctx.get("conversation") else "nothing"
    if kind == "assign":
        queue, user = action.get("queue_id"), action.get("user_id")
        code = "dry.assign_both" if queue and user else "dry.assign_queue" if queue else "dry.assign_user"
        return staff_text(code, target=target, queue=queue, user=user)
    if kind == "set_priority":
        return staff_text("dry.set_priority", target=target, priority=action["priority"])
    if kind == "create_ticket":
        return staff_text("dry.create_ticket", priority=action.get("priority", "normal"),
                          ticket_type=action["ticket_type"])
    if kind == "create_work_order":
        return staff_text("dry.create_work_order",
                          title=render(action.get("title") or "{conversation.subject}", ctx))
    if kind == "notify":
        return staff_text("dry.notify", targets=str(action["targets"]),
                          message=render(action["message"], ctx))
    if kind == "send_template":
        if action.get("email_template_id"):
            return staff_text("dry.send_email_template", template=action["email_template_id"])
        return staff_text("dry.send_template", text=render(action.get("template") or "", ctx))
    if kind == "callback":
        return staff_text("dry.callback", delay=float(action.get("delay_s", 0)))
    return staff_text("dry.unknown", type=kind)
