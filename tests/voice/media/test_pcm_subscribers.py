"""MediaLeg.subscribe_pcm: subscribers get each received packet's PCM in the order they subscribed,
each unsubscribe ends its own subscription (twice is harmless), and a subscriber that raises
neither stops the others nor the packet's way to the recorder and the peer leg."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pytest

from voice.audio import ulaw_decode
from voice.media.engine import MediaEngine
from voice.media.leg import MediaLeg
from voice.media.recorder import CallRecorder
from voice.media.rtp import RtpPacket

PHONE = ("127.0.0.1", 40000)
FRAME = bytes(i % 256 for i in range(160))  # 20 ms of µ-law


class PeerLeg(MediaLeg):
    """A socketless peer that keeps what the bridge relays to it."""

    def __init__(self, engine: MediaEngine) -> None:
        super().__init__(engine, "peer")
        self.relayed: list[bytes] = []

    def send_audio(self, payload: bytes, now: float) -> None:
        self.relayed.append(payload)


def receive(leg: MediaLeg, seq: int) -> None:
    leg.datagram_received(bytes(RtpPacket(0, seq, 160 * seq, 0x5151, FRAME)), PHONE)


def noting(calls: list[tuple[str, int]], name: str) -> Callable[[np.ndarray, int], None]:
    return lambda pcm, ts: calls.append((name, ts))


async def test_subscribers_are_called_in_order_until_each_unsubscribes() -> None:
    leg = MediaLeg(MediaEngine(), "caller")
    calls: list[tuple[str, int]] = []
    unsubscribe = {name: leg.subscribe_pcm(noting(calls, name)) for name in "abc"}
    receive(leg, 1)
    assert calls == [("a", 160), ("b", 160), ("c", 160)]

    calls.clear()
    unsubscribe["b"]()
    unsubscribe["b"]()  # twice: harmless, the others stay
    receive(leg, 2)
    assert calls == [("a", 320), ("c", 320)]

    calls.clear()
    unsubscribe["d"] = leg.subscribe_pcm(noting(calls, "d"))  # joins at the end
    unsubscribe["a"]()
    receive(leg, 3)
    assert calls == [("c", 480), ("d", 480)]


async def test_the_same_callback_twice_is_two_subscriptions() -> None:
    leg = MediaLeg(MediaEngine(), "caller")
    calls: list[tuple[str, int]] = []
    cb = noting(calls, "x")
    first, second = leg.subscribe_pcm(cb), leg.subscribe_pcm(cb)
    receive(leg, 1)
    assert len(calls) == 2
    first()
    first()
    receive(leg, 2)
    assert calls[2:] == [("x", 320)]
    second()
    receive(leg, 3)
    assert len(calls) == 3


async def test_subscribers_get_the_decoded_payload_and_its_rtp_timestamp() -> None:
    leg = MediaLeg(MediaEngine(), "caller")
    got: list[tuple[bytes, int]] = []
    leg.subscribe_pcm(lambda pcm, ts: got.append((pcm.tobytes(), ts)))
    receive(leg, 7)
    assert got == [(ulaw_decode(FRAME), 7 * 160)]


async def test_a_failing_subscriber_stops_neither_the_others_nor_the_relay_nor_the_recorder(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = MediaEngine()
    leg, peer = MediaLeg(engine, "caller"), PeerLeg(engine)
    leg.bridge(peer)
    leg.recorder = CallRecorder(engine.now())
    calls: list[tuple[str, int]] = []

    def broken(pcm: np.ndarray, ts: int) -> None:
        raise RuntimeError("subscriber bug")

    leg.subscribe_pcm(noting(calls, "before"))
    leg.subscribe_pcm(broken)
    leg.subscribe_pcm(noting(calls, "after"))
    with caplog.at_level(logging.ERROR, logger="voice.media.leg"):
        receive(leg, 1)
        receive(leg, 2)
    assert calls == [("before", 160), ("after", 160), ("before", 320), ("after", 320)]
    assert peer.relayed == [FRAME, FRAME]
    assert leg.rx_packets == 2
    leg.recorder.stop(engine.now() + 0.04)
    assert leg.recorder.channel_pcm(0).any()  # the caller channel got the audio
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError, RuntimeError]


async def test_unsubscribing_while_being_called_takes_effect_from_the_next_packet() -> None:
    leg = MediaLeg(MediaEngine(), "caller")
    calls: list[tuple[str, int]] = []

    def once(pcm: np.ndarray, ts: int) -> None:
        calls.append(("once", ts))
        stop_once()
        stop_other()  # the packet being delivered still reaches it

    stop_once = leg.subscribe_pcm(once)
    stop_other = leg.subscribe_pcm(noting(calls, "other"))
    receive(leg, 1)
    receive(leg, 2)
    assert calls == [("once", 160), ("other", 160)]


async def test_closing_the_leg_ends_every_subscription_and_a_late_unsubscribe_is_harmless() -> None:
    leg = MediaLeg(MediaEngine(), "caller")
    calls: list[tuple[str, int]] = []
    unsubscribe = leg.subscribe_pcm(noting(calls, "a"))
    leg.close()
    leg.datagram_received(bytes(RtpPacket(0, 1, 160, 1, FRAME)), PHONE)
    assert calls == []
    unsubscribe()
