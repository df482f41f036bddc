"""Request bodies and queries of the workflows API (pydantic, strict like ``hub/api/schemas``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.api.responses import Attachment, Contact, CustomValue, LinkedContact
from hub.api.schemas import Epoch as At
from hub.api.schemas import Name, ResponseModel, Strict

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


# --- answers (response models) -----------------------------------------------------------------
# points in time in answers: At (seconds since the epoch; Epoch above is a request field's bounds)
WoState = Literal["new", "dispatched", "rejected", "accepted", "departed", "arrived", "fixed", "completed",
                  "closed", "cancelled"]


class StaffTextOut(ResponseModel):
    """A text for staff as a stable code and its parameters (workflows/staff_texts.py): the web UI
    shows it in the reader's language (catalogue key ``staff.<code>``)."""
    code: str
    params: dict[str, Any]


class TicketSla(ResponseModel):
    policy_id: str | None
    # the policy's name (one ticket read with its history)
    policy_name: str | None = None
    first_response_due: At | None
    # None while the resolution clock is paused or stopped
    resolution_due: At | None
    paused: bool
    first_response_breached: bool
    resolution_breached: bool
    # the server's clock when answered (countdowns)
    now: At


class Ticket(ResponseModel):
    id: str
    number: int
    type: str
    category: str | None
    priority: str
    status: str
    subject: str
    description: str
    contact_id: str | None
    queue_id: str | None
    assignee_id: str | None
    created_by: str | None
    created_at: At
    updated_at: At
    first_response_at: At | None
    resolved_at: At | None
    closed_at: At | None
    sla: TicketSla
    meta: dict[str, Any]


class TicketListItem(Ticket):
    contact_name: str | None


class Tickets(ResponseModel):
    items: list[TicketListItem]


class TicketHistory(ResponseModel):
    id: str
    at: At
    kind: str
    actor_id: str | None
    actor_name: str | None
    from_status: str | None
    to_status: str | None
    # a person's words (note, status note) or the English of the hub's own line (older rows too)
    body: str | None
    # the hub's own line as a code and parameters (None: a person's words, or an older row)
    text: StaffTextOut | None = None
    data: dict[str, Any]


class LinkedConversation(ResponseModel):
    id: str
    channel: str
    status: str
    subject: str | None
    linked_at: At


class TicketWorkOrder(ResponseModel):
    id: str
    number: int
    state: WoState
    title: str


class TicketDetail(Ticket):
    history: list[TicketHistory]
    conversations: list[LinkedConversation]
    work_orders: list[TicketWorkOrder]
    contact: Contact | None


class PrefillEntity(ResponseModel):
    kind: str | None
    value: str | None


class TicketPrefill(ResponseModel):
    conversation_id: str
    # the conversation's contact; verified false: the one a chat customer only claimed to be
    contact: LinkedContact | None
    queue_id: str | None
    subject: str
    # the conversation's last messages as text
    description: str
    # from assist, when it is on
    summary: str | None
    entities: list[PrefillEntity]
    suggested_type: str | None
    suggested_category: str | None


class WorkOrderPrefill(TicketPrefill):
    title: str
    # the contact's custom field "address"
    address: CustomValue


class WorkOrder(ResponseModel):
    id: str
    number: int
    state: WoState
    title: str
    description: str
    category: str | None
    priority: str
    address: str | None
    contact_id: str | None
    conversation_id: str | None
    ticket_id: str | None
    department_id: str | None
    planned_start: At | None
    planned_end: At | None
    created_by: str | None
    created_at: At
    updated_at: At
    completed_at: At | None
    closed_at: At | None
    # finished after its planned end / open past it now
    late: bool
    overdue: bool
    result: str | None
    now: At


class WorkOrderListItem(WorkOrder):
    department_name: str | None
    contact_name: str | None


class WorkOrders(ResponseModel):
    items: list[WorkOrderListItem]
    # work orders per state, and how many are overdue (in the filtered scope)
    counts: dict[str, int]
    overdue: int


