"""RFC 3261 section 17 transactions as pure state machines (plus RFC 6026's Accepted state).

Nothing here touches a socket or reads the clock. Every event method takes ``now`` (seconds,
any monotonic origin) and returns a list of actions for the caller to carry out:

- :class:`Send` – put this message on the wire to ``addr``;
- :class:`StartTimer` / :class:`CancelTimer` – (re)arm or disarm a named timer of this
  transaction; the driver calls :meth:`Transaction.on_timer` when it fires;
- :class:`Deliver` – hand a message to the transaction user (TU);
- :class:`TimedOut` – the transaction failed for lack of an answer (carries a locally built
  ``408`` for client transactions, as RFC 3261 8.1.3.1 asks the TU to treat it);
- :class:`Terminated` – the transaction is over and can be forgotten.

:class:`TransactionLayer` owns the transactions: it matches incoming messages to them by branch
(17.1.3, 17.2.3), creates server transactions for new requests, keeps a timer heap and exposes
``next_deadline()``/``tick(now)`` so an asyncio transport can drive it with one owned task. It
also covers the UAS core's 2xx duty (13.3.1.4): a 2xx to an INVITE is retransmitted (T1 doubling
to T2) until the ACK arrives or 64*T1 passes, and retransmitted INVITEs that arrive after the 2xx
are absorbed (the 2xx is re-sent, the TU is not bothered).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from voice.sip.errors import SipParseError
from voice.sip.message import (
    BRANCH_MAGIC,
    CSeq,
    SipMessage,
    SipRequest,
    SipResponse,
    canonical_name,
)

Address: TypeAlias = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Timers:
    """RFC 3261 timer base values in seconds (Table 4)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:
        """64*T1: Timers B, F, H, J, L, M."""
        return 64 * self.t1


