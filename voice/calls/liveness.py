"""Is the caller still there? A caller whose phone vanished without a BYE (network gone, a crashed
trunk) is hung up instead of waiting in the queue until ``max_wait``, or talking to an agent
into silence:

- **RTP inactivity**: no RTP from the caller's leg for ``voice_rtp_timeout_s`` while the call is
  answered (and the caller does not hold it: a held leg may be silent) ends the call
  (``end_reason`` ``rtp_timeout``).
- **SIP session timers** (RFC 4028): a caller that supports them (``Supported: timer``) or asks
  for them (``Session-Expires``) gets them. An interval below ``voice_session_min_se_s`` is
  answered ``422`` with our ``Min-SE``; the 2xx names the interval and the refresher (the caller's
  choice, else the caller). When the caller refreshes, each re-INVITE or UPDATE restarts the
  interval; when none comes the call ends with a BYE shortly before the interval runs out
  (RFC 4028 section 10: a third of it, at most 32 s before). When the hub refreshes (the caller
  asked ``refresher=uas`` or does not support timers itself) it sends an UPDATE (or a re-INVITE
  with the unchanged SDP when the caller does not allow UPDATE) halfway through; a refresh answered
  408/481, or not answered, ends the call (``end_reason`` ``session_expired``).

One sweep task checks every answered call (``voice/calls/service.py`` starts it). What this needs
of the call service is :class:`LivenessHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from voice.calls.call import Call, CallHost, CallState
from voice.calls.settings import VoiceSettings
from voice.sip.message import SipRequest

if TYPE_CHECKING:
    from voice.calls.sipcore import SipCore
    from voice.calls.table import CallTable
    from voice.media.engine import MediaEngine

__all__ = ["CallLiveness", "LivenessHost", "SessionTimer", "session_expires"]

log = logging.getLogger(__name__)

LIVE = (CallState.ANSWERED, CallState.QUEUED, CallState.BRIDGED)
REFRESH_WAIT_S = 10.0  # how long a refresh we send may take to be answered


class LivenessHost(CallHost, Protocol):
    """What the liveness checks need of the call service (``CallService`` is one)."""

    @property
    def table(self) -> CallTable: ...
    @property
    def core(self) -> SipCore: ...
    @property
    def engine(self) -> MediaEngine: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, call: Call | None = None) -> asyncio.Task[Any]: ...
    async def end(self, call: Call, reason: str, *, hangup_caller: bool | None = None) -> None: ...


@dataclass
class SessionTimer:
    """A negotiated session timer of the caller's dialog (RFC 4028)."""

    interval: int  # seconds
    refresher: str  # "uac": the caller refreshes; "uas": the hub does
    require: bool  # the caller supports timers: our 2xx carry "Require: timer"
    use_update: bool  # the caller allows UPDATE: our refreshes are UPDATEs, else re-INVITEs
    refreshed_at: float  # media engine clock
    refreshing: bool = False

    def headers(self) -> list[tuple[str, str]]:
        out = [("Session-Expires", f"{self.interval};refresher={self.refresher}"), ("Supported", "timer")]
        return [*out, ("Require", "timer")] if self.require else out

    def give_up_at(self) -> float:
        """When the call ends without a refresh: a third of the interval (at most 32 s) early."""
        return self.refreshed_at + self.interval - min(32.0, self.interval / 3)


def session_expires(request: SipRequest) -> tuple[int, str | None] | None:
    """The request's ``Session-Expires`` (compact ``x``): the interval and the refresher asked
    for (``uac``/``uas`` or None); None without the header or with a value that is no number."""
    value = request.get("Session-Expires")
    if value is None:
        return None
    delta, *params = (p.strip() for p in value.split(";"))
    refresher = None
    for p in params:
        key, _, val = p.partition("=")
        if key.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return (int(delta), refresher) if delta.isdigit() else None


def _min_se(request: SipRequest) -> int:
    """The request's ``Min-SE`` (the shortest interval the caller's side accepts), 0 without."""
    value = (request.get("Min-SE") or "").split(";")[0].strip()
    return int(value) if value.isdigit() else 0


def _supports_timer(request: SipRequest) -> bool:
    return any(v.strip().lower() == "timer" for v in request.get_all("Supported"))


