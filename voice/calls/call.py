"""A call's state, as the B2BUA sees it: the caller's leg, where it is in the flow, the agent
endpoints ringing or connected, the recording and the times that end up in the CDR."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from voice.calls.history import CallHistory, SegmentKind
from voice.calls.legs import SipLeg
from voice.media.recorder import CallRecorder
from voice.sip.message import SipRequest
from voice.sip.transaction import TransactionKey

if TYPE_CHECKING:
    from hub.app import Services
    from hub.config import Settings
    from voice.calls.endpoints import AgentEndpoint
    from voice.calls.transcripts import CallTranscripts

__all__ = ["Call", "CallState"]


class CallState(StrEnum):
    SETUP = "setup"  # INVITE received, not answered yet (ringing, conversation being opened)
    ANSWERED = "answered"  # 200 OK sent: IVR or welcome prompt
    QUEUED = "queued"  # waiting in an ACD queue (music on hold), maybe ringing agents
    BRIDGED = "bridged"  # talking to an agent
    ENDED = "ended"


@dataclass(eq=False)
class Call:
    id: str
    invite: SipRequest
    server_key: TransactionKey | None
    caller: SipLeg
    local_tag: str
    caller_number: str
    caller_name: str | None
    callee: str
    source: str  # trunk | phone
    started_at: float
    state: CallState = CallState.SETUP
    conversation_id: str | None = None
    queue_id: str | None = None
    agent_id: str | None = None
    agent: AgentEndpoint | None = None
    ringing: dict[str, AgentEndpoint] = field(default_factory=dict)
    recorder: CallRecorder | None = None
    answered_at: float | None = None
    queued_at: float | None = None
    connected_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    transferring: bool = False
    external: str | None = None  # the number the call was transferred to through the trunk
    ivr: Any = None  # the IVR driver when the number has a flow
    consult: Any = None  # the agent's consultation / conference (voice/calls/consult.py)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    history: CallHistory = field(default_factory=CallHistory)  # per-leg history for the CDR (history.py)

    def segment(self, kind: SegmentKind, at: float, *, party: str | None = None, reason: str | None = None,
                agent_id: str | None = None) -> None:
        """The caller is now in ``kind``: a new segment of the history, with the call's queue and
        (talking, on hold, consulting) its agent."""
        agent = agent_id or (self.agent_id if kind not in (SegmentKind.QUEUED, SegmentKind.IVR,
                                                            SegmentKind.VOICEMAIL, SegmentKind.EXTERNAL)
                             else None)
        self.history.enter(kind, at, agent_id=agent, queue_id=self.queue_id, party=party, reason=reason)

    @property
    def ended(self) -> bool:
        return self.state is CallState.ENDED

    def public(self) -> dict[str, Any]:
        media = self.caller.media  # None before the caller's leg has media, and after it is gone
        return {
            "id": self.id, "state": str(self.state), "caller": self.caller_number,
            "caller_name": self.caller_name, "callee": self.callee, "source": self.source,
            "conversation_id": self.conversation_id, "queue_id": self.queue_id,
            "agent_id": self.agent_id, "external": self.external, "started_at": self.started_at,
            "answered_at": self.answered_at, "connected_at": self.connected_at,
            "ringing": sorted(self.ringing), "on_hold": self.caller.held_by_remote,
            "rx_packets": media.rx_packets if media is not None else 0,
            "tx_packets": media.tx_packets if media is not None else 0,
            "consult": self.consult.public() if self.consult is not None else None,
        }


class CallHost(Protocol):
    """What the parts of a call (consultations, the IVR driver) need of the call service that
    runs them (``CallService`` is one): the service passes itself in, so they never import it.
    Each part extends this with what it needs more (``ConsultHost``, ``IvrHost``)."""

    @property
    def services(self) -> Services: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def transcripts(self) -> CallTranscripts | None: ...