class State(StrEnum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class TimerName(StrEnum):
    A = "A"
    B = "B"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    I = "I"  # noqa: E741 - RFC name
    J = "J"
    K = "K"
    L = "L"
    M = "M"
    RETRANSMIT_2XX = "2xx"


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    message: SipMessage
    addr: Address

    @property
    def data(self) -> bytes:
        return bytes(self.message)


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: TimerName
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: TimerName


@dataclass(frozen=True, slots=True)
class Deliver:
    """A message for the TU. ``key`` names the transaction it belongs to (``None`` for an ACK
    to a 2xx, which is end-to-end). For a CANCEL, ``cancels`` is the key of the INVITE server
    transaction it matches, or ``None`` (the TU should answer 481)."""

    message: SipMessage
    key: TransactionKey | None
    addr: Address
    cancels: TransactionKey | None = None


@dataclass(frozen=True, slots=True)
class TimedOut:
    """No answer in time (client: Timer B/F; server: Timer H waiting for ACK, or the 2xx was
    never acknowledged). For client transactions ``response`` is a local 408 for the TU."""

    key: TransactionKey
    timer: TimerName
    response: SipResponse | None = None


@dataclass(frozen=True, slots=True)
class Terminated:
    key: TransactionKey


Action: TypeAlias = Send | StartTimer | CancelTimer | Deliver | TimedOut | Terminated


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """Matching key: (branch, sent-by, method) for servers, (branch, method) for clients.

    ACK shares the INVITE's key (``method`` is ``INVITE``); CANCEL has its own."""

    server: bool
    branch: str
    method: str
    sent_by: tuple[str, int] | None = None


def client_key(message: SipMessage) -> TransactionKey:
    """RFC 17.1.3: top Via branch and CSeq method."""
    via = message.top_via
    method = message.cseq.method
    if method == "ACK":
        method = "INVITE"
    return TransactionKey(False, via.branch or "", method)


def server_key(request: SipRequest) -> TransactionKey:
    """RFC 17.2.3: top Via branch, sent-by and method (ACK matches the INVITE). For an old
    RFC 2543 branch (no magic cookie) the key falls back to Call-ID, From tag, CSeq number and
    the top Via as a whole."""
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if not branch.startswith(BRANCH_MAGIC):
        cseq = request.cseq
        branch = "2543|" + "|".join((request.call_id, request.from_.tag or "", str(cseq.number), str(via)))
    return TransactionKey(True, branch, method, via.sent_by)


def _response_key(response: SipResponse) -> TransactionKey:
    """The server transaction a response the TU sends belongs to (its top Via + CSeq)."""
    via = response.top_via
    method = response.cseq.method
    branch = via.branch or ""
    return TransactionKey(True, branch, method, via.sent_by)


# -- transactions ------------------------------------------------------------------------------


@dataclass(eq=False)
class Transaction:
    """Common state: the request, the peer, the timers that are armed."""

    key: TransactionKey
    request: SipRequest
    addr: Address
    timers: Timers = field(default_factory=Timers)
    reliable: bool = False
    state: State = State.TRYING
    armed: dict[TimerName, float] = field(default_factory=dict)

    def _start(self, name: TimerName, at: float) -> StartTimer:
        self.armed[name] = at
        return StartTimer(name, at)

    def _cancel(self, name: TimerName) -> list[Action]:
        if self.armed.pop(name, None) is None:
            return []
        return [CancelTimer(name)]

    def _terminate(self) -> list[Action]:
        self.state = State.TERMINATED
        actions: list[Action] = [CancelTimer(n) for n in self.armed]
        self.armed.clear()
        actions.append(Terminated(self.key))
        return actions

    def on_timer(self, name: TimerName, now: float) -> list[Action]:
        """Fire timer ``name``. Stale firings (timer cancelled or re-armed) are ignored."""
        at = self.armed.get(name)
        if at is None or at > now:
            return []
        del self.armed[name]
        return self._fire(name, now)

    def _fire(self, name: TimerName, now: float) -> list[Action]:
        raise NotImplementedError

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED


@dataclass(eq=False)
class InviteClientTransaction(Transaction):
    """Figure 5: Calling → Proceeding → Completed/Accepted → Terminated."""

    state: State = State.CALLING
    interval: float = 0.0
    ack: SipRequest | None = None

    def start(self, now: float) -> list[Action]:
        actions: list[Action] = [Send(self.request, self.addr)]
        if not self.reliable:
            self.interval = self.timers.t1
            actions.append(self._start(TimerName.A, now + self.interval))
        actions.append(self._start(TimerName.B, now + self.timers.timeout))
        return actions

    def on_response(self, response: SipResponse, now: float) -> list[Action]:
        if self.state in (State.CALLING, State.PROCEEDING):
            actions = self._cancel(TimerName.A) + self._cancel(TimerName.B)
            if response.is_provisional:
                self.state = State.PROCEEDING
                return [*actions, Deliver(response, self.key, self.addr)]
            if response.is_success:
                # RFC 6026: stay Accepted for 64*T1 to pass 2xx retransmissions to the TU.
                self.state = State.ACCEPTED
                actions.append(self._start(TimerName.M, now + self.timers.timeout))
                return [*actions, Deliver(response, self.key, self.addr)]
            self.state = State.COMPLETED
            self.ack = build_ack_for_error(self.request, response)
            actions += [Send(self.ack, self.addr), Deliver(response, self.key, self.addr)]
            actions.append(self._start(TimerName.D, now + (0 if self.reliable else 32.0)))
            return actions
        if self.state is State.ACCEPTED and response.is_success:
            return [Deliver(response, self.key, self.addr)]
        if self.state is State.COMPLETED and response.status >= 300 and self.ack is not None:
            return [Send(self.ack, self.addr)]
        return []

    def _fire(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.A and self.state is State.CALLING:
            self.interval *= 2
            return [Send(self.request, self.addr), self._start(TimerName.A, now + self.interval)]
        if name is TimerName.B and self.state is State.CALLING:
            timeout = TimedOut(self.key, name, SipResponse.for_request(self.request, 408))
            return [timeout, *self._terminate()]
        if name in (TimerName.D, TimerName.M):
            return self._terminate()
        return []


@dataclass(eq=False)
class NonInviteClientTransaction(Transaction):
    """Figure 6: Trying → Proceeding → Completed → Terminated (Timers E, F, K)."""

    interval: float = 0.0

    def start(self, now: float) -> list[Action]:
        actions: list[Action] = [Send(self.request, self.addr)]
        if not self.reliable:
            self.interval = self.timers.t1
            actions.append(self._start(TimerName.E, now + self.interval))
        actions.append(self._start(TimerName.F, now + self.timers.timeout))
        return actions

    def on_response(self, response: SipResponse, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # Completed: absorb retransmitted finals
        if response.is_provisional:
            self.state = State.PROCEEDING
            return [Deliver(response, self.key, self.addr)]
        self.state = State.COMPLETED
        actions = self._cancel(TimerName.E) + self._cancel(TimerName.F)
        actions.append(Deliver(response, self.key, self.addr))
        actions.append(self._start(TimerName.K, now + (0 if self.reliable else self.timers.t4)))
        return actions

    def _fire(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.E and self.state in (State.TRYING, State.PROCEEDING):
            if self.state is State.TRYING:
                self.interval = min(self.interval * 2, self.timers.t2)
            else:
                self.interval = self.timers.t2
            return [Send(self.request, self.addr), self._start(TimerName.E, now + self.interval)]
        if name is TimerName.F and self.state in (State.TRYING, State.PROCEEDING):
            timeout = TimedOut(self.key, name, SipResponse.for_request(self.request, 408))
            return [timeout, *self._terminate()]
        if name is TimerName.K:
            return self._terminate()
        return []


@dataclass(eq=False)
class InviteServerTransaction(Transaction):
    """Figure 7 with RFC 6026: Proceeding → Completed → Confirmed, or Proceeding → Accepted.

    Retransmitted INVITEs are absorbed: the last provisional (Proceeding), the final response
    (Completed) or the 2xx (Accepted) is re-sent, and the TU hears about the INVITE once.
    """

    state: State = State.PROCEEDING
    last_response: SipResponse | None = None
    interval: float = 0.0

    def start(self, now: float, *, send_trying: bool = True) -> list[Action]:
        """Deliver the INVITE to the TU and, unless told otherwise, answer 100 Trying at once
        (17.2.1: the TU may take longer than 200 ms)."""
        actions: list[Action] = []
        if send_trying:
            self.last_response = SipResponse.for_request(self.request, 100)
            actions.append(Send(self.last_response, self.addr))
        actions.append(Deliver(self.request, self.key, self.addr))
        return actions

    def on_request(self, request: SipRequest, now: float) -> list[Action]:
        if request.method == "ACK":
            if self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                actions = self._cancel(TimerName.G) + self._cancel(TimerName.H)
                actions.append(self._start(TimerName.I, now + (0 if self.reliable else self.timers.t4)))
                return actions
            if self.state is State.ACCEPTED:
                # RFC 6026: an ACK reusing the INVITE's branch is passed to the TU.
                return [Deliver(request, None, self.addr)]
            return []  # Confirmed: absorb retransmitted ACKs
        if self.state in (State.PROCEEDING, State.COMPLETED, State.ACCEPTED):
            if self.last_response is not None:
                return [Send(self.last_response, self.addr)]
        return []

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        if self.state is not State.PROCEEDING:
            if self.state is State.ACCEPTED and response.is_success:
                # TU retransmitting its 2xx (13.3.1.4) passes straight through.
                self.last_response = response
                return [Send(response, self.addr)]
            raise ValueError(f"cannot send {response.status} in state {self.state}")
        self.last_response = response
        actions: list[Action] = [Send(response, self.addr)]
        if response.is_provisional:
            return actions
        if response.is_success:
            self.state = State.ACCEPTED
            actions.append(self._start(TimerName.L, now + self.timers.timeout))
            return actions
        self.state = State.COMPLETED
        if not self.reliable:
            self.interval = self.timers.t1
            actions.append(self._start(TimerName.G, now + self.interval))
        actions.append(self._start(TimerName.H, now + self.timers.timeout))
        return actions

    def _fire(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.G and self.state is State.COMPLETED and self.last_response:
            self.interval = min(self.interval * 2, self.timers.t2)
            return [
                Send(self.last_response, self.addr),
                self._start(TimerName.G, now + self.interval),
            ]
        if name is TimerName.H and self.state is State.COMPLETED:
            return [TimedOut(self.key, name), *self._terminate()]
        if name in (TimerName.I, TimerName.L):
            return self._terminate()
        return []


@dataclass(eq=False)
class NonInviteServerTransaction(Transaction):
    """Figure 8: Trying → Proceeding → Completed → Terminated (Timer J)."""

    last_response: SipResponse | None = None

    def start(self, now: float) -> list[Action]:
        return [Deliver(self.request, self.key, self.addr)]

    def on_request(self, request: SipRequest, now: float) -> list[Action]:
        if self.state is State.TRYING or self.last_response is None:
            return []
        return [Send(self.last_response, self.addr)]

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            raise ValueError(f"cannot send {response.status} in state {self.state}")
        self.last_response = response
        actions: list[Action] = [Send(response, self.addr)]
        if response.is_provisional:
            self.state = State.PROCEEDING
            return actions
        self.state = State.COMPLETED
        wait = 0 if self.reliable else self.timers.timeout
        actions.append(self._start(TimerName.J, now + wait))
        return actions

    def _fire(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.J:
            return self._terminate()
        return []


def build_ack_for_error(invite: SipRequest, response: SipResponse) -> SipRequest:
    """ACK for a non-2xx final response (17.1.1.3): same Request-URI, top Via (branch), From,
    Call-ID and Route as the INVITE, To from the response, CSeq number with method ACK."""
    headers: list[tuple[str, str]] = []
    via_done = False
    to_value = response.require("To")
    for name, value in invite.headers:
        key = canonical_name(name)
        if key == "via" and not via_done:
            headers.append((name, str(invite.top_via)))
            via_done = True
        elif key in ("from", "call-id", "route", "max-forwards"):
            headers.append((name, value))
        elif key == "to":
            headers.append((name, to_value))
        elif key == "cseq":
            headers.append((name, str(CSeq(invite.cseq.number, "ACK"))))
    return SipRequest.build("ACK", invite.uri, headers)


def build_cancel(invite: SipRequest) -> SipRequest:
    """CANCEL for a pending INVITE (9.1): same Request-URI, top Via (so the same branch),
    From, To, Call-ID, CSeq number and Route; method CANCEL. Send it with
    :meth:`TransactionLayer.send_request` only after a provisional response arrived."""
    headers: list[tuple[str, str]] = []
    via_done = False
    for name, value in invite.headers:
        key = canonical_name(name)
        if key == "via" and not via_done:
            headers.append((name, str(invite.top_via)))
            via_done = True
        elif key in ("from", "to", "call-id", "route", "max-forwards"):
            headers.append((name, value))
        elif key == "cseq":
            headers.append((name, str(CSeq(invite.cseq.number, "CANCEL"))))
    return SipRequest.build("CANCEL", invite.uri, headers)


# -- the layer ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Pending2xx:
    """UAS core retransmission of a 2xx until ACK (13.3.1.4)."""

    response: SipResponse
    addr: Address
    key: TransactionKey
    interval: float
    deadline: float
    next_at: float
    acked: bool = False


ServerTransaction: TypeAlias = InviteServerTransaction | NonInviteServerTransaction
ClientTransaction: TypeAlias = InviteClientTransaction | NonInviteClientTransaction


class TransactionLayer:
    """Matches messages to transactions, runs their timers, and retransmits 2xx until ACK.

    Drive it from a transport: ``receive(msg, addr, now)`` for each parsed message,
    ``send_request``/``send_response`` for the TU, ``tick(now)`` at ``next_deadline()``.
    Returned actions are :class:`Send`, :class:`Deliver`, :class:`TimedOut` and
    :class:`Terminated` (timer actions are kept inside).
    """

    def __init__(self, timers: Timers | None = None, *, reliable: bool = False) -> None:
        self.timers = timers or Timers()
        self.reliable = reliable
        self.transactions: dict[TransactionKey, Transaction] = {}
        self._heap: list[tuple[float, int, TransactionKey, TimerName]] = []
        self._seq = itertools.count()
        # (Call-ID, CSeq number, From tag) of INVITEs answered 2xx awaiting ACK.
        self._pending_2xx: dict[tuple[str, int, str], _Pending2xx] = {}
        self._heap_2xx: list[tuple[float, int, tuple[str, int, str]]] = []

    # -- inputs ---------------------------------------------------------------------------------

    def receive(self, message: SipMessage, addr: Address, now: float, *, reliable: bool | None = None) -> list[Action]:
        """Feed one parsed message from ``addr``. ``reliable`` says whether it came over a
        stream transport (default: the layer's setting); it decides the server transaction's
        timers."""
        rel = self.reliable if reliable is None else reliable
        if isinstance(message, SipResponse):
            ctx = self.transactions.get(client_key(message))
            if isinstance(ctx, InviteClientTransaction | NonInviteClientTransaction):
                return self._run(ctx, ctx.on_response(message, now))
            if message.is_success and message.cseq.method == "INVITE":
                # 2xx retransmission after the client transaction is gone: TU re-sends ACK.
                return [Deliver(message, None, addr)]
            return []  # stray response: discard (17.1.3)
        assert isinstance(message, SipRequest)
        if message.method == "ACK":
            ack_actions = self._match_ack_for_2xx(message, addr)
            if ack_actions is not None:
                return ack_actions
        key = server_key(message)
        existing = self.transactions.get(key)
        if isinstance(existing, InviteServerTransaction | NonInviteServerTransaction):
            return self._run(existing, existing.on_request(message, now))
        if message.method == "ACK":
            # ACK for a 2xx we no longer track, or stray: end-to-end, the TU decides.
            return [Deliver(message, None, addr)]
        tx: ServerTransaction
        if message.method == "INVITE":
            tx = InviteServerTransaction(key, message, addr, self.timers, rel)
        else:
            tx = NonInviteServerTransaction(key, message, addr, self.timers, rel)
        self.transactions[key] = tx
        actions = tx.start(now)
        if message.method == "CANCEL":
            target = TransactionKey(True, key.branch, "INVITE", key.sent_by)
            found = target if target in self.transactions else None
            actions = [
                Deliver(a.message, a.key, a.addr, cancels=found) if isinstance(a, Deliver) else a for a in actions
            ]
        return self._run(tx, actions)

    def send_request(
        self, request: SipRequest, addr: Address, now: float, *, reliable: bool | None = None
    ) -> tuple[TransactionKey, list[Action]]:
        """Start a client transaction (``reliable``: sent over a stream transport). An ACK
        (for a 2xx) has none: it is just sent."""
        rel = self.reliable if reliable is None else reliable
        if request.method == "ACK":
            return client_key(request), [Send(request, addr)]
        key = client_key(request)
        if key in self.transactions:
            raise ValueError(f"a client transaction with branch {key.branch} already exists")
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = InviteClientTransaction(key, request, addr, self.timers, rel)
        else:
            tx = NonInviteClientTransaction(key, request, addr, self.timers, rel)
        self.transactions[key] = tx
        return key, self._run(tx, tx.start(now))

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        """Send a TU response through its server transaction (found by top Via + CSeq)."""
        key = _response_key(response)
        tx = self.transactions.get(key)
        if tx is None and not key.branch.startswith(BRANCH_MAGIC):
            tx = next(
                (
                    t
                    for t in self.transactions.values()
                    if t.key.server
                    and t.key.method == key.method
                    and t.request.call_id == response.call_id
                    and t.request.cseq.number == response.cseq.number
                ),
                None,
            )
        if not isinstance(tx, InviteServerTransaction | NonInviteServerTransaction):
            raise ValueError(f"no server transaction for {response!r}")
        actions = self._run(tx, tx.send_response(response, now))
        if isinstance(tx, InviteServerTransaction) and response.is_success:
            self._track_2xx(tx, response, now)
        return actions

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``."""
        out: list[Action] = []
        while self._heap and self._heap[0][0] <= now:
            _, _, key, name = heapq.heappop(self._heap)
            tx = self.transactions.get(key)
            if tx is not None:
                out += self._run(tx, tx.on_timer(name, now))
        while self._heap_2xx and self._heap_2xx[0][0] <= now:
            at, _, dkey = heapq.heappop(self._heap_2xx)
            pending = self._pending_2xx.get(dkey)
            if pending is None or pending.next_at != at:
                continue
            if pending.acked:
                del self._pending_2xx[dkey]  # kept until now only to absorb ACK repeats
                continue
            if now >= pending.deadline:
                del self._pending_2xx[dkey]
                out.append(TimedOut(pending.key, TimerName.RETRANSMIT_2XX))
                continue
            out.append(Send(pending.response, pending.addr))
            pending.interval = min(pending.interval * 2, self.timers.t2)
            pending.next_at = min(now + pending.interval, pending.deadline)
            heapq.heappush(self._heap_2xx, (pending.next_at, next(self._seq), dkey))
        return out

    def next_deadline(self) -> float | None:
        """When ``tick`` next has work, or ``None``."""
        times = []
        if self._heap:
            times.append(self._heap[0][0])
        if self._heap_2xx:
            times.append(self._heap_2xx[0][0])
        return min(times) if times else None

    # -- internals ------------------------------------------------------------------------------

    def _run(self, tx: Transaction, actions: list[Action]) -> list[Action]:
        out: list[Action] = []
        for action in actions:
            if isinstance(action, StartTimer):
                heapq.heappush(self._heap, (action.at, next(self._seq), tx.key, action.name))
            elif isinstance(action, CancelTimer):
                pass  # lazily dropped: on_timer ignores disarmed timers
            else:
                if isinstance(action, Terminated):
                    self.transactions.pop(action.key, None)
                out.append(action)
        return out

    def _track_2xx(self, tx: InviteServerTransaction, response: SipResponse, now: float) -> None:
        """13.3.1.4 makes no exception for reliable transports (a later hop may be UDP), so
        the 2xx is retransmitted on every transport until the ACK or 64*T1."""
        dkey = (response.call_id, response.cseq.number, response.from_.tag or "")
        if dkey in self._pending_2xx:
            return
        first = self.timers.t1
        pending = _Pending2xx(response, tx.addr, tx.key, first, now + self.timers.timeout, now + first)
        self._pending_2xx[dkey] = pending
        heapq.heappush(self._heap_2xx, (pending.next_at, next(self._seq), dkey))

    def _match_ack_for_2xx(self, ack: SipRequest, addr: Address) -> list[Action] | None:
        try:
            dkey = (ack.call_id, ack.cseq.number, ack.from_.tag or "")
        except SipParseError:
            return None
        pending = self._pending_2xx.get(dkey)
        if pending is None:
            return None
        if pending.acked:
            return []  # retransmitted ACK: the TU already has it
        pending.acked = True
        pending.next_at = pending.deadline
        heapq.heappush(self._heap_2xx, (pending.next_at, next(self._seq), dkey))
        return [Deliver(ack, None, addr)]
