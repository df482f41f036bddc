"""Consistency checks of the engine's internal state (used by tests and debugging).

``check_invariants(acd)`` raises ``AssertionError`` describing the first broken rule.
Cost is O(contacts x agents): never call it on a hot path.
"""

from __future__ import annotations

from typing import NoReturn

from hub.acd.decisions import AgentState
from hub.acd.engine import Acd
from hub.acd.model import Channel, Strategy
from hub.acd.records import ASSIGNED, HELD, OFFERED, WAITING


def _fail(msg: str) -> NoReturn:
    raise AssertionError(msg)


def check_invariants(acd: Acd) -> None:  # noqa: C901 - a list of checks
    agents = acd._agents
    contacts = acd._contacts
    queues = acd._queues
    assigned_to: dict[str, str] = {}
    for a in agents.values():
        load = dict.fromkeys(Channel, 0)
        for cid in list(a.offers) + list(a.assigned):
            c = contacts.get(cid)
            if c is None:
                _fail(f"agent {a.id} references unknown contact {cid}")
            load[c.channel] += 1
        for cid in a.assigned:
            if cid in assigned_to:
                _fail(f"contact {cid} assigned to {assigned_to[cid]} and {a.id}")
            assigned_to[cid] = a.id
            if contacts[cid].state != ASSIGNED or contacts[cid].agent_id != a.id:
                _fail(f"agent {a.id} lists {cid} as assigned but the contact disagrees")
        for cid in a.offers:
            if a.id not in contacts[cid].offers:
                _fail(f"agent {a.id} lists offer {cid} the contact does not know")
        if load != a.load or sum(load.values()) != a.total:
            _fail(f"agent {a.id} load {a.load} != counted {load}")
        for ch, n in load.items():
            if n > a.cfg.capacity.get(ch, 0):
                _fail(f"agent {a.id} over capacity on {ch}: {n}")
        if a.avail != a.compute_avail():
            _fail(f"agent {a.id} cached availability is stale")
        if a.state is AgentState.LOGGED_OUT and (a.offers or a.held):
            _fail(f"logged-out agent {a.id} has offers or held contacts")
        if a.state is not AgentState.READY and a.offers and a.state is not AgentState.WRAP_UP:
            _fail(f"agent {a.id} in {a.state} has pending offers")
        for cid in a.held:
            c = contacts.get(cid)
            if c is None or c.state != HELD or c.hold_agent != a.id:
                _fail(f"agent {a.id} holds {cid} inconsistently")
        queue_ids = acd._agent_queues.get(a.id, {})
        for qid in queue_ids:
            q = queues.get(qid)
            if q is None:
                continue
            for ch in Channel:
                if (a.id in q.free[ch]) != (ch in a.avail):
                    _fail(f"free index of queue {qid}/{ch} is wrong for agent {a.id}")
    for c in contacts.values():
        q = queues.get(c.queue_id)
        if c.state == ASSIGNED:
            if c.agent_id not in agents or c.id not in agents[c.agent_id].assigned:
                _fail(f"contact {c.id} assigned to an agent that does not list it")
            if c.offers:
                _fail(f"assigned contact {c.id} still has offers")
            if q is not None and c.id in q.contacts:
                _fail(f"assigned contact {c.id} still counted in its queue")
            continue
        if q is None or c.id not in q.contacts:
            _fail(f"contact {c.id} ({c.state}) is not counted in queue {c.queue_id}")
        if c.state == OFFERED:
            if not c.offers:
                _fail(f"offered contact {c.id} has no offer")
            if len(c.offers) > 1 and q.cfg.strategy is not Strategy.RING_ALL:
                _fail(f"contact {c.id} offered to {len(c.offers)} agents at once")
            for aid in c.offers:
                if c.id not in agents[aid].offers:
                    _fail(f"contact {c.id} offered to {aid} who does not list it")
        elif c.state == WAITING:
            cls = q.classes.get(c.class_key) if c.class_key is not None else None
            if cls is None or not any(e[3] == c.token and e[4] is c for e in cls.heap):
                _fail(f"waiting contact {c.id} is not in its class heap")
            if c.offers:
                _fail(f"waiting contact {c.id} has offers")
            # routing completeness: nobody free and qualified is left idle
            for aid in q.free[c.channel]:
                a = agents[aid]
                if aid not in c.tried and a.qualifies(c.reqs):
                    _fail(f"contact {c.id} waits while {aid} is free and qualified")
        elif c.state == HELD:
            if c.hold_agent not in agents or c.id not in agents[c.hold_agent].held:
                _fail(f"held contact {c.id} not listed by its agent")
            if c.channel in agents[c.hold_agent].avail:
                _fail(f"contact {c.id} held for {c.hold_agent} who is free")
        else:
            _fail(f"contact {c.id} in transient state {c.state}")
    for q in queues.values():
        for cid in q.contacts:
            if cid not in contacts:
                _fail(f"queue {q.id} counts unknown contact {cid}")
        for key, cls in q.classes.items():
            live = sum(
                1 for e in cls.heap if e[4].token == e[3] and e[4].state == WAITING
            )
            if live != cls.live or live == 0:
                _fail(f"queue {q.id} class {key} live count {cls.live} != {live}")
            head = min((e for e in cls.heap if e[4].token == e[3]), key=lambda e: e[:3])
            if cls.indexed is None or cls.indexed > head[:3]:
                _fail(f"queue {q.id} class {key} indexed above its head")
            if not any(e[4] is cls and e[:3] == cls.indexed for e in q.index):
                _fail(f"queue {q.id} class {key} missing from the queue index")
