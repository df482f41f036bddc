"""Typed hub events and their dispatcher.

Event types are ``StrEnum`` members: the hub's own in :class:`EventType`, each component's in its
own events module (``channels/email/events.py``, ``workflows/events.py`` …), registered with
:func:`register_event_types`. The bus, the log and the subscribers take any of them as ``str``.

Every state change is an :class:`Event`, stored in the event log (the ``events`` table: the source
for reports and the catch-up log) in the transaction that made the change, and handed to
subscribers only **after commit**, by the :class:`EventBus`:

* ``publish`` (called by the unit of work after commit, and for signals) never runs a subscriber:
  it appends the events to each interested subscriber's queue and returns. So no subscriber runs
  inside the request, the lock or the transaction that caused its event, and a subscriber may call
  any service (even one whose lock the causing code held: it has been released by then).
* Each subscriber has its own worker task, so a slow one (a KB search) never delays another (a
  Socket.IO push); each gets events in commit order.
* **Live** subscribers (``subscribe``: pushes, caches, wake-ups) get what this process commits,
  at most once.
* **Durable consumers** (``consume``: subscribers that act — rules, outbound messages,
  notifications) have a checkpoint in the database (``event_consumers``): on start they replay
  the stored events after it, so an event committed just before a crash is still handled after
  the restart (at least once; their handlers are idempotent). A consumer that falls too far behind
  reads the log from the database instead of memory.
* Causality: events carry ``cause`` (what caused them, e.g. a rule chain), taken from the
  :data:`CAUSE` context variable when they are emitted; a handler runs with ``CAUSE`` set to its
  event's ``cause``, so the events its work emits belong to the same chain, even after a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)


class EventType(StrEnum):
    """The hub's own event types: agents, users, conversations, messages, contacts, admin changes,
    the scheduler's timers, and the signals. A component declares its own in its ``events.py`` (a
    ``StrEnum`` registered with :func:`register_event_types`, e.g. ``channels/email/events.py``);
    the hub never names them."""

    AGENT_STATE_CHANGED = "agent.state_changed"
    AGENT_LOGGED_IN = "agent.logged_in"
    USER_LOGIN = "user.login"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOGOUT = "user.logout"
    #: sessions ended (data.sessions: their ids, or None for all of the user's) or the user's
    #: access changed (roles): their open sockets are closed on every process (hub/realtime.py)
    USER_ACCESS_CHANGED = "user.access_changed"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_QUEUED = "conversation.queued"
    CONVERSATION_OFFERED = "conversation.offered"
    CONVERSATION_OFFER_REVOKED = "conversation.offer_revoked"
    CONVERSATION_REJECTED = "conversation.rejected"
    CONVERSATION_NO_ANSWER = "conversation.no_answer"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_TRANSFERRED = "conversation.transferred"
    CONVERSATION_OVERFLOWED = "conversation.overflowed"
    CONVERSATION_ABANDONED = "conversation.abandoned"
    CONVERSATION_CLOSED = "conversation.closed"
    CONVERSATION_CONTACT_LINKED = "conversation.contact_linked"
    #: a chat customer's claimed identity was proven (a one-time code) or confirmed by an agent
    CONVERSATION_IDENTITY_VERIFIED = "conversation.identity_verified"
    CONVERSATION_CSAT = "conversation.csat"
    MESSAGE_CREATED = "message.created"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"
    CONTACT_MERGED = "contact.merged"
    #: a contact's VIP flag or owner agent set (with ``contact.updated``; in the audit trail)
    CONTACT_STANDING_CHANGED = "contact.standing_changed"
    CONTACT_EXPORTED = "contact.exported"
    #: a user downloaded an attachment (hub/api/http.py ``attachment_file``)
    ATTACHMENT_DOWNLOADED = "attachment.downloaded"
    ADMIN_CHANGED = "admin.changed"
    # durable scheduler (hub/services/scheduler.py)
    TIMER_FIRED = "timer.fired"  # a "hub.event" timer fired
    TIMER_FAILED = "timer.failed"  # a timer ran out of attempts
    # Signals: dispatched to subscribers but never stored (ephemeral UI hints).
    TYPING = "typing"
    TIMER_SCHEDULED = "timer.scheduled"  # wakes the scheduler loop early after commit


_E = TypeVar("_E", bound=StrEnum)

#: every declared event type by its stored string: the hub's and those of each component whose
#: events module has been imported (``register_event_types``)
_DECLARED: dict[str, StrEnum] = {}
#: the event types the audit trail shows (``EventLog.audit``)
_AUDITED: set[str] = set()


def register_event_types(types: type[_E], *, audit: Iterable[_E] = ()) -> type[_E]:
    """Declare a ``StrEnum`` of event types (the hub's :class:`EventType`, or a component's in its
    ``events.py``): events read back from the log (durable consumers' catch-up, other processes'
    events) carry its members again, so ``ev.type is X`` holds for them as for live ones. ``audit``:
    the types the audit trail lists. A string two enums declare is an error: stored types are
    global."""
    for member in types:
        known = _DECLARED.get(member.value)
        if known is not None and (type(known).__module__, type(known).__qualname__) != (
                types.__module__, types.__qualname__):
            raise ValueError(f"event type {member.value!r} of {types.__module__}.{types.__qualname__} "
                             f"is already {type(known).__module__}.{type(known).__qualname__}.{known.name}")
    _DECLARED.update((member.value, member) for member in types)
    _AUDITED.update(str(t) for t in audit)
    return types


def event_type(value: str) -> str:
    """The declared member for a stored type string; the string itself when no imported module
    declares it (a component that is not loaded, or a type no longer used)."""
    return _DECLARED.get(value, value)


def declared_event_types() -> dict[str, StrEnum]:
    """Every declared event type by its string (a copy)."""
    return dict(_DECLARED)


def audit_types() -> frozenset[str]:
    """The event types the audit trail lists: the hub's (logins, admin changes) and those the
    loaded components declared with ``audit`` (e.g. voice's recording downloads)."""
    return frozenset(_AUDITED)


register_event_types(EventType, audit=(EventType.ADMIN_CHANGED, EventType.USER_LOGIN,
                                       EventType.USER_LOGIN_FAILED, EventType.USER_LOGOUT,
                                       EventType.CONTACT_DELETED, EventType.CONTACT_MERGED,
                                       EventType.CONTACT_STANDING_CHANGED, EventType.CONTACT_EXPORTED,
                                       EventType.ATTACHMENT_DOWNLOADED,
                                       EventType.CONVERSATION_IDENTITY_VERIFIED))

SIGNALS = frozenset({EventType.TYPING, EventType.TIMER_SCHEDULED})

#: What events emitted now were caused by (JSON-able; e.g. ``{"chain": {...}}`` inside a rule's
#: actions). The unit of work stamps it on every event it stores; the bus sets it around a handler.
CAUSE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("event_cause", default=None)


@dataclass(frozen=True, slots=True)
class Event:
    #: a member of :class:`EventType` or of a component's registered ``StrEnum``; its string is
    #: what the events table stores
    type: str
    at: float
    conversation_id: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: the position in the event log, set when stored (``None`` for signals and before commit)
    id: int | None = None
    #: what caused this event (see :data:`CAUSE`)
    cause: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        return {
            "type": str(self.type), "at": self.at, "conversation_id": self.conversation_id,
            "user_id": self.user_id, "queue_id": self.queue_id, "data": self.data, "cause": self.cause,
        }


Subscriber = Callable[[Event], Awaitable[None]]

#: a subscriber whose events wait longer than this in its queue is named in the log
LAG_WARNING_S = 2.0


class ConsumerStore(Protocol):
    """Where durable consumers keep their checkpoints and read the log (``hub/db/consumers.py``)."""

    async def head(self) -> int: ...

    async def checkpoints(self) -> dict[str, int]: ...

    async def save(self, checkpoints: dict[str, int]) -> None: ...

    async def read_after(self, after_id: int, types: frozenset[str] | None, limit: int) -> list[Event]: ...


class _Worker:
    """One subscriber: its queue and the task that feeds it, one event at a time, in order."""

    def __init__(self, bus: EventBus, name: str, fn: Subscriber, types: Iterable[str] | None,
                 local_only: bool = False, remote_only: bool = False) -> None:
        self.bus = bus
        self.name = name
        self.fn = fn
        self.types: frozenset[str] | None = None if types is None else frozenset(str(t) for t in types)
        #: only events committed by this process (see ``EventBus.subscribe``)
        self.local_only = local_only
        #: only events other processes committed (state kept from them; see ``subscribe``)
        self.remote_only = remote_only
        self.owner = bus.owner  # the component that subscribed it (``EventBus.owned_by``)
        self.queue: deque[Event] = deque()
        self.wake = asyncio.Event()
        self.busy = False
        self.task: asyncio.Task[None] | None = None
        self.failures = 0
        self.stamps: deque[float] = deque()  # when each queued event was published (monotonic)
        self.lag_max = 0.0  # the longest an event waited in this queue, seconds
        self._warned_at = 0.0

    def wants(self, ev: Event) -> bool:
        return self.types is None or ev.type in self.types

    def offer(self, ev: Event) -> None:
        if len(self.queue) >= self.bus.queue_limit:
            self.overflow(ev)
            return
        self.queue.append(ev)
        self.stamps.append(time.monotonic())
        self.wake.set()

    def took(self, published: float) -> None:
        """Note how long an event waited; say so (at most every 10 s) when it is seconds."""
        now = time.monotonic()
        lag = now - published
        self.lag_max = max(self.lag_max, lag)
        if lag > LAG_WARNING_S and now - self._warned_at > 10:
            self._warned_at = now
            log.warning("subscriber %s is %.1f s behind (%d events queued)", self.name, lag, len(self.queue))

    def overflow(self, ev: Event) -> None:
        self.bus.dropped += 1
        if self.bus.dropped % 1000 == 1:
            log.warning("subscriber %s is %d events behind: dropping live events", self.name, len(self.queue))

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self.run(), name=f"events:{self.name}")

    @property
    def idle(self) -> bool:
        return not self.queue and not self.busy

    async def run(self) -> None:
        while True:
            while self.queue:
                ev = self.queue.popleft()
                self.took(self.stamps.popleft())
                self.busy = True
                try:
                    await self.deliver(ev)
                finally:
                    self.busy = False
            self.wake.clear()
            if not self.queue:
                self.bus.went_idle.set()
                await self.wake.wait()

    async def deliver(self, ev: Event) -> None:
        token = CAUSE.set(ev.cause)
        try:
            await self.fn(ev)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a subscriber must not stop the others
            self.failures += 1
            log.exception("event subscriber %s failed on %s", self.name, ev.type)
        finally:
            CAUSE.reset(token)


