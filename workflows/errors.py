"""Errors of the workflows package: one root, stable codes (part of the API)."""

from __future__ import annotations

from hub.errors import HubError


class WorkflowError(HubError):
    code, status, title = "workflow_error", 400, "Workflow error"


class InvalidTransition(WorkflowError):
    """The action is not allowed from the current state; nothing was changed."""

    code, status, title = "invalid_transition", 409, "Not allowed in the current state"


class RuleInvalid(WorkflowError):
    code, status, title = "invalid_rule", 422, "Invalid rule"
