"""Errors of the IVR package: one root, stable codes (part of the API, never renamed)."""

from __future__ import annotations

from voice.errors import VoiceError


class IvrError(VoiceError):
    code = "ivr_error"


class FlowInvalid(IvrError):
    """The flow has structural problems; ``details["problems"]`` lists every one."""

    code = "ivr_flow_invalid"


class UnknownNode(IvrError):
    code = "ivr_unknown_node"


class SessionOver(IvrError):
    code = "ivr_session_over"
