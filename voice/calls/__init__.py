"""The voice call service: a B2BUA on ``voice/sip`` and ``voice/media`` that turns calls into
conversations routed by the hub's ACD (see docs/ARCHITECTURE.md, "How a call flows through")."""

from voice.calls.component import VoiceComponent

__all__ = ["VoiceComponent"]
