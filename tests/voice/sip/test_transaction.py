"""RFC 3261 transactions on a virtual clock: retransmissions absorbed, timers, matching."""

from __future__ import annotations

from tests.voice.sip.conftest import fixture_bytes
from voice.sip.message import SipRequest, SipResponse, parse_message
from voice.sip.transaction import (
    Deliver,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    Send,
    StartTimer,
    State,
    Terminated,
    TimedOut,
    TimerName,
    Timers,
    TransactionLayer,
    client_key,
    server_key,
)

PEER = ("192.168.1.10", 5061)


def invite() -> SipRequest:
    return SipRequest.parse(fixture_bytes("invite_sipp_uac.sip"))


def sent(actions: list) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send)]


def delivered(actions: list) -> list:
    return [a.message for a in actions if isinstance(a, Deliver)]


class Clock:
    """Drives a layer through virtual time, collecting everything it does."""

    def __init__(self, layer: TransactionLayer) -> None:
        self.layer = layer
        self.now = 0.0
        self.log: list[tuple[float, object]] = []

    def run_until(self, end: float) -> list:
        out = []
        while (deadline := self.layer.next_deadline()) is not None and deadline <= end:
            self.now = max(self.now, deadline)
            actions = self.layer.tick(self.now)
            out += actions
            self.log += [(self.now, a) for a in actions]
        self.now = end
        return out


# -- INVITE server --------------------------------------------------------------------------------


def test_retransmitted_invite_is_absorbed_while_ringing() -> None:
    layer = TransactionLayer()
    first = layer.receive(invite(), PEER, 0.0)
    assert [m.method for m in delivered(first)] == ["INVITE"]
    assert [SipResponse.parse(d).status for d in sent(first)] == [100]
    ringing = SipResponse.for_request(invite(), 180, to_tag="t1")
    assert sent(layer.send_response(ringing, 0.1)) == [bytes(ringing)]
    again = layer.receive(invite(), PEER, 0.5)
    assert delivered(again) == []
    assert sent(again) == [bytes(ringing)]


def test_retransmitted_invite_after_200_is_absorbed_and_200_resent() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.receive(invite(), PEER, 0.0)
    ok = SipResponse.for_request(invite(), 200, to_tag="t1")
    layer.send_response(ok, 0.2)
    again = layer.receive(invite(), PEER, 0.3)
    assert delivered(again) == [] and sent(again) == [bytes(ok)]
    # the 2xx is retransmitted at T1, 2T1, 4T1 ... capped at T2 until the ACK arrives
    out = clock.run_until(5.0)
    times = [t for t, a in clock.log if isinstance(a, Send)]
    assert [round(t - 0.2, 3) for t in times] == [0.5, 1.5, 3.5]
    assert all(a.message == ok for a in out if isinstance(a, Send))
    ack = SipRequest.parse(fixture_bytes("ack_2xx.sip"))
    got = layer.receive(ack, PEER, 5.0)
    assert delivered(got) == [ack] and got[0].key is None
    after = clock.run_until(60.0)
    assert [type(a) for a in after] == [Terminated]  # Timer L ends the Accepted state
    assert not any(isinstance(a, Send | TimedOut) for t, a in clock.log if t > 5.0)
    assert layer.transactions == {}


def test_unacknowledged_2xx_times_out_after_64_t1() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.receive(invite(), PEER, 0.0)
    layer.send_response(SipResponse.for_request(invite(), 200, to_tag="t"), 0.0)
    out = clock.run_until(40.0)
    timeouts = [a for a in out if isinstance(a, TimedOut)]
    assert [a.timer for a in timeouts] == [TimerName.RETRANSMIT_2XX]
    assert [t for t, a in clock.log if isinstance(a, TimedOut)] == [32.0]
    sends = [t for t, a in clock.log if isinstance(a, Send)]
    assert sends[:4] == [0.5, 1.5, 3.5, 7.5] and sends[4] - sends[3] == 4.0
    assert layer.transactions == {}


