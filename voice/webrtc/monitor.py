"""Supervisor monitoring of one call from the browser (SUP-1): listen, whisper, barge.

The supervisor's browser gets the caller and the agent mixed (PCM subscriptions on both media
legs feed two :class:`~voice.webrtc.media.PcmBuffer`; a paced track mixes 20 ms per tick). In ``whisper``
mode the supervisor's microphone is mixed into what the agent hears; in ``barge`` also into what
the caller hears. Whisper and barge need the agent on the browser softphone (its leg is where
the mixing happens); listen works for desk phones too. The agent leg is re-read every tick, so
monitoring follows the call through a transfer to another agent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.security import new_id
from voice.media.leg import MediaLeg
from voice.webrtc.media import PcmBuffer, WebRtcMediaLeg, mix

if TYPE_CHECKING:
    from voice.calls.call import Call
    from voice.webrtc.peer import BrowserPeer

__all__ = ["MonitorMode", "MonitorSession"]


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


class MonitorSession:
    def __init__(self, supervisor_id: str, call: Call, mode: MonitorMode) -> None:
        self.id = new_id()
        self.supervisor_id = supervisor_id
        self.call = call
        self.mode = mode
        self.peer: BrowserPeer | None = None
        self.caller_audio = PcmBuffer()
        self.agent_audio = PcmBuffer()
        self.mic_to_agent = PcmBuffer()
        self.mic_to_caller = PcmBuffer()
        self._caller_media: MediaLeg | None = None
        self._agent_media: MediaLeg | None = None
        self._unsubscribe_caller: Callable[[], None] | None = None
        self._unsubscribe_agent: Callable[[], None] | None = None
        self.closed = False

    def public(self) -> dict[str, Any]:
        return {"monitor_id": self.id, "call_id": self.call.id, "conversation_id": self.call.conversation_id,
                "mode": str(self.mode), "agent_id": self.call.agent_id}

    # -- taps -------------------------------------------------------------------------------------

    def attach(self) -> None:
        media = self.call.caller.media
        self._unsubscribe_caller = media.subscribe_pcm(self.caller_audio.push)
        self._caller_media = media
        self._sync_agent()

    def _sync_agent(self) -> None:
        agent = self.call.agent
        media = agent.media if agent is not None else None
        if media is self._agent_media:
            return
        self._detach_agent()
        if media is not None and not media.closed:
            self._unsubscribe_agent = media.subscribe_pcm(self.agent_audio.push)
            if isinstance(media, WebRtcMediaLeg):
                media.to_agent.append(self.mic_to_agent)
                media.to_caller.append(self.mic_to_caller)
        self._agent_media = media

    def _detach_agent(self) -> None:
        media, self._agent_media = self._agent_media, None
        if media is None:
            return
        unsubscribe, self._unsubscribe_agent = self._unsubscribe_agent, None
        if unsubscribe is not None:
            unsubscribe()
        if isinstance(media, WebRtcMediaLeg):
            with contextlib.suppress(ValueError):
                media.to_agent.remove(self.mic_to_agent)
            with contextlib.suppress(ValueError):
                media.to_caller.remove(self.mic_to_caller)
        self.agent_audio.clear()

    @property
    def agent_on_softphone(self) -> bool:
        agent = self.call.agent
        return agent is not None and isinstance(agent.media, WebRtcMediaLeg)

    # -- audio ------------------------------------------------------------------------------------

    def frame(self) -> np.ndarray | None:
        """The next 20 ms the supervisor hears: caller and agent mixed (``None``: silence)."""
        if self.closed:
            return None
        self._sync_agent()
        parts = [p for p in (self.caller_audio.take(), self.agent_audio.take()) if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else mix(*parts)

    def on_mic(self, pcm: np.ndarray) -> None:
        """20 ms of the supervisor's microphone."""
        mode = self.mode
        if mode is MonitorMode.LISTEN or self.closed:
            return
        self.mic_to_agent.push(pcm)
        if mode is MonitorMode.BARGE:
            self.mic_to_caller.push(pcm)

    def set_mode(self, mode: MonitorMode) -> None:
        self.mode = mode
        if mode is not MonitorMode.BARGE:
            self.mic_to_caller.clear()
        if mode is MonitorMode.LISTEN:
            self.mic_to_agent.clear()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        unsubscribe, self._unsubscribe_caller = self._unsubscribe_caller, None
        if unsubscribe is not None:
            unsubscribe()
        self._detach_agent()
        peer, self.peer = self.peer, None
        if peer is not None:
            await peer.close()