class _Consumer(_Worker):
    """A durable consumer: handles every stored event after its checkpoint, at least once.

    With ``concurrency`` above 1, events of different conversations are handled concurrently (up
    to that many at once) and those of one conversation in order; the checkpoint moves only past
    events whose every predecessor is handled, so a crash replays whatever was still running."""

    RETRIES = (0.05, 0.5, 2.0)

    def __init__(self, bus: EventBus, name: str, fn: Subscriber, types: Iterable[str] | None,
                 concurrency: int = 1) -> None:
        super().__init__(bus, name, fn, types)
        self.last_id: int | None = None  # the checkpoint: every event up to it is handled
        self.seen_id: int | None = None  # the last event handed to a handler (= last_id when serial)
        self.saved_id: int | None = None
        self.start_after = bus.published_id  # where a consumer with no checkpoint yet begins
        self.behind = False
        self.ready = False  # the first catch-up is done
        self.concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        #: concurrent mode: the events handed to a handler, in id order → whether it is done
        self._running: dict[int, bool] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}  # per conversation: its latest handler
        self._tasks: set[asyncio.Task[None]] = set()

    def wants(self, ev: Event) -> bool:
        return ev.id is not None and super().wants(ev)

    def poke(self) -> None:
        """Log mode (``EventBus.consumers_from_log``): something new is in the log; read it there."""
        self.behind = True
        self.wake.set()

    def overflow(self, ev: Event) -> None:
        # Too far behind: forget the memory copy, read the log from the database instead.
        if not self.behind:
            log.warning("consumer %s is %d events behind: reading from the event log", self.name,
                        len(self.queue))
        self.behind = True
        self.queue.clear()
        self.stamps.clear()
        self.wake.set()

    @property
    def idle(self) -> bool:
        return super().idle and not self.behind and self.ready and not self._running

    def resume_from(self, checkpoint: int) -> None:
        self.last_id = self.seen_id = checkpoint

    def advance_when_idle(self) -> None:
        """Nothing of ours is pending: the checkpoint may move to the log's head."""
        if self.idle and self.last_id is not None and self.bus.published_id > self.last_id:
            self.resume_from(self.bus.published_id)

    async def run(self) -> None:
        await self.catch_up()
        self.ready = True
        while True:
            while self.queue and not self.behind:
                ev = self.queue.popleft()
                self.took(self.stamps.popleft())
                if self.seen_id is not None and ev.id is not None and ev.id <= self.seen_id:
                    continue  # already handled during the catch-up
                self.busy = True
                try:
                    await self.hand(ev)
                finally:
                    self.busy = False
            if self.behind:
                self.behind = False
                await self.catch_up()
                continue
            self.wake.clear()
            if not self.queue and not self.behind:
                self.bus.went_idle.set()
                await self.wake.wait()

    async def catch_up(self) -> None:
        store = self.bus.store
        assert store is not None and self.seen_id is not None
        self.busy = True
        try:
            while True:
                batch = await store.read_after(self.seen_id, self.types, self.bus.catch_up_batch)
                for ev in batch:
                    await self.hand(ev)
                if len(batch) < self.bus.catch_up_batch:
                    break
        finally:
            self.busy = False

    async def hand(self, ev: Event) -> None:
        """Handle one event: at once when serial; otherwise start its handler once a slot is free
        (after the previous handler of its conversation)."""
        if self.concurrency <= 1 or ev.id is None:
            await self.deliver(ev)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        await self._slots.acquire()
        key = ev.conversation_id or ""
        self._running[ev.id] = False
        self.seen_id = ev.id
        task = asyncio.create_task(self._handle_after(ev, self._tails.get(key), key),
                                   name=f"events:{self.name}:{ev.id}")
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_after(self, ev: Event, previous: asyncio.Task[None] | None, key: str) -> None:
        assert ev.id is not None and self._slots is not None
        handled = False
        try:
            if previous is not None:
                await asyncio.wait((previous,))
            await self.attempt(ev)
            handled = True
        finally:
            self._slots.release()
            if self._tails.get(key) is asyncio.current_task():
                del self._tails[key]
        if handled:  # (cancelled: the checkpoint stays before it, the event is replayed)
            self._running[ev.id] = True
        for done_id, done in list(self._running.items()):  # in id order: the checkpoint
            if not done:
                break
            del self._running[done_id]
            self.last_id = done_id
        if not self._running:
            self.bus.went_idle.set()

    async def cancel_running(self) -> None:
        for task in list(self._tasks):
            await cancel_task(task)
        self._running.clear()
        self._tails.clear()

    async def deliver(self, ev: Event) -> None:
        await self.attempt(ev)
        if ev.id is not None and (self.last_id is None or ev.id > self.last_id):
            self.last_id = self.seen_id = ev.id

    async def attempt(self, ev: Event) -> None:
        """The handler, retried on failure; then the next event goes on."""
        token = CAUSE.set(ev.cause)
        try:
            for attempt, pause in enumerate((*self.RETRIES, None)):
                try:
                    await self.fn(ev)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - retried, then logged; the next event goes on
                    if pause is None:
                        self.failures += 1
                        log.exception("consumer %s gave up on event %s (%s) after %d attempts",
                                      self.name, ev.id, ev.type, attempt + 1)
                    else:
                        log.warning("consumer %s failed on event %s (%s); retrying in %.2f s",
                                    self.name, ev.id, ev.type, pause, exc_info=True)
                        await asyncio.sleep(pause)
        finally:
            CAUSE.reset(token)


