"""The workflows component's settings section (keys ``workflows_*``, ``HUB_WORKFLOWS_*``;
docs/CONFIGURATION.md)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Section
from hub.errors import ConfigError

#: the ways a customer can be told about their work order (workflows/customer.py)
NOTICE_WAYS = ("conversation", "sms", "email")


@dataclass(frozen=True)
class WorkflowsSettings(Section):
    prefix = "workflows_"

    # How the customer is told that their repair is done: the first of these that can reach them,
    # once. "conversation": the conversation the work order came from (chat, SMS, email; not a
    # call); "sms": a text to the contact's phone; "email": the contact's email thread.
    notice_order: tuple[str, ...] = NOTICE_WAYS

    def validate(self) -> None:
        unknown = [w for w in self.notice_order if w not in NOTICE_WAYS]
        if unknown or not self.notice_order or len(set(self.notice_order)) != len(self.notice_order):
            raise ConfigError(f"setting 'workflows_notice_order' lists each of {', '.join(NOTICE_WAYS)} "
                              f"at most once (got {', '.join(self.notice_order) or 'nothing'})")
