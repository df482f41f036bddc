"""The browser softphone's and supervisor monitoring's response models (``/api/voice/softphone``,
``/api/voice/monitor``)."""

from __future__ import annotations

from typing import Literal

from hub.api.schemas import Epoch, ResponseModel
from voice.calls.schemas import CallInfo, ConsultInfo


class SoftphoneLeg(ResponseModel):
    """A call leg on an agent's browser softphone."""

    leg_id: str
    call_id: str
    conversation_id: str | None
    caller: str
    caller_name: str | None
    callee: str
    queue_id: str | None
    state: Literal["new", "ringing", "connected", "ended"]
    on_hold: bool
    muted: bool
    # when the ringing stops (hub clock)
    expires_at: Epoch | None
    # the consultation this agent started on the call
    consult: ConsultInfo | None
    # set on a leg ringing for a colleague's consultation: that colleague's id
    consulted_by: str | None
    call_ended: bool
    # the hub lost this leg's browser connection and waits for the page to reconnect
    reconnecting: bool


class DtmfSent(SoftphoneLeg):
    digits: str


class SoftphoneStatus(ResponseModel):
    online: bool
    lease_s: float
    expires_in: float
    ice_servers: list[str]
    legs: list[SoftphoneLeg]


class SdpAnswer(ResponseModel):
    sdp: str
    type: Literal["answer"]
    leg: SoftphoneLeg


class ConsultAgent(ResponseModel):
    id: str
    name: str
    # where the agent takes calls now
    reachable: Literal["softphone", "desk_phone"] | None
    busy: bool
    state: str


class ConsultQueue(ResponseModel):
    id: str
    name: str


class ConsultTargets(ResponseModel):
    agents: list[ConsultAgent]
    queues: list[ConsultQueue]
    # external numbers go out through a trunk, matching this pattern
    external: bool
    external_pattern: str | None


class MonitorInfo(ResponseModel):
    monitor_id: str
    call_id: str
    conversation_id: str | None
    mode: Literal["listen", "whisper", "barge"]
    agent_id: str | None


class MonitorCall(CallInfo):
    # the agent is on the browser softphone (whisper and barge need it)
    softphone: bool
    held_by_agent: bool
    monitors: list[MonitorInfo]


class MonitorCalls(ResponseModel):
    calls: list[MonitorCall]


class MonitorAnswer(ResponseModel):
    sdp: str
    type: Literal["answer"]
    monitor: MonitorInfo
