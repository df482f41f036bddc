"""Workflows (TICKET-1, WO-1, FLOW-1): tickets, work orders, rules, durable timers.
Not built yet (issue 7)."""