def test_error_response_retransmitted_with_timer_g_until_ack_for_non_2xx() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.receive(invite(), PEER, 0.0)
    busy = SipResponse.for_request(invite(), 486, to_tag="t1")
    layer.send_response(busy, 0.0)
    clock.run_until(2.0)
    assert [t for t, a in clock.log if isinstance(a, Send)] == [0.5, 1.5]
    # the ACK for a non-2xx carries the INVITE's branch: it matches the server transaction
    ack = parse_message(bytes(_ack_for_error(busy)))
    assert layer.receive(ack, PEER, 2.1) == []
    tx = layer.transactions[server_key(invite())]
    assert tx.state is State.CONFIRMED
    assert delivered(layer.receive(ack, PEER, 2.2)) == []  # retransmitted ACK absorbed too
    assert layer.receive(invite(), PEER, 2.3) == []  # Confirmed absorbs the INVITE silently
    out = clock.run_until(8.0)
    assert [type(a) for a in out] == [Terminated]
    assert [t for t, a in clock.log if isinstance(a, Terminated)] == [2.1 + 5.0]


def _ack_for_error(response: SipResponse) -> SipRequest:
    from voice.sip.transaction import build_ack_for_error

    return build_ack_for_error(invite(), response)


def test_timer_h_without_ack_reports_timeout() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.receive(invite(), PEER, 0.0)
    layer.send_response(SipResponse.for_request(invite(), 404, to_tag="x"), 0.0)
    out = clock.run_until(40.0)
    assert [type(a) for a in out if not isinstance(a, Send)] == [TimedOut, Terminated]
    sends = [t for t, a in clock.log if isinstance(a, Send)]
    assert max(b - a for a, b in zip(sends, sends[1:], strict=False)) == 4.0  # capped at T2


def test_cancel_matches_the_invite_server_transaction() -> None:
    layer = TransactionLayer()
    layer.receive(invite(), PEER, 0.0)
    cancel = SipRequest.parse(fixture_bytes("cancel.sip"))
    out = layer.receive(cancel, PEER, 1.0)
    [d] = [a for a in out if isinstance(a, Deliver)]
    assert d.message == cancel
    assert d.cancels == server_key(invite())
    assert d.key is not None and d.key != d.cancels and d.key.method == "CANCEL"
    layer.send_response(SipResponse.for_request(cancel, 200, to_tag="t"), 1.0)
    layer.send_response(SipResponse.for_request(invite(), 487, to_tag="t"), 1.0)
    assert layer.transactions[server_key(invite())].state is State.COMPLETED


def test_cancel_without_invite_has_no_target() -> None:
    layer = TransactionLayer()
    cancel = SipRequest.parse(fixture_bytes("cancel.sip"))
    [d] = [a for a in layer.receive(cancel, PEER, 0.0) if isinstance(a, Deliver)]
    assert d.cancels is None


def test_invite_server_alone_returns_timer_actions() -> None:
    req = invite()
    tx = InviteServerTransaction(server_key(req), req, PEER, Timers())
    assert [type(a) for a in tx.start(0.0)] == [Send, Deliver]
    actions = tx.send_response(SipResponse.for_request(req, 603, to_tag="t"), 1.0)
    assert StartTimer(TimerName.G, 1.5) in actions and StartTimer(TimerName.H, 33.0) in actions
    assert tx.on_timer(TimerName.H, 2.0) == []  # not due yet


def test_reliable_transport_uses_no_transaction_retransmission_timers() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.receive(invite(), PEER, 0.0, reliable=True)
    layer.send_response(SipResponse.for_request(invite(), 486, to_tag="t"), 0.0)
    assert layer.next_deadline() == 32.0  # Timer H only, no Timer G
    bye = SipRequest.parse(fixture_bytes("bye.sip"))
    layer.send_request(bye, PEER, 0.0, reliable=True)
    clock.run_until(31.0)
    assert not [a for _, a in clock.log if isinstance(a, Send)]  # no Timer E
    ack = parse_message(bytes(_ack_for_error(SipResponse.for_request(invite(), 486, to_tag="t"))))
    layer.receive(ack, PEER, 31.0, reliable=True)
    out = clock.run_until(31.0)
    assert [type(a) for a in out] == [Terminated]  # Timer I = 0 on a reliable transport


