"""Texts the workflows write for staff (issue #17): a stable code and its parameters.

A notification, a history line the server writes itself (an SLA reminder, a late work order, the
customer notice's outcome), a rule's dry-run description: each is stored and returned as a
:class:`StaffText` — ``{"code": "notify.workorder_late", "params": {"number": 12, "state":
"accepted"}}`` — and the web UI shows it in the reader's language from its catalogues
(``web/src/i18n/locales/<locale>/staff.json``, key ``staff.<code>``; a notification's title and
body are ``staff.<code>.title`` / ``.body``). Parameters are data, never sentences: names, numbers,
times (epoch seconds), and codes the UI names in turn (a work-order ``state``, an SLA ``which``, a
callback's ``reason``, the customer notice's ``results`` per channel; see ``web/src/i18n/staff.ts``).

The English wording is also rendered here (:meth:`StaffText.english`) and stored in the row's
title/body columns: what an API client that does not know the codes shows, and what older rows
(written before the codes) keep showing. It is the developers' fallback, as a problem's ``detail``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: the English fallback of every code (the UI's own catalogues have zh-CN and en)
ENGLISH: dict[str, str] = {
    # notifications (title / body)
    "notify.workorder_new.title": "New work order #{number}: {title}",
    "notify.workorder_new.body": "{address}",
    "notify.workorder_assigned.title": "Work order #{number} assigned to your department",
    "notify.workorder_assigned.body": "{title}",
    "notify.workorder_rejected.title": "Work order #{number} rejected by the department",
    "notify.workorder_rejected.body": "{reason}",
    "notify.workorder_completed.title": "Work order #{number} completed",
    "notify.workorder_completed.body": "{title}",
    "notify.workorder_reminder_start.title": "Work order #{number}: planned start is now and the crew "
                                             "has not departed",
    "notify.workorder_reminder_start.body": "{title}",
    "notify.workorder_reminder_due_soon.title": "Work order #{number}: the planned window ends soon and "
                                                "the work is not completed",
    "notify.workorder_reminder_due_soon.body": "{title}",
    "notify.workorder_late.title": "Work order #{number} is late ({state})",
    "notify.workorder_late.body": "{title}",
    "notify.sla_reminder.title": "Ticket #{number}: {which} due soon",
    "notify.sla_reminder.body": "{subject}",
    "notify.sla_escalation.title": "Ticket #{number}: {which} overdue",
    "notify.sla_escalation.body": "{subject}",
    "notify.rule.title": "{message}",
    "notify.rule.body": "rule: {rule}",
    "notify.callback_queued.title": "Callback due: {phone} (in the queue)",
    "notify.callback_queued.body": "{note}",
    "notify.callback_manual.title": "Callback due: {phone}",
    "notify.callback_manual.body": "{note}\nPlace it by hand: {reason}.",
    # history lines
    "history.sla_reminder": "{which} due at {due}",
    "history.sla_escalated": "{which} deadline passed; escalated",
    "history.wo_reminder_start": "planned start is now and the crew has not departed",
    "history.wo_reminder_due_soon": "the planned window ends soon and the work is not completed",
    "history.wo_late": "the planned end has passed",
    "history.customer_notified": "{results}",
    "history.customer_not_reachable": "no channel could reach the customer",
    # a rule's callback row: why it was not opened as a voice task
    "callback.not_opened": "(Not opened as a voice callback task: {reason}.)",
    # a rule's dry run: what each action would do
    "dry.assign_queue": "route {target} to queue {queue}",
    "dry.assign_user": "assign {target} to user {user}",
    "dry.assign_both": "route {target} to queue {queue} and assign it to user {user}",
    "dry.set_priority": "set the priority of {target} to {priority}",
    "dry.create_ticket": "create a {priority} {ticket_type} ticket",
    "dry.create_work_order": "create a work order '{title}'",
    "dry.notify": "notify {targets}: {message}",
    "dry.send_email_template": "send the customer the email template {template}",
    "dry.send_template": "send the customer: {text}",
    "dry.callback": "schedule a callback in {delay} s (when due: a voice callback task in the queue "
                    "when voice is on; agents are notified)",
    "dry.unknown": "{type}",
}

#: parameters that are times (epoch seconds; the UI shows them as a date and time)
TIMES = frozenset({"due", "at"})

#: the English of the codes a parameter may hold (the UI names them from its catalogues)
ENGLISH_PARAMS: dict[str, dict[str, str]] = {
    "which": {"first_response": "first response", "resolution": "resolution"},
    "target": {"ticket": "the ticket", "conversation": "the conversation", "nothing": "nothing"},
    "phone": {"": "no phone number"},
    "reason": {"voice_off": "the voice channel is not running",
               "no_phone": "the contact has no phone number",
               "open_failed": "opening it failed ({detail})"},
}


def _english_param(name: str, value: Any, params: Mapping[str, Any]) -> Any:
    if name == "results" and isinstance(value, list):  # the customer notice's outcome per channel
        return "; ".join(f"{r['channel']}: {r['status']}" + (f" ({r['detail']})" if r.get("detail") else "")
                         for r in value)
    if isinstance(value, float):
        return f"{value:.0f}" if name in TIMES else f"{value:g}"
    if isinstance(value, str) and value in ENGLISH_PARAMS.get(name, {}):
        return ENGLISH_PARAMS[name][value].format_map(_Blank(params))
    return value


class _Blank(dict[str, Any]):
    """Format values where a name not given is empty."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class StaffText:
    """A text for staff: its code (a key of :data:`ENGLISH` without ``.title``/``.body`` for a
    notification) and parameters (JSON values)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def english(self, part: str | None = None) -> str:
        """The English fallback (``part``: ``title`` or ``body`` of a notification)."""
        key = f"{self.code}.{part}" if part else self.code
        template = ENGLISH[key]
        values = _Blank({k: _english_param(k, v, self.params) for k, v in self.params.items()})
        return template.format_map(values).strip()

    def public(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


def staff_text(code: str, **params: Any) -> StaffText:
    """A :class:`StaffText`; an unknown code is a programming error (``KeyError`` at once)."""
    if code not in ENGLISH and f"{code}.title" not in ENGLISH:
        raise KeyError(f"no staff text {code!r}")
    return StaffText(code, params)


def history_text(body: str | None, data: Mapping[str, Any] | None,
                 text: StaffText | None) -> dict[str, Any]:
    """The ``body`` and ``data`` columns of a history line: a person's ``body`` as written; the
    hub's own ``text`` as ``data.text`` (code and parameters) with its English as the body."""
    out = dict(data or {})
    if text is not None:
        out["text"] = text.public()
        body = body or text.english()
    return {"body": body, "data": out}
