"""How components reach each other: one typed port per thing a component offers the others.

A component (a channel adapter, the knowledge base, voice, workflows …: the ``Channel`` objects
``bootstrap.py`` hands to :func:`hub.app.create_app`) fills the ports it ``provides`` in its
``start`` (``services.ports.kb = self._kb``) and reads the ports it ``uses`` or ``uses_later``
(``services.ports.kb``), each of which is None while its provider is not running. Every port is a
``Protocol`` naming exactly what the other components use of it, so the hub never imports a
component and a component never imports another one.

The start order follows from the declarations (:func:`start_order`): every provider of a port
starts before each component that ``uses`` it, and stops after it. ``uses_later`` declares a port
that is read only while serving (a mail, a call, a timer) and copes with None: it is left out of
the order, which is how two components that call each other are declared without a cycle.

Types that live in a component (an IVR flow, a call) are ``Any`` here; the rest are small
protocols of their own below."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.uow import Tx

# --- the knowledge base (kb/) ------------------------------------------------------------------


class KbHit(Protocol):
    """One search result of the knowledge base (``kb.service.SearchHit``)."""

    @property
    def article_id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer_text(self) -> str: ...
    @property
    def answer_html(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def margin(self) -> float: ...
    @property
    def mode(self) -> str: ...
    @property
    def highlights(self) -> dict[str, str]: ...


class KbIndex(Protocol):
    """The knowledge base's search index as assist sees it: whether it answers yet, and its
    backend (assist reuses the backend's ``embedder`` when it has one)."""

    @property
    def ready(self) -> bool: ...
    @property
    def backend(self) -> object: ...


@runtime_checkable
class KnowledgeBase(Protocol):
    """``kb``: FAQ search and the feedback loop (assist's FAQ, the widget bot, the IVR's
    ``faq`` hook in voice transcripts)."""

    @property
    def index(self) -> KbIndex: ...

    async def search(self, query: str, *, limit: int = 5,
                     published_only: bool = True) -> Sequence[KbHit]: ...

    async def get(self, article_id: str) -> Mapping[str, Any]: ...

    async def record_usage(self, article_id: str, *, conversation_id: str | None = None,
                           user_id: str | None = None, kind: str) -> None: ...

    async def record_usage_many(self, article_ids: Iterable[str], *,
                                conversation_id: str | None = None, user_id: str | None = None,
                                kind: str) -> None: ...

    async def record_gap(self, question: str, *, conversation_id: str | None = None,
                         channel: str = "chat") -> object: ...


# --- assist (assist/) --------------------------------------------------------------------------


@runtime_checkable
class Assist(Protocol):
    """``assist``: what the ticket form's prefill asks of AI assist (workflows/tickets.py)."""

    async def summarise(self, conversation_id: str) -> dict[str, Any]: ...

    async def entities(self, conversation_id: str) -> list[dict[str, Any]]: ...

    async def conversation_text(self, conversation_id: str) -> str: ...

    async def suggest_category(self, text: str) -> list[dict[str, Any]]: ...

    async def suggest_ticket_category(self, text: str) -> list[dict[str, Any]]: ...


@runtime_checkable
class ChatBot(Protocol):
    """``bot``: the widget bot the web chat channel asks before it enqueues a new chat (a chat it
    wants is opened with status ``bot``; the bot takes it from the ``conversation.created`` event)."""

    async def wants(self, queue_id: str) -> bool: ...

    async def handover(self, cid: str, reason: str = "customer_request") -> bool: ...


# --- email (channels/email) and fax (channels/fax) ---------------------------------------------


class EmailTemplates(Protocol):
    """Stored email templates, filled like an agent's insert (automation rules)."""

    async def get(self, tid: str) -> dict[str, Any]: ...

    def fill(self, tpl: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]: ...


@runtime_checkable
class Email(Protocol):
    """``email``: the email channel's public side (voicemail notices, email-to-fax, automation
    rules' stored templates)."""

    @property
    def templates_svc(self) -> EmailTemplates: ...

    @property
    def address(self) -> str:
        """Our address (``email_address``): the ``From`` of mail the hub sends."""

    @property
    def send_attempts(self) -> int:
        """Tries per message before giving up (``email_send_attempts``)."""

    @property
    def retry_base_s(self) -> float:
        """Backoff before retry *n* is ``retry_base_s * 2 ** (n - 1)`` (``email_retry_base_s``)."""

    async def send_mail(self, message: EmailMessage) -> None:
        """Send one ready-made message through the relay; raises on failure."""


class MailPart(Protocol):
    @property
    def filename(self) -> str: ...
    @property
    def data(self) -> bytes: ...


class InboundMail(Protocol):
    """A parsed inbound mail as the email ingestor hands it to an intake hook."""

    @property
    def message_id(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def from_addr(self) -> str: ...
    @property
    def parts(self) -> Sequence[MailPart]: ...


@runtime_checkable
class FaxIntake(Protocol):
    """``fax_intake``: consulted by the email ingestor before threading: a mail it takes over
    (fax-to-email) returns the conversation id it went to, else None."""

    def __call__(self, mail: InboundMail, envelope_from: str | None) -> Awaitable[str | None]: ...


@runtime_checkable
class FaxOnDemand(Protocol):
    """``fax``: send a document of the fax library to a number (fax on demand)."""

    async def send_on_demand(self, code: str, number: str) -> dict[str, Any]: ...


# --- SMS (channels/sms) ------------------------------------------------------------------------


@runtime_checkable
class SmsSender(Protocol):
    """``sms``: queue one SMS (voicemail alerts, work-order notices)."""

    async def send_text(self, phone: str, text: str, *, kind: str = "notification",
                        dedupe_key: str | None = None) -> dict[str, Any]: ...


# --- voice (voice/) ----------------------------------------------------------------------------


class CallbackOpener(Protocol):
    """Open a callback task in the inbox without a live call (automation rules' ``callback``)."""

    async def open_task(self, number: str, *, queue_id: str | None, identity: dict[str, Any],
                        requested_by_text: str, origin: dict[str, Any], note: str | None = None,
                        fallback_queue_id: str | None = None, meta: dict[str, Any] | None = None,
                        conversation_id: str | None = None) -> str: ...


@runtime_checkable
class VoiceCalls(Protocol):
    """``voice``: the call service as other components see it (filled only when voice is on)."""

    @property
    def callbacks(self) -> CallbackOpener | None: ...

    def sip_port(self, transport: str = "UDP") -> int: ...


IvrHook = Callable[[dict[str, Any]], Awaitable[Any]]


@runtime_checkable
class IvrFlows(Protocol):
    """``ivr``: the published IVR flows and their data hooks, for the call service. Flows,
    prompts and lookup results are ``voice.ivr.models`` types (``Any`` here)."""

    def flow_for_number(self, did: str) -> Any: ...

    async def audio_for(self, prompt: Any) -> str | None: ...

    async def prerender_published(self) -> None: ...

    async def lookup(self, name: str, args: dict[str, Any]) -> Any: ...

    def register_hook(self, name: str, fn: IvrHook) -> None: ...


@runtime_checkable
class Softphones(Protocol):
    """``softphone``: the browser softphones (voice/webrtc), where the call service rings an
    agent while their softphone is online. ``call`` and the endpoint are ``voice.calls`` types."""

    def online(self, agent_id: str) -> bool: ...

    def endpoint(self, agent_id: str, call: Any) -> Any: ...


# --- workflows (workflows/) --------------------------------------------------------------------

#: A customer notice action: ``await action(tx, work_order_row, text)`` → ``{"status": …}``.
CustomerNotice = Callable[[Tx, Any, str], Awaitable[dict[str, Any]]]


class CustomerNotices(Protocol):
    def register(self, name: str, action: CustomerNotice) -> None: ...


@runtime_checkable
class Workflows(Protocol):
    """``workflows``: the registry of customer notices other channels add theirs to (SMS)."""

    @property
    def customer(self) -> CustomerNotices: ...


# --- personal data (every component that stores data about customers) ------------------------

#: What a data-subject request or a retention run erases (:class:`DataSubject.parts`):
#: ``messages`` message texts (and their copies: email subjects and bodies, SMS texts),
#: ``attachments`` files attached to messages, ``raw_email`` the stored ``.eml`` files,
#: ``transcripts`` call transcripts, ``recordings`` call recordings and voicemail audio, and
#: ``identity`` what is held about the person outside conversations (the contact record, tickets
#: and work orders about them, numbers and addresses in call records and SMS logs).
PERSONAL_DATA_PARTS: tuple[str, ...] = ("messages", "attachments", "raw_email", "transcripts",
                                         "recordings", "identity")
#: the parts a conversation's content is made of (conversation retention erases them all)
CONVERSATION_PARTS: frozenset[str] = frozenset(PERSONAL_DATA_PARTS) - {"identity"}


@dataclass(frozen=True)
class DataSubject:
    """Whose data a holder exports or erases: the conversations (ids) and, for a person
    (``contact_id`` set), the contact's identifiers. ``terms`` are the strings that identify
    them (name, email addresses, phone numbers, custom field values): a holder redacts them in
    free text it keeps (``hub.services.privacy.redact_text``). ``parts``: what to erase (see
    :data:`PERSONAL_DATA_PARTS`); a retention run names one part and no contact."""

    conversation_ids: tuple[str, ...]
    parts: frozenset[str]
    contact_id: str | None = None
    contact_ids: tuple[str, ...] = ()  # the contact and the duplicates merged into it
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()  # as stored: E.164 (``+15551234567``)
    terms: tuple[str, ...] = ()


@dataclass
class Erased:
    """What a holder erased: ``counts`` by kind (the audit entry shows them), ``files`` it no
    longer references (paths relative to the data folder, removed after the commit by a durable
    consumer), ``terms`` more identifying strings it found (a work order's address) that the hub
    also scrubs from the event log."""

    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    def add(self, other: Erased) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self.files += other.files
        self.terms += other.terms


@dataclass(frozen=True)
class ExportEntry:
    """One file of a data-subject export archive: ``path`` inside the archive (``email/…``) and
    either its bytes or a file on disk (copied into the archive as it is)."""

    path: str
    data: bytes | None = None
    source: Path | None = None


@runtime_checkable
class PersonalDataHolder(Protocol):
    """A component's part of data-subject exports and erasures and of retention
    (hub/services/privacy.py). Each component that stores personal data registers one in its
    ``start`` (``services.privacy.register(holder)``); the hub calls every registered holder."""

    @property
    def name(self) -> str: ...

    def retention_days(self) -> Mapping[str, float]:
        """Part -> days its component's settings keep it (0: forever), for the parts the
        component has its own setting for (``email_raw_retention_days``: ``raw_email``)."""

    async def export(self, conn: AsyncConnection, subject: DataSubject) -> Sequence[ExportEntry]:
        """What the component holds about the subject, as archive entries under its name."""

    async def erase(self, tx: Tx, subject: DataSubject) -> Erased:
        """Erase ``subject.parts`` of what it holds about the subject inside the caller's
        transaction; keep the rows reports count (a tombstone without personal data)."""


# --- the hub's own ------------------------------------------------------------------------------


@runtime_checkable
class ClusterStatus(Protocol):
    """``cluster``: set by the hub itself when it runs as several processes (docs/SCALING.md)."""

    def stats(self) -> dict[str, Any]: ...


# --- the ports -----------------------------------------------------------------------------------


@dataclass
class Ports:
    """One attribute per port; None while nothing provides it (its component is off or absent)."""

    cluster: ClusterStatus | None = None
    kb: KnowledgeBase | None = None
    assist: Assist | None = None
    bot: ChatBot | None = None
    email: Email | None = None
    fax: FaxOnDemand | None = None
    fax_intake: FaxIntake | None = None
    sms: SmsSender | None = None
    voice: VoiceCalls | None = None
    ivr: IvrFlows | None = None
    softphone: Softphones | None = None
    workflows: Workflows | None = None


PORT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Ports))
#: Ports the hub fills itself; no component may provide them.
HUB_PORTS: tuple[str, ...] = ("cluster",)