def test_2xx_is_retransmitted_even_on_reliable_transports() -> None:
    layer = TransactionLayer(reliable=True)
    layer.receive(invite(), PEER, 0.0)
    layer.send_response(SipResponse.for_request(invite(), 200, to_tag="t"), 0.0)
    assert layer.next_deadline() == 0.5  # 13.3.1.4 has no reliable-transport exception


# -- non-INVITE server ---------------------------------------------------------------------------


def test_non_invite_server_resends_final_and_ends_with_timer_j() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    bye = SipRequest.parse(fixture_bytes("bye.sip"))
    assert delivered(layer.receive(bye, PEER, 0.0)) == [bye]
    assert layer.receive(bye, PEER, 0.1) == []  # Trying: discarded
    ok = SipResponse.for_request(bye, 200)
    layer.send_response(ok, 0.2)
    assert sent(layer.receive(bye, PEER, 0.3)) == [bytes(ok)]
    out = clock.run_until(40.0)
    assert [t for t, a in clock.log if isinstance(a, Terminated)] == [0.2 + 32.0]
    assert isinstance(out[-1], Terminated)


# -- INVITE client -------------------------------------------------------------------------------


def test_timer_a_doubles_and_timer_b_times_out_with_408() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    key, first = layer.send_request(invite(), PEER, 0.0)
    assert sent(first) == [bytes(invite())]
    out = clock.run_until(40.0)
    sends = [t for t, a in clock.log if isinstance(a, Send)]
    assert sends == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # A doubles, uncapped for INVITE
    [timeout] = [a for a in out if isinstance(a, TimedOut)]
    assert timeout.key == key and timeout.timer is TimerName.B
    assert timeout.response is not None and timeout.response.status == 408
    assert [t for t, a in clock.log if isinstance(a, TimedOut)] == [32.0]
    assert layer.transactions == {}


def test_invite_client_generates_ack_for_non_2xx_and_absorbs_retransmissions() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    layer.send_request(invite(), PEER, 0.0)
    ringing = SipResponse.for_request(invite(), 180, to_tag="uas")
    assert delivered(layer.receive(ringing, PEER, 0.2)) == [ringing]
    clock.run_until(10.0)
    assert not [a for _, a in clock.log if isinstance(a, Send)]  # no retransmission once 1xx
    busy = SipResponse.for_request(invite(), 486, to_tag="uas")
    out = layer.receive(busy, PEER, 10.0)
    [ack_bytes] = sent(out)
    ack = SipRequest.parse(ack_bytes)
    assert ack.method == "ACK" and ack.uri == invite().uri
    assert ack.top_via.branch == invite().top_via.branch
    assert ack.to.tag == "uas" and ack.cseq.number == 1 and ack.cseq.method == "ACK"
    assert delivered(out) == [busy]
    again = layer.receive(busy, PEER, 10.5)
    assert sent(again) == [ack_bytes] and delivered(again) == []
    out = clock.run_until(50.0)
    assert [t for t, a in clock.log if isinstance(a, Terminated)] == [42.0]  # Timer D = 32 s


def test_invite_client_passes_2xx_retransmissions_to_tu() -> None:
    req = invite()
    tx = InviteClientTransaction(client_key(req), req, PEER)
    tx.start(0.0)
    ok = SipResponse.for_request(req, 200, to_tag="u")
    assert delivered(tx.on_response(ok, 0.1)) == [ok]
    assert tx.state is State.ACCEPTED
    assert delivered(tx.on_response(ok, 0.6)) == [ok]


def test_2xx_after_client_transaction_is_gone_still_reaches_tu() -> None:
    layer = TransactionLayer()
    ok = SipResponse.for_request(invite(), 200, to_tag="u")
    [d] = layer.receive(ok, PEER, 0.0)
    assert isinstance(d, Deliver) and d.key is None


# -- non-INVITE client ---------------------------------------------------------------------------


