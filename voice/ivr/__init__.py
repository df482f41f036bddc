"""IVR flows (VOICE-2) and the queue experience (VOICE-3): flows as data (``flow``), their
validation (``validate``), the pure per-call state machine (``engine``) and its event/action
contract with the call service (``model``). ``component`` (the only module importing the hub)
stores flows, prompts and number routing and serves ``/api/ivr``."""

from voice.ivr.engine import IvrSession, QueueEntry
from voice.ivr.errors import FlowInvalid, IvrError, SessionOver, UnknownNode
from voice.ivr.flow import Flow, FlowDefinition, audio_key, parse_flow
from voice.ivr.validate import Problem, check_flow, validation_problems

__all__ = [
    "Flow",
    "FlowDefinition",
    "FlowInvalid",
    "IvrError",
    "IvrSession",
    "Problem",
    "QueueEntry",
    "SessionOver",
    "UnknownNode",
    "audio_key",
    "check_flow",
    "parse_flow",
    "validation_problems",
]