class EventBus:
    """Hands committed events to subscribers, each in its own task, off the committing path."""

    def __init__(self, *, queue_limit: int = 20_000, checkpoint_interval_s: float = 0.5,
                 catch_up_batch: int = 500) -> None:
        self.queue_limit = queue_limit
        self.checkpoint_interval_s = checkpoint_interval_s
        self.catch_up_batch = catch_up_batch
        self._live: list[_Worker] = []
        #: the component whose start is running (``owned_by``): its live subscribers are its own
        self.owner: str | None = None
        self._consumers: dict[str, _Consumer] = {}
        self.store: ConsumerStore | None = None
        #: which durable consumers run in this process: None = all (``consumers`` setting)
        self.enabled: frozenset[str] | None = None
        self.published_id = 0  # the highest event id this process has published (or the log's head)
        self.dropped = 0
        #: several processes (``hub/db/fanout.py``): durable consumers read every event from the log
        #: in id order (another process's event may reach this one after a later local event)
        self.consumers_from_log = False
        #: several processes: ids of the events this process stored, until the fan-out has seen them
        #: (``None``: not tracked; filled by the unit of work before commit)
        self.local_ids: set[int] | None = None
        self._live_started = False
        self._started = False  # the durable consumers run
        self._closed = False
        self._flusher: asyncio.Task[None] | None = None
        self.went_idle = asyncio.Event()  # set whenever a worker runs out of work

    # --- registering ----------------------------------------------------------------------------
    def subscribe(self, fn: Subscriber, *, types: Iterable[str] | None = None,
                  name: str | None = None, local_only: bool = False,
                  remote_only: bool = False) -> Callable[[], None]:
        """A live subscriber (at most once); returns its unsubscribe. With several processes it
        also gets the other processes' events (``publish_remote``) unless ``local_only``: a
        subscriber that pushes to sockets (the Socket.IO Redis manager delivers its emits to every
        process's clients) or acts once per event runs only where its event was committed. A
        component that acts on its process's events but keeps state from everyone's subscribes a
        second function with ``remote_only`` (nothing calls it in a single process)."""
        worker = _Worker(self, name or _name_of(fn), fn, types, local_only, remote_only)
        self._live.append(worker)
        with contextlib.suppress(RuntimeError):  # no running loop: started by ``start``
            worker.start()

        def unsubscribe() -> None:
            if worker in self._live:
                self._live.remove(worker)
            if worker.task is not None:
                worker.task.cancel()
        return unsubscribe

    @contextlib.contextmanager
    def owned_by(self, owner: str) -> Iterator[None]:
        """Live subscribers registered inside this block belong to ``owner`` (a component's start),
        so that ``release(owner)`` can take them away when the component stops."""
        previous, self.owner = self.owner, owner
        try:
            yield
        finally:
            self.owner = previous

    async def release(self, owner: str, drain_s: float = 0.5) -> None:
        """A component is about to stop: let its live subscribers finish what is queued (bounded),
        then remove them, so no event reaches a component that has stopped."""
        mine = [w for w in self._live if w.owner == owner]
        with contextlib.suppress(TimeoutError):
            await self._wait_idle(mine, drain_s)
        for w in mine:
            self._live.remove(w)
            await cancel_task(w.task)

    def consume(self, name: str, fn: Subscriber, *, types: Iterable[str] | None = None,
                concurrency: int = 1) -> None:
        """A durable consumer named ``name`` (its checkpoint's key: keep it stable). With
        ``concurrency`` above 1 it handles up to that many events at once, one at a time per
        conversation (see ``_Consumer``)."""
        if name in self._consumers:
            self._consumers[name].fn = fn  # a component started again in the same process
            return
        if self.enabled is not None and name not in self.enabled:
            log.info("event consumer %s does not run in this process", name)
            return
        consumer = _Consumer(self, name, fn, types, concurrency)
        self._consumers[name] = consumer
        if self._started:
            asyncio.get_running_loop().create_task(self._start_consumer(consumer, None))

    # --- dispatching ------------------------------------------------------------------------------
    def publish(self, events: Iterable[Event]) -> None:
        """Queue committed events (and signals) for every interested subscriber; runs none of them."""
        self._publish(events, remote=False)

    def publish_remote(self, events: Iterable[Event]) -> None:
        """Events another process committed (read from the log by ``hub/db/fanout.py``): for the
        live subscribers that are not ``local_only``, and the durable consumers."""
        self._publish(events, remote=True)

    def _publish(self, events: Iterable[Event], *, remote: bool) -> None:
        if self._closed:
            return
        for ev in events:
            if ev.id is not None and ev.id > self.published_id:
                self.published_id = ev.id
            for w in self._live:
                if (w.local_only if remote else w.remote_only) or not w.wants(ev):
                    continue
                w.offer(ev)
            self._to_consumers(ev)

    def _to_consumers(self, ev: Event) -> None:
        for c in self._consumers.values():
            if c.wants(ev):
                if self.consumers_from_log:
                    c.poke()
                else:
                    c.offer(ev)

    async def dispatch(self, events: Iterable[Event]) -> None:
        """``publish`` for callers in a coroutine (signals from sockets)."""
        self.publish(events)

    async def settled(self, within_s: float = 10.0) -> None:
        """Wait until every subscriber has handled everything published so far (and what that
        caused). For shutdown and for tests that check an effect of an event."""
        await self._wait_idle((*self._live, *self._consumers.values()), within_s)

    # --- lifecycle --------------------------------------------------------------------------------
    async def open(self, store: ConsumerStore) -> None:
        """Learn the log's head (where new consumers begin); called before components start."""
        self.store = store
        self.published_id = max(self.published_id, await store.head())

    async def start(self) -> None:
        """Start the durable consumers: each catches up from its checkpoint, then goes live."""
        self.start_live()
        await self.start_consumers()

    def start_live(self) -> None:
        """Start the live subscribers' workers (those registered with no running loop)."""
        self._live_started = True
        for w in self._live:
            w.start()

    async def start_consumers(self) -> None:
        """Start the durable consumers (with several processes: on the ACD leader only)."""
        assert self.store is not None, "open() first"
        if self._started:
            return
        self._started = True
        saved = await self.store.checkpoints()
        for c in list(self._consumers.values()):
            await self._start_consumer(c, saved.get(c.name))
        self._flusher = asyncio.create_task(self._flush_loop(), name="events:checkpoints")

    async def pause_consumers(self) -> None:
        """Stop the durable consumers at once and save their checkpoints, keeping them registered
        (this process is no longer the leader; another one replays from the checkpoints)."""
        if not self._started:
            return
        self._started = False
        for c in self._consumers.values():
            await cancel_task(c.task)
            await c.cancel_running()
            c.task = None
            c.queue.clear()
            c.stamps.clear()
            c.behind = c.ready = c.busy = False
        if self._flusher is not None:
            await cancel_task(self._flusher)
            self._flusher = None
        with contextlib.suppress(Exception):
            await self.flush_checkpoints()
        for c in self._consumers.values():
            c.saved_id = c.last_id  # never written back from here: the next leader moves them on

    async def _start_consumer(self, c: _Consumer, saved: int | None) -> None:
        assert self.store is not None
        if saved is None:
            saved = (await self.store.checkpoints()).get(c.name)
        if saved is None:  # a new consumer: from where it was registered, checkpoint written now
            c.resume_from(c.start_after)
            await self.store.save({c.name: c.start_after})
        else:
            c.resume_from(saved)
        c.saved_id = c.last_id
        c.start()

    async def stop_consumers(self, drain_s: float = 5.0) -> None:
        """Let the durable consumers finish what is queued (bounded), stop them, save checkpoints."""
        if self._started:  # (several processes: not started where this process does not lead)
            with contextlib.suppress(TimeoutError):
                await self._wait_idle(self._consumers.values(), drain_s)
        for c in self._consumers.values():
            await cancel_task(c.task)
            await c.cancel_running()
            c.task = None
            c.ready = False  # what was cut short is not done: the checkpoint stays before it
        if self._flusher is not None:
            await cancel_task(self._flusher)
            self._flusher = None
        await self.flush_checkpoints()
        self._consumers.clear()
        self._started = False

    async def close(self, drain_s: float = 2.0) -> None:
        """Stop the live subscribers (after a short drain); later events are dropped."""
        with contextlib.suppress(TimeoutError):
            await self._wait_idle(self._live, drain_s)
        self._closed = True
        for w in self._live:
            await cancel_task(w.task)
        self._live.clear()

    async def _wait_idle(self, workers: Iterable[_Worker], within_s: float) -> None:
        workers = list(workers)
        async with asyncio.timeout(within_s):
            while True:
                self.went_idle.clear()
                if all(w.idle for w in workers):
                    return
                await self.went_idle.wait()

    async def flush_checkpoints(self) -> None:
        if self.store is None:
            return
        for c in self._consumers.values():
            c.advance_when_idle()
        dirty = {c.name: c.last_id for c in self._consumers.values()
                 if c.last_id is not None and c.last_id != c.saved_id}
        if not dirty:
            return
        await self.store.save(dirty)
        for name, last in dirty.items():
            self._consumers[name].saved_id = last

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval_s)
            try:
                await self.flush_checkpoints()
            except Exception:  # noqa: BLE001 - tried again next interval; at worst events replay
                log.warning("could not save event consumer checkpoints", exc_info=True)

    def stats(self) -> dict[str, Any]:
        """Queue depths and positions, for health pages and benches."""
        return {
            "published_id": self.published_id, "dropped": self.dropped,
            "live": {w.name: {"queued": len(w.queue), "failures": w.failures, "lag_max_s": round(w.lag_max, 3)}
                     for w in self._live},
            "consumers": {c.name: {"queued": len(c.queue), "last_id": c.last_id, "behind": c.behind,
                                   "failures": c.failures, "lag_max_s": round(c.lag_max, 3)}
                          for c in self._consumers.values()},
        }


def _name_of(fn: Callable[..., Any]) -> str:
    owner = getattr(fn, "__self__", None)
    base = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{type(owner).__module__}.{base}" if owner is not None else f"{getattr(fn, '__module__', '')}.{base}"


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    """Cancel an owned task and wait for it to end (whatever it raised on the way out)."""
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def with_id(ev: Event, event_id: int, cause: dict[str, Any] | None) -> Event:
    return dataclasses.replace(ev, id=event_id, cause=cause)