def test_timer_e_doubles_capped_at_t2_then_timer_f() -> None:
    layer = TransactionLayer()
    clock = Clock(layer)
    bye = SipRequest.parse(fixture_bytes("bye.sip"))
    layer.send_request(bye, PEER, 0.0)
    out = clock.run_until(40.0)
    sends = [t for t, a in clock.log if isinstance(a, Send)]
    gaps = [round(b - a, 3) for a, b in zip([0.0, *sends], sends, strict=False)]
    assert gaps[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert set(gaps[3:]) == {4.0}
    [timeout] = [a for a in out if isinstance(a, TimedOut)]
    assert timeout.timer is TimerName.F and timeout.response is not None
    assert timeout.response.status == 408


def test_non_invite_client_proceeding_retransmits_at_t2_and_timer_k() -> None:
    bye = SipRequest.parse(fixture_bytes("bye.sip"))
    tx = NonInviteClientTransaction(client_key(bye), bye, PEER)
    tx.start(0.0)
    tx.on_response(SipResponse.for_request(bye, 100), 0.1)
    actions = tx.on_timer(TimerName.E, 0.5)
    assert StartTimer(TimerName.E, 4.5) in actions
    ok = SipResponse.for_request(bye, 200)
    out = tx.on_response(ok, 1.0)
    assert delivered(out) == [ok] and StartTimer(TimerName.K, 6.0) in out
    assert tx.on_response(ok, 1.5) == []
    assert tx.on_timer(TimerName.E, 4.5) == []  # cancelled
    assert isinstance(tx.on_timer(TimerName.K, 6.0)[-1], Terminated)


def test_responses_match_by_branch_and_method() -> None:
    layer = TransactionLayer()
    layer.send_request(invite(), PEER, 0.0)
    cancel = SipRequest.parse(fixture_bytes("cancel.sip"))
    layer.send_request(cancel, PEER, 0.1)  # same branch, other method
    ok_cancel = SipResponse.for_request(cancel, 200, to_tag="u")
    [d] = [a for a in layer.receive(ok_cancel, PEER, 0.2) if isinstance(a, Deliver)]
    assert d.key == client_key(cancel) and d.key != client_key(invite())
    stray = SipResponse.for_request(invite(), 180).with_replaced(
        "Via", "SIP/2.0/UDP 192.168.1.10:5061;branch=z9hG4bKother"
    )
    assert layer.receive(stray, PEER, 0.3) == []


def test_retransmitted_ack_for_2xx_reaches_tu_once() -> None:
    layer = TransactionLayer()
    layer.receive(invite(), PEER, 0.0)
    layer.send_response(SipResponse.for_request(invite(), 200, to_tag="t1"), 0.1)
    ack = SipRequest.parse(fixture_bytes("ack_2xx.sip"))
    assert delivered(layer.receive(ack, PEER, 0.2)) == [ack]
    assert layer.receive(ack, PEER, 0.7) == []
    assert not [a for a in Clock(layer).run_until(40.0) if isinstance(a, Send | TimedOut)]


def test_ack_reusing_the_invite_branch_after_2xx_reaches_tu_on_tcp() -> None:
    layer = TransactionLayer(reliable=True)
    layer.receive(invite(), PEER, 0.0)
    layer.send_response(SipResponse.for_request(invite(), 200, to_tag="t1"), 0.1)
    ack = SipRequest.parse(fixture_bytes("ack_2xx.sip")).with_replaced("Via", str(invite().top_via))
    assert delivered(layer.receive(ack, PEER, 0.2)) == [ack]


def test_build_cancel_matches_the_captured_cancel_and_the_server_transaction() -> None:
    from voice.sip.transaction import build_cancel

    cancel = build_cancel(invite())
    captured = SipRequest.parse(fixture_bytes("cancel.sip"))
    assert cancel.uri == captured.uri and cancel.cseq == captured.cseq
    assert cancel.top_via.branch == invite().top_via.branch
    assert (cancel.from_, cancel.to, cancel.call_id) == (captured.from_, captured.to, captured.call_id)
    parse_message(bytes(cancel)).validate()
    layer = TransactionLayer()
    layer.receive(invite(), PEER, 0.0)
    [d] = [a for a in layer.receive(cancel, PEER, 0.1) if isinstance(a, Deliver)]
    assert d.cancels == server_key(invite())
