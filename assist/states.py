"""What assist needs to know about a conversation's routing state, kept in memory from the
events it receives anyway (``conversation.created/queued/offered/offer_revoked/assigned/
transferred/overflowed/abandoned/closed``, ``bot.handed_over``), so deciding whether a customer
message is worth a search costs no database read. A conversation never seen (e.g. one opened
before a restart, or evicted from the bounded cache) is read once by the caller and stored with
:meth:`ConversationStates.remember`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from assist.events import AssistEventType
from hub.events import Event, EventType

#: statuses whose conversation an agent is handling or previewing: suggestions are worth it
ACTIVE = frozenset({"assigned", "offered"})
#: the events ``ConversationStates.apply`` learns from
STATE_EVENTS = frozenset({
    EventType.CONVERSATION_CREATED, EventType.CONVERSATION_QUEUED, EventType.CONVERSATION_TRANSFERRED,
    AssistEventType.BOT_HANDED_OVER, EventType.CONVERSATION_OFFERED, EventType.CONVERSATION_OFFER_REVOKED,
    EventType.CONVERSATION_ASSIGNED, EventType.CONVERSATION_OVERFLOWED, EventType.CONVERSATION_ABANDONED,
    EventType.CONVERSATION_CLOSED,
})


@dataclass(slots=True)
class ConvState:
    status: str
    assignee_id: str | None = None
    offered_to: set[str] = field(default_factory=set)
    at: float = 0.0  # time of the event (or read) it was last set from

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class ConversationStates:
    """A bounded LRU map conversation id → :class:`ConvState`."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[str, ConvState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, cid: str) -> ConvState | None:
        st = self._rows.get(cid)
        if st is not None:
            self._rows.move_to_end(cid)
        return st

    def _put(self, cid: str, st: ConvState) -> None:
        self._rows[cid] = st
        self._rows.move_to_end(cid)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)

    def remember(self, row: Any, offered_to: Any = (), at: float = 0.0) -> ConvState:
        """Store what a database read said, unless an event got here first meanwhile."""
        st = self._rows.get(row.id)
        if st is not None:
            return st
        st = ConvState(str(row.status), row.assignee_id, set(offered_to or ()), at)
        self._put(row.id, st)
        return st

    def apply(self, ev: Event) -> ConvState | None:
        """Update from one event; returns the new state (None: the event says nothing about
        the conversation's status). An event older than what is known is ignored (subscribers
        may get events of different transactions out of order)."""
        cid = ev.conversation_id
        if not cid:
            return None
        t = ev.type
        old = self._rows.get(cid)
        if old is not None and ev.at < old.at:
            return old
        if t is EventType.CONVERSATION_CREATED:
            new = ConvState(str(ev.data.get("status") or "queued"))
        elif t in (EventType.CONVERSATION_QUEUED, EventType.CONVERSATION_TRANSFERRED,
                   AssistEventType.BOT_HANDED_OVER):
            new = ConvState("queued")
        elif t is EventType.CONVERSATION_OFFERED:
            offered = set(old.offered_to) if old is not None and old.status == "offered" else set()
            if ev.user_id:
                offered.add(ev.user_id)
            new = ConvState("offered", None, offered)
        elif t is EventType.CONVERSATION_OFFER_REVOKED:
            if old is None:
                return None
            offered = old.offered_to - {ev.user_id}
            status = "queued" if old.status == "offered" and not offered else old.status
            new = ConvState(status, old.assignee_id, offered)
        elif t is EventType.CONVERSATION_ASSIGNED:
            new = ConvState("assigned", ev.user_id)
        elif t is EventType.CONVERSATION_OVERFLOWED:
            target = ev.data.get("target")
            new = ConvState("queued" if target == "queue" else
                            "closed" if target == "reject" else "pending")
        elif t is EventType.CONVERSATION_ABANDONED:
            new = ConvState("abandoned")
        elif t is EventType.CONVERSATION_CLOSED:
            new = ConvState(str(ev.data.get("status") or "closed"))
        else:
            return None
        new.at = ev.at
        self._put(cid, new)
        return new