class WorkOrderHistory(ResponseModel):
    id: str
    at: At
    # transition | note | reminder | late | notified …
    kind: str
    action: str | None
    from_state: str | None
    to_state: str | None
    actor_id: str | None
    actor_name: str | None
    # a person's words (note, reason, result) or the English of the hub's own line
    body: str | None
    # the hub's own line as a code and parameters (None: a person's words, or an older row)
    text: StaffTextOut | None = None
    attachment_ids: list[str]
    attachments: list[Attachment]
    data: dict[str, Any]


class Department(ResponseModel):
    id: str
    name: str
    description: str | None
    # user ids
    members: list[str]


class WorkOrderDetail(WorkOrder):
    history: list[WorkOrderHistory]
    contact: Contact | None
    department: Department | None
    # the transitions the asking user may make now
    allowed_actions: list[str]


class SlaPolicy(ResponseModel):
    id: str
    name: str
    ticket_type: str | None
    priority: str | None
    vip: bool | None
    # business seconds
    first_response_s: float
    resolution_s: float
    reminder_lead_s: float
    calendar_id: str | None
    escalate_to: list[dict[str, Any]]
    active: bool
    created_at: At


class Rule(ResponseModel):
    id: str
    name: str
    event: str
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    enabled: bool
    position: int
    created_at: At
    updated_at: At


class RuleVocabulary(ResponseModel):
    events: list[str]
    operators: list[str]
    actions: list[str]
    roots: list[str]


class DryRunAction(ResponseModel):
    type: str
    # in English (for developers); ``text``: the same as a code and parameters for the UI
    description: str
    text: StaffTextOut


class DryRunRule(ResponseModel):
    # None: the rule given in the request, not stored
    rule_id: str | None
    name: str
    enabled: bool
    matched: bool
    would_fire: bool
    # how each condition evaluated
    trace: list[Any]
    actions: list[DryRunAction]


class DryRun(ResponseModel):
    event: str
    # what the conditions see (event, contact, conversation, ticket, workorder, time …)
    context: dict[str, Any]
    rules: list[DryRunRule]
    # names of the rules that would fire
    firing: list[str]


class Callback(ResponseModel):
    id: str
    contact_id: str | None
    conversation_id: str | None
    phone: str | None
    queue_id: str | None
    due_at: At
    status: str
    note: str | None
    rule_id: str | None
    created_at: At
    task_conversation_id: str | None


class Notification(ResponseModel):
    id: str
    kind: str
    # the English fallback (older rows: the only text)
    title: str
    body: str
    # the code and parameters of title and body (None: a row written before the codes)
    text: StaffTextOut | None = None
    link: str | None
    created_at: At
    read_at: At | None


class Notifications(ResponseModel):
    items: list[Notification]
    unread: int


class UnreadCount(ResponseModel):
    unread: int


class ReportDepartment(ResponseModel):
    department_id: str | None
    department: str
    total: int
    by_state: dict[str, int]
    overdue: int
    late: int
    avg_dispatch_to_complete_s: float | None


class ReportWorkOrder(ResponseModel):
    id: str
    number: int
    title: str
    state: WoState
    department: str
    department_id: str | None
    priority: str
    late: bool
    overdue: bool
    created_at: At
    planned_start: At | None
    planned_end: At | None
    customer_notified_at: At | None
    # when each step was reached (statemachine.WO_STEPS)
    dispatched_at: At | None
    accepted_at: At | None
    departed_at: At | None
    arrived_at: At | None
    fixed_at: At | None
    completed_at: At | None
    closed_at: At | None
    # how long each step took (reports.STEP_PAIRS)
    dispatch_s: float | None
    accept_s: float | None
    depart_s: float | None
    arrive_s: float | None
    fix_s: float | None
    complete_s: float | None
    close_s: float | None


class WorkOrderReport(ResponseModel):
    generated_at: At
    total: int
    by_state: dict[str, int]
    overdue: int
    late: int
    avg_step_s: dict[str, float | None]
    step_counts: dict[str, int]
    departments: list[ReportDepartment]
    work_orders: list[ReportWorkOrder]
