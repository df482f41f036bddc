"""Request bodies and queries of the workflows API (pydantic, strict like ``hub/api/schemas``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.api.schemas import Name, Strict

Text = Annotated[str, StringConstraints(max_length=10_000)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
TicketType = Literal["complaint", "repair", "inquiry", "request", "feedback", "other"]
Priority = Literal["low", "normal", "high", "urgent"]
Epoch = Annotated[float, Field(ge=0, le=32_503_680_000)]
Seconds = Annotated[float, Field(ge=0, le=366 * 86400)]


class TicketIn(Strict):
    type: TicketType
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    priority: Priority = "normal"
    subject: Short
    description: Text = ""
    contact_id: Id | None = None
    conversation_id: Id | None = None
    queue_id: Id | None = None
    assignee_id: Id | None = None


class TicketPatch(Strict):
    type: TicketType | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    priority: Priority | None = None
    subject: Short | None = None
    description: Text | None = None
    queue_id: Id | None = None
    assignee_id: Id | None = None


class TicketStatusIn(Strict):
    status: Literal["new", "open", "pending", "resolved", "closed"]
    note: Text | None = None


class NoteIn(Strict):
    body: Body


class LinkIn(Strict):
    conversation_id: Id


class TicketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    type: str | None = None
    mine: bool = False
    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class PrefillQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: Id


class WorkOrderIn(Strict):
    title: Short
    description: Text = ""
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    priority: Priority = "normal"
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    contact_id: Id | None = None
    conversation_id: Id | None = None
    ticket_id: Id | None = None


class TransitionIn(Strict):
    action: Literal["dispatch", "accept", "reject", "depart", "arrive", "fix", "complete", "close",
                    "reopen", "cancel"]
    note: Text | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    department_id: Id | None = None
    planned_start: Epoch | None = None
    planned_end: Epoch | None = None
    result: Text | None = None


class WorkOrderQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str | None = None
    department_id: str | None = None
    overdue: bool | None = None
    q: Annotated[str, StringConstraints(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 200


class DepartmentIn(Strict):
    name: Name
    description: Text | None = None
    members: Annotated[list[Id], Field(max_length=200)] = []


class DepartmentPatch(Strict):
    name: Name | None = None
    description: Text | None = None
    members: Annotated[list[Id], Field(max_length=200)] | None = None


class Target(Strict):
    kind: Literal["supervisors", "role", "user", "department", "queue", "assignee"]
    role: Literal["agent", "supervisor", "dispatcher", "department", "knowledge_manager", "admin"] | None = None
    user_id: Id | None = None
    department_id: Id | None = None
    queue_id: Id | None = None


class SlaPolicyIn(Strict):
    name: Name
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    vip: bool | None = None
    first_response_s: Annotated[float, Field(gt=0, le=366 * 86400)]
    resolution_s: Annotated[float, Field(gt=0, le=366 * 86400)]
    reminder_lead_s: Seconds = 0
    calendar_id: Id | None = None
    escalate_to: Annotated[list[Target], Field(max_length=20)] = []
    active: bool = True


class SlaPolicyPatch(Strict):
    name: Name | None = None
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    vip: bool | None = None
    first_response_s: Annotated[float, Field(gt=0, le=366 * 86400)] | None = None
    resolution_s: Annotated[float, Field(gt=0, le=366 * 86400)] | None = None
    reminder_lead_s: Seconds | None = None
    calendar_id: Id | None = None
    escalate_to: Annotated[list[Target], Field(max_length=20)] | None = None
    active: bool | None = None


# --- rules ---------------------------------------------------------------------------------------
class AssignAction(Strict):
    type: Literal["assign"]
    queue_id: Id | None = None
    user_id: Id | None = None


class SetPriorityAction(Strict):
    type: Literal["set_priority"]
    priority: Priority


class CreateTicketAction(Strict):
    type: Literal["create_ticket"]
    ticket_type: TicketType
    priority: Priority = "normal"
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    subject: Annotated[str, StringConstraints(max_length=300)] | None = None


class CreateWorkOrderAction(Strict):
    type: Literal["create_work_order"]
    title: Annotated[str, StringConstraints(max_length=300)] | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    priority: Priority = "normal"


class NotifyAction(Strict):
    type: Literal["notify"]
    targets: Annotated[list[Target], Field(min_length=1, max_length=20)]
    message: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class SendTemplateAction(Strict):
    type: Literal["send_template"]
    # inline text, or a stored email template (channels/email/templates.py): exactly one
    template: Annotated[str, StringConstraints(min_length=1, max_length=5000)] | None = None
    email_template_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class CallbackAction(Strict):
    type: Literal["callback"]
    delay_s: Seconds = 0
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


Action = Annotated[AssignAction | SetPriorityAction | CreateTicketAction | CreateWorkOrderAction
                   | NotifyAction | SendTemplateAction | CallbackAction, Field(discriminator="type")]


class RuleIn(Strict):
    name: Name
    event: str
    # checked by workflows.rules.check_condition, whose messages name the faulty condition
    conditions: dict[str, Any] = {"all": []}
    actions: Annotated[list[Action], Field(min_length=1, max_length=20)]
    enabled: bool = True
    position: Annotated[int, Field(ge=0, le=10_000)] = 0


class RulePatch(Strict):
    name: Name | None = None
    event: str | None = None
    conditions: dict[str, Any] | None = None
    actions: Annotated[list[Action], Field(min_length=1, max_length=20)] | None = None
    enabled: bool | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None


class DryRunEvent(Strict):
    type: str
    conversation_id: Id | None = None
    ticket_id: Id | None = None
    work_order_id: Id | None = None
    contact_id: Id | None = None
    data: dict[str, Any] = {}


class DryRunIn(Strict):
    event: DryRunEvent
    rule: RuleIn | None = None
    at: Epoch | None = None


class NotificationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unread: bool = False
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class ReadIn(Strict):
    ids: Annotated[list[Id], Field(max_length=500)] = []
    all: bool = False


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["json", "csv", "xlsx"] = "json"
    department_id: str | None = None
    since: float | None = None
    until: float | None = None
