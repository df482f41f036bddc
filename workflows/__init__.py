"""Workflows (TICKET-1, WO-1, FLOW-1): tickets with SLA, repair work orders, automation rules,
staff notifications and the repair-loop report. The component is
``workflows.component.WorkflowsComponent``; its timers run on the hub's durable scheduler."""