# --- the start order -------------------------------------------------------------------------------


class Wired(Protocol):
    """What :func:`start_order` reads of a component."""

    name: str
    provides: tuple[str, ...]
    uses: tuple[str, ...]
    uses_later: tuple[str, ...]


class WiringError(ValueError):
    """The components' declarations do not make a start order (a programming error in the
    composition root, raised when the app is built)."""


W = TypeVar("W", bound=Wired)


def _label(c: Wired) -> str:
    return f"{c.name!r} ({type(c).__name__})"


def start_order(components: Sequence[W]) -> list[W]:
    """The components in an order where every port's provider comes before each component that
    ``uses`` it; otherwise as given. Raises :class:`WiringError` for an unknown port name, a port
    with two providers, a port of the hub's own, or components that use each other in a cycle."""
    provider: dict[str, W] = {}
    for c in components:
        for port in (*c.provides, *c.uses, *c.uses_later):
            if port not in PORT_NAMES:
                raise WiringError(f"component {_label(c)} declares the unknown port {port!r} "
                                  f"(ports: {', '.join(PORT_NAMES)})")
        for port in c.provides:
            if port in HUB_PORTS:
                raise WiringError(f"component {_label(c)} provides {port!r}, which the hub fills itself")
            if port in provider:
                raise WiringError(f"port {port!r} has two providers: {_label(provider[port])} and "
                                  f"{_label(c)}")
            provider[port] = c
    # component index → indexes of the components it must start after (its ports' providers)
    index = {id(c): i for i, c in enumerate(components)}
    after: list[set[int]] = []
    for c in components:
        if mine := set(c.uses) & set(c.provides):
            raise WiringError(f"component {_label(c)} uses {', '.join(map(repr, sorted(mine)))}, "
                              "which it provides itself")
        # a port nobody provides is simply None at run time (its component is off)
        after.append({index[id(provider[p])] for p in c.uses if p in provider})
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(components):
        ready = next((i for i in range(len(components)) if i not in done and after[i] <= done), None)
        if ready is None:
            raise WiringError("components use each other in a cycle: " +
                              _describe_cycle(components, after, done, provider))
        order.append(ready)
        done.add(ready)
    return [components[i] for i in order]


def _describe_cycle(components: Sequence[W], after: list[set[int]], done: set[int],
                    provider: Mapping[str, W]) -> str:
    """``a uses x (of b) → b uses y (of a)``: one cycle among the components not yet ordered."""
    start = next(i for i in range(len(components)) if i not in done)
    path: list[int] = [start]
    seen = {start: 0}
    while True:
        nxt = min(after[path[-1]] - done)  # every undone component still waits for an undone one
        if nxt in seen:
            path = path[seen[nxt]:] + [nxt]
            break
        seen[nxt] = len(path)
        path.append(nxt)
    steps = []
    for a, b in zip(path, path[1:], strict=False):
        ports = [p for p in components[a].uses if p in provider and provider[p] is components[b]]
        steps.append(f"{_label(components[a])} uses {', '.join(map(repr, ports))} of {_label(components[b])}")
    return " → ".join(steps) + " (a port read only while serving, never in start, belongs in uses_later)"
