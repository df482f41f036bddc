"""The agent's browser as an :class:`~voice.calls.endpoints.AgentEndpoint`.

``ring()`` pushes ``softphone_ring`` to the agent's desk (Socket.IO ``/desk``, room
``user:<id>``) and waits for :meth:`answer` (the browser's SDP offer, via
``POST /api/voice/softphone/legs/{id}/answer``), :meth:`decline` or the ring timeout. On answer
the endpoint's :attr:`media` is a :class:`~voice.webrtc.media.WebRtcMediaLeg` the call service
bridges to the caller like a desk phone's RTP leg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from hub.errors import HubError
from hub.security import new_id
from voice.calls.endpoints import RingResult
from voice.webrtc.errors import BadOffer, NotConnected, NotRinging
from voice.webrtc.media import PacedAudioTrack, WebRtcMediaLeg, agent_frame_source
from voice.webrtc.peer import BrowserPeer, offered_codec

if TYPE_CHECKING:
    from voice.calls.call import Call
    from voice.webrtc.service import SoftphoneService

__all__ = ["WebRtcEndpoint"]

log = logging.getLogger(__name__)


class WebRtcEndpoint:
    def __init__(self, softphones: SoftphoneService, agent_id: str, call: Call) -> None:
        self.id = new_id()
        self.softphones = softphones
        self.agent_id = agent_id
        self.call = call
        self.media: WebRtcMediaLeg | None = None
        self.peer: BrowserPeer | None = None
        self.state = "new"  # ringing | connected | ended
        self.on_hold = False
        self.expires_at: float | None = None
        self._result: asyncio.Future[RingResult] | None = None
        self._answering = False
        self.assigned = asyncio.Event()  # the ACD gave the agent the conversation (on answer)
        self.consulted_by: str | None = None  # rung for a colleague's consultation (voice/calls/consult.py)
        self.lost_at: float | None = None  # the browser's connection went away (hub clock)
        self._grace: asyncio.TimerHandle | None = None
        self._held_while_lost = False  # the caller got music on hold while the page reconnects

    def public(self) -> dict[str, Any]:
        c = self.call
        consult = c.consult if c.consult is not None and c.agent is self else None
        return {"leg_id": self.id, "call_id": c.id, "conversation_id": c.conversation_id,
                "caller": c.caller_number, "caller_name": c.caller_name, "callee": c.callee,
                "queue_id": c.queue_id, "state": self.state, "on_hold": self.on_hold,
                "muted": bool(self.media and self.media.muted), "expires_at": self.expires_at,
                "consult": consult.public() if consult is not None else None,
                "consulted_by": self.consulted_by, "call_ended": c.ended, "reconnecting": self.lost_at is not None}

    # -- AgentEndpoint ----------------------------------------------------------------------------

    async def ring(self, caller_number: str, caller_name: str | None, ring_s: float) -> RingResult:
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        self.state = "ringing"
        self.expires_at = self.softphones.now() + ring_s
        self.softphones.legs[self.id] = self
        await self.softphones.notify(self.agent_id, "softphone_ring", self.public())
        try:
            async with asyncio.timeout(ring_s):
                result = await asyncio.shield(self._result)
        except TimeoutError:
            result = RingResult.NO_ANSWER
            if not self._result.done():
                self._result.set_result(result)
        if result is not RingResult.ANSWERED:
            await self._finish("ring_" + str(result))
        return result

    async def cancel(self) -> None:
        if self._result is not None and not self._result.done():
            self._result.set_result(RingResult.CANCELLED)

    async def hangup(self) -> None:
        await self.cancel()
        await self._finish("hangup")

    # -- from the browser -------------------------------------------------------------------------

    async def answer(self, offer_sdp: str) -> str:
        if self._result is None or self._result.done() or self._answering:
            raise NotRinging("the call is no longer ringing on this softphone")
        codec = offered_codec(offer_sdp)
        self._answering = True
        sp = self.softphones
        media = WebRtcMediaLeg(sp.engine, f"webrtc-{self.agent_id}", codec)
        try:
            peer, answer = await BrowserPeer.answer(
                offer_sdp, send=PacedAudioTrack(agent_frame_source(media), codec),
                on_pcm=lambda pcm: media.receive_pcm(pcm, sp.engine.now()),
                ice_servers=sp.ice_servers)
        except BaseException:
            media.close()
            self._answering = False
            raise
        if self._result.done():  # timed out or cancelled while we negotiated
            await peer.close()
            media.close()
            raise NotRinging("the call stopped ringing while it was being answered")
        self.media, self.peer = media, peer
        peer.on_failed = self._connection_lost
        self.state = "connected"
        self._result.set_result(RingResult.ANSWERED)
        return answer

    def decline(self) -> None:
        if self._result is None or self._result.done():
            raise NotRinging("the call is no longer ringing on this softphone")
        self._result.set_result(RingResult.DECLINED)

    async def reconnect(self, offer_sdp: str) -> str:
        """A new browser connection for the connected call (the agent reloaded the page, or the
        network changed): it replaces the old one; the call, its bridge, recording, transcript and
        consultation go on. Returns the answer SDP."""
        media = self.media
        if self.state != "connected" or media is None or media.closed or self.call.ended:
            raise NotConnected("the call is not connected to your softphone")
        codec = offered_codec(offer_sdp)
        if codec != media.codec:
            raise BadOffer(f"the call's audio is {media.codec}: offer {media.codec} to reconnect")
        sp = self.softphones
        peer, answer = await BrowserPeer.answer(
            offer_sdp, send=PacedAudioTrack(agent_frame_source(media), codec),
            on_pcm=lambda pcm: media.receive_pcm(pcm, sp.engine.now()), ice_servers=sp.ice_servers)
        if self.state != "connected" or media.closed:  # hung up while we negotiated
            await peer.close()
            raise NotConnected("the call ended while reconnecting")
        old, self.peer = self.peer, peer
        peer.on_failed = self._connection_lost
        self.lost_at = None
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if old is not None:
            old.on_failed = None
            await old.close()
        if self._held_while_lost:
            self._held_while_lost = False
            with contextlib.suppress(HubError):  # a consultation started meanwhile keeps its hold
                await self.softphones.voice.service.hold(self.call, False)
        log.info("softphone of %s reconnected to call %s", self.agent_id, self.call.id)
        return answer

    def _connection_lost(self) -> None:
        """The browser went away: the call waits ``voice_webrtc_reconnect_s`` for the agent's
        page to reconnect (a reload), then is hung up as if the agent had."""
        if self.state != "connected" or self.lost_at is not None:
            return
        grace = self.softphones.reconnect_s
        self.lost_at = self.softphones.now()
        log.info("softphone of %s lost its connection to call %s; waiting %.0f s for it to reconnect",
                 self.agent_id, self.call.id, grace)
        call = self.call
        if call.agent is self and not self.on_hold and call.consult is None and not call.ended:
            # the caller hears music on hold, not silence, while the agent's page comes back
            self._held_while_lost = True
            self.softphones.spawn_hold(call, True)

        def give_up() -> None:
            self._grace = None
            if self.lost_at is not None and self.state == "connected":
                log.info("softphone of %s did not reconnect; hanging up call %s", self.agent_id, self.call.id)
                self.softphones.agent_hung_up(self)

        self._grace = asyncio.get_running_loop().call_later(grace, give_up)

    async def _finish(self, reason: str) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.softphones.legs.pop(self.id, None)
        peer, self.peer = self.peer, None
        if self.media is not None:
            self.media.close()
        if peer is not None:
            await peer.close()
        with contextlib.suppress(Exception):
            await self.softphones.notify(self.agent_id, "softphone_ended", {**self.public(), "reason": reason})
