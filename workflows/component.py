"""The workflows component: tickets with SLA, repair work orders, automation rules,
notifications and reports, plugged into the hub like a channel (``bootstrap.build_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import socketio

import workflows.texts as texts
from hub.api.http import Api
from hub.events import Event, EventType
from workflows import api as http
from workflows import rules as R
from workflows.automation import CONSUMER, RuleEngine
from workflows.customer import CustomerNotifier
from workflows.departments import Departments
from workflows.events import WorkflowEventType
from workflows.notifications import Notifier
from workflows.policies import SlaPolicies
from workflows.privacy import WorkflowsPersonalData
from workflows.reports import Reports
from workflows.rules import MAX_DEPTH
from workflows.tickets import Tickets
from workflows.workorders import WorkOrders

if TYPE_CHECKING:
    from hub.app import Services


class WorkflowsComponent:
    name = "workflows"
    provides: tuple[str, ...] = ("workflows",)
    uses: tuple[str, ...] = ("email", "assist")
    # a rule's callback opens its voice task when the timer fires (SMS, used by voice, uses workflows)
    uses_later: tuple[str, ...] = ("voice",)

    def __init__(self, *, wo_reminder_lead_s: float = 1800.0, max_rule_depth: int = MAX_DEPTH) -> None:
        self.wo_reminder_lead_s = wo_reminder_lead_s
        self.max_rule_depth = max_rule_depth
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the workflows component is not started")
        return self._services

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        http.register(api, self)

    async def start(self, services: Services) -> None:
        self._services = services
        services.texts.register(texts.catalogue())  # the customer notices
        self.notifier = Notifier(services)
        self.departments = Departments(services)
        self.customer = CustomerNotifier(services)
        self.sla_policies = SlaPolicies(services)
        self.tickets = Tickets(services, self.notifier)
        self.workorders = WorkOrders(services, self.notifier, self.departments, self.customer,
                                     self.wo_reminder_lead_s)
        self.rules = RuleEngine(services, self.notifier, self.tickets, self.workorders,
                                self.max_rule_depth)
        self.reports = Reports(services)
        sched = services.scheduler
        sched.on("sla.reminder", self.tickets.on_reminder)
        sched.on("sla.breach", self.tickets.on_breach)
        sched.on("wo.reminder", self.workorders.on_reminder)
        sched.on("wo.late", self.workorders.on_late)
        sched.on("wo.notify_customer", self.workorders.on_notify_customer)
        sched.on("callback.due", self.rules.on_callback_due)
        services.bus.subscribe(self.notifier.on_event, types=(WorkflowEventType.NOTIFICATION_CREATED,),
                               name="workflows.notifications", local_only=True)  # pushes
        services.bus.consume("workflows.first_response", self._on_event, types=(EventType.MESSAGE_CREATED,))
        services.bus.consume(CONSUMER, self.rules.on_event, types=R.RULE_EVENTS)
        services.ports.workflows = self
        services.privacy.register(WorkflowsPersonalData())  # tickets, work orders about a contact

    async def _on_event(self, ev: Event) -> None:
        if ev.type is EventType.MESSAGE_CREATED and ev.conversation_id:
            msg: dict[str, Any] = ev.data.get("message") or {}
            if msg.get("sender") == "agent" and msg.get("kind") == "message" and ev.user_id:
                await self.tickets.first_response_by_message(ev.conversation_id, ev.at)

    async def stop(self) -> None:
        self._services = None

    async def seed_demo(self, services: Services) -> None:
        from workflows.demo import seed

        await seed(self)