class CallLiveness:
    def __init__(self, host: LivenessHost) -> None:
        self.host = host
        self.timers: dict[str, SessionTimer] = {}  # by call id
        self._quiet_from: dict[str, float] = {}  # by call id: when RTP silence starts to count
        self._task: asyncio.Task[None] | None = None

    @property
    def _settings(self) -> VoiceSettings:
        return self.host.settings.section(VoiceSettings)

    # -- session timers: negotiation -------------------------------------------------------------

    def too_small(self, request: SipRequest) -> int | None:
        """Our ``Min-SE`` when the request asks a shorter session interval (answer 422)."""
        se = session_expires(request)
        min_se = self._settings.session_min_se_s
        return min_se if se is not None and se[0] < min_se else None

    def negotiate(self, request: SipRequest, default: int | None = None) -> SessionTimer | None:
        """The session timer of a dialog an INVITE (or a refresh) sets up; None when the caller
        neither asks for nor supports timers."""
        se = session_expires(request)
        supported = _supports_timer(request)
        if se is None and not supported:
            return None
        st = self._settings
        asked = se[0] if se is not None else (default or st.session_expires_s)
        interval = max(asked, st.session_min_se_s, _min_se(request))
        refresher = (se[1] if se is not None and se[1] else "uac") if supported else "uas"
        allow = {m.strip().upper() for m in request.get_all("Allow")}
        return SessionTimer(interval, refresher, supported, "UPDATE" in allow, self.host.engine.now())

    def watch(self, call: Call, timer: SessionTimer | None) -> None:
        """The caller's dialog is up (our 2xx sent) with this timer (or none)."""
        if timer is not None:
            self.timers[call.id] = timer

    def refreshed(self, call: Call, request: SipRequest) -> list[tuple[str, str]] | int:
        """A re-INVITE or UPDATE from the caller (a session refresh, or a change): the headers of
        our 2xx, or our ``Min-SE`` when it asks a too short interval (answer 422)."""
        min_se = self.too_small(request)
        if min_se is not None:
            return min_se
        old = self.timers.get(call.id)
        timer = self.negotiate(request, old.interval if old is not None else None)
        if timer is None and old is not None:  # a refresh without the headers keeps the timer
            old.refreshed_at = self.host.engine.now()
            timer = old
        if timer is None:
            return []
        self.timers[call.id] = timer
        return timer.headers()

    # -- the sweep ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="voice-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _tick_s(self) -> float:
        timeout = self._settings.rtp_timeout_s
        shortest = min((t.interval for t in self.timers.values()), default=3600)
        return max(0.05, min(1.0, (timeout or 3600) / 8, shortest / 8))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s())
            try:
                self.sweep(self.host.engine.now())
            except Exception:  # noqa: BLE001 - the checks must keep running
                log.exception("voice liveness sweep failed")

    def sweep(self, now: float) -> None:
        calls = self.host.table.calls
        for cid in [c for c in (*self.timers, *self._quiet_from) if c not in calls]:
            self.timers.pop(cid, None)
            self._quiet_from.pop(cid, None)
        for call in list(calls.values()):
            if call.ended or call.state not in LIVE or call.caller.dialog is None or call.caller.ended:
                continue
            reason = self._rtp_silent(call, now) or self._timer_due(call, now)
            if reason is not None:
                log.info("call %s: caller gone (%s), hanging up", call.id, reason)
                self.host.spawn(self.host.end(call, reason, hangup_caller=True), f"call-{call.id}-{reason}", call)

    def _rtp_silent(self, call: Call, now: float) -> str | None:
        timeout = self._settings.rtp_timeout_s
        media = call.caller.media
        if timeout <= 0 or media is None or media.closed:
            return None
        if call.caller.held_by_remote:  # a holding caller may send nothing: count from the resume
            self._quiet_from[call.id] = now
            return None
        since = self._quiet_from.setdefault(call.id, now)
        last = max(media.last_rx or since, since)
        return "rtp_timeout" if now - last >= timeout else None

    def _timer_due(self, call: Call, now: float) -> str | None:
        timer = self.timers.get(call.id)
        if timer is None:
            return None
        if now >= timer.give_up_at():
            return "session_expired"
        if timer.refresher == "uas" and not timer.refreshing and now >= timer.refreshed_at + timer.interval / 2:
            timer.refreshing = True
            self.host.spawn(self._refresh(call, timer), f"call-{call.id}-session-refresh", call)
        return None

    async def _refresh(self, call: Call, timer: SessionTimer) -> None:
        """Refresh the session ourselves: UPDATE (no body) or a re-INVITE with the same SDP."""
        h = self.host
        leg = call.caller
        try:
            if leg.dialog is None or leg.ended or call.ended:
                return
            via = h.core.via(leg.transport)
            headers = [("Contact", str(leg.dialog.local_contact)), *timer.headers()[:2]]
            if timer.use_update or leg.local_sdp is None:
                request = leg.dialog.create_request("UPDATE", via, headers=headers)
            else:  # the unchanged session: same SDP, same version (RFC 4028 section 7.4)
                request = leg.dialog.create_request("INVITE", via, headers=headers, body=bytes(leg.local_sdp),
                                                    content_type="application/sdp")
            pending = h.core.request(request, leg.addr, leg.transport)
            try:
                async with asyncio.timeout(REFRESH_WAIT_S):
                    response = await asyncio.shield(pending.final)
            except TimeoutError:
                response = None
            if request.method == "INVITE" and response is not None and 200 <= response.status < 300:
                h.core.send_ack(leg.dialog.ack(via), leg.addr, leg.transport)
            if response is not None and 200 <= response.status < 300:
                timer.refreshed_at = h.engine.now()
            elif response is None or response.status in (408, 481):
                if not call.ended:
                    await h.end(call, "session_expired", hangup_caller=True)
        finally:
            timer.refreshing = False
