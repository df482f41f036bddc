"""The pure parts of the caller liveness checks (voice/calls/liveness.py): RFC 4028 session timer
negotiation on given requests, when a missed refresh ends the call, and RTP silence counted from
the answer or the end of a hold."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hub.errors import ConfigError
from voice.calls.call import CallState
from voice.calls.liveness import CallLiveness, SessionTimer, session_expires
from voice.calls.settings import VoiceSettings
from voice.sip.message import SipRequest

INVITE = ("INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKt1\r\n"
          "From: <sip:caller@127.0.0.1>;tag=a\r\nTo: <sip:5000@127.0.0.1>\r\nCall-ID: st-1\r\n"
          "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")


def invite(*headers: str) -> SipRequest:
    return SipRequest.parse(INVITE.format(extra="".join(h + "\r\n" for h in headers)).encode())


def liveness(now: float = 100.0, **settings: Any) -> tuple[CallLiveness, SimpleNamespace]:
    st = VoiceSettings(**settings)
    clock = SimpleNamespace(t=now)
    host = SimpleNamespace(settings=SimpleNamespace(section=lambda _cls: st),
                           engine=SimpleNamespace(now=lambda: clock.t), table=SimpleNamespace(calls={}),
                           ended=[], spawn=lambda coro, name, call=None: coro.close())
    return CallLiveness(host), clock


def test_session_timers_are_negotiated_as_rfc_4028_says() -> None:
    live, _ = liveness()
    assert live.negotiate(invite()) is None  # neither asked for nor supported: no timer
    assert live.too_small(invite()) is None
    # supported but no interval asked: ours, the caller refreshes, our 2xx requires timer
    t = live.negotiate(invite("Supported: 100rel, timer", "Allow: INVITE, ACK, BYE, UPDATE"))
    assert t is not None and (t.interval, t.refresher, t.require, t.use_update) == (1800, "uac", True, True)
    assert t.headers() == [("Session-Expires", "1800;refresher=uac"), ("Supported", "timer"), ("Require", "timer")]
    # asked by a proxy for a caller that does not support timers (compact form): the hub refreshes
    t = live.negotiate(invite("x: 600;refresher=uac"))
    assert t is not None and (t.interval, t.refresher, t.require, t.use_update) == (600, "uas", False, False)
    assert ("Require", "timer") not in t.headers()
    # the caller's choice of refresher is kept; its Min-SE raises the interval
    t = live.negotiate(invite("k: timer", "Session-Expires: 120;refresher=uas", "Min-SE: 150"))
    assert t is not None and (t.interval, t.refresher) == (150, "uas")
    # below our Min-SE: 422 with it
    assert live.too_small(invite("Supported: timer", "Session-Expires: 60")) == 90
    assert session_expires(invite("Session-Expires: soon")) is None


def test_a_missed_refresh_ends_the_call_a_third_of_the_interval_or_32_s_early() -> None:
    assert SessionTimer(90, "uac", True, False, 0.0).give_up_at() == 60.0
    assert SessionTimer(1800, "uac", True, False, 0.0).give_up_at() == 1768.0


def call(held: bool = False, last_rx: float | None = None) -> Any:
    media = SimpleNamespace(closed=False, last_rx=last_rx)
    caller = SimpleNamespace(media=media, held_by_remote=held, dialog=object(), ended=False)
    return SimpleNamespace(id="c1", state=CallState.QUEUED, ended=False, caller=caller)


def test_rtp_silence_counts_from_the_answer_and_not_while_the_caller_holds() -> None:
    live, _ = liveness(rtp_timeout_s=30.0)
    c = call()
    assert live._rtp_silent(c, 100.0) is None  # first seen: silence counts from now
    assert live._rtp_silent(c, 129.0) is None
    assert live._rtp_silent(c, 130.0) == "rtp_timeout"
    c.caller.media.last_rx = 125.0
    assert live._rtp_silent(c, 150.0) is None and live._rtp_silent(c, 155.0) == "rtp_timeout"
    c.caller.held_by_remote = True  # on hold for a minute: not silence
    assert live._rtp_silent(c, 215.0) is None
    c.caller.held_by_remote = False
    assert live._rtp_silent(c, 240.0) is None and live._rtp_silent(c, 245.0) == "rtp_timeout"
    off, _ = liveness(rtp_timeout_s=0)
    assert off._rtp_silent(call(), 10_000.0) is None


def test_the_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="voice_rtp_timeout_s"):
        VoiceSettings(rtp_timeout_s=-1).validate()
    with pytest.raises(ConfigError, match="voice_session_min_se_s"):
        VoiceSettings(session_min_se_s=2000).validate()
