"""Dialogs: creation from INVITE/2xx on both sides, in-dialog requests, routing, CSeq order."""

from __future__ import annotations

import pytest

from tests.voice.sip.conftest import fixture_bytes
from voice.sip.dialog import Dialog
from voice.sip.errors import DialogError
from voice.sip.message import SipRequest, SipResponse, Via, parse_message

UAS_VIA = Via("UDP", "10.0.0.5", 5060)
UAC_VIA = Via("UDP", "192.168.1.10", 5061)


def invite() -> SipRequest:
    return SipRequest.parse(fixture_bytes("invite_sipp_uac.sip"))


def ok() -> SipResponse:
    return SipResponse.parse(fixture_bytes("response_200_ok_sdp.sip"))


def test_uac_dialog_from_fixture_matches_the_captured_ack_and_bye() -> None:
    d = Dialog.for_uac(invite(), ok())
    assert d.id.call_id == "1-4242@192.168.1.10"
    assert (d.local_tag, d.remote_tag) == ("4242SIPpTag001", "as6c7e1f2a")
    assert [str(r) for r in d.route_set] == [
        "<sip:10.0.0.2;lr;ftag=4242SIPpTag001>",
        "<sip:10.0.0.1;lr>",
    ]
    ack = d.ack(Via("UDP", "192.168.1.10", 5061, {"branch": "z9hG4bK-4242-1-5"}))
    captured = SipRequest.parse(fixture_bytes("ack_2xx.sip"))
    assert ack.uri == captured.uri
    assert ack.get_all("Route") == captured.get_all("Route")
    assert (ack.cseq, ack.call_id) == (captured.cseq, captured.call_id)
    assert (ack.from_.tag, ack.to.tag) == (captured.from_.tag, captured.to.tag)
    bye = d.bye(UAC_VIA)
    captured_bye = SipRequest.parse(fixture_bytes("bye.sip"))
    assert bye.cseq == captured_bye.cseq
    assert bye.get_all("Route") == captured_bye.get_all("Route")
    assert bye.top_via.branch and bye.top_via.branch.startswith("z9hG4bK")
    parse_message(bytes(bye)).validate()


def test_uas_dialog_and_requests_towards_the_caller() -> None:
    inv = invite().with_header("Record-Route", "<sip:10.0.0.1;lr>")
    resp = SipResponse.for_request(inv, 200, to_tag="hubtag", headers=[("Contact", "<sip:hub@10.0.0.5:5060>")])
    d = Dialog.for_uas(inv, resp)
    assert (d.local_tag, d.remote_tag) == ("hubtag", "4242SIPpTag001")
    assert str(d.remote_target) == "sip:sipp@192.168.1.10:5061"
    assert d.remote_seq == 1 and d.local_seq == 0
    bye = d.bye(UAS_VIA)
    assert bye.uri == "sip:sipp@192.168.1.10:5061"
    assert bye.get_all("Route") == ["<sip:10.0.0.1;lr>"]
    assert bye.from_.tag == "hubtag" and bye.to.tag == "4242SIPpTag001"
    assert bye.cseq.number == 1 and bye.cseq.method == "BYE"
    reinv = d.reinvite(UAS_VIA, b"v=0\r\n")
    assert reinv.cseq.number == 2 and reinv.get("Content-Type") == "application/sdp"
    assert reinv.contacts[0].uri is not None and reinv.contacts[0].uri.user == "hub"
    info = d.info(UAS_VIA, b"Signal=5\r\nDuration=160\r\n")
    assert info.cseq.number == 3 and info.body.startswith(b"Signal=5")
    assert d.ack(UAS_VIA).cseq.number == 2  # ACK for the re-INVITE's 2xx
    for req in (bye, reinv, info):
        parse_message(bytes(req)).validate()


def test_refer_blind_and_attended() -> None:
    d = Dialog.for_uac(invite(), ok())
    blind = d.refer(UAC_VIA, "<sip:agent7@10.0.0.5>")
    assert blind.get("Refer-To") == "<sip:agent7@10.0.0.5>"
    assert blind.get("Referred-By") == '"sipp" <sip:sipp@192.168.1.10:5061>'
    attended = d.refer(UAC_VIA, "<sip:agent7@10.0.0.5>", replaces="abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2")
    assert attended.get("Refer-To") == ("<sip:agent7@10.0.0.5?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>")
    parse_message(bytes(attended)).validate()


def test_strict_route_puts_the_first_route_in_the_request_uri() -> None:
    resp = ok().without("Record-Route").with_header("Record-Route", "<sip:strict.example.com>")
    d = Dialog.for_uac(invite(), resp)
    bye = d.bye(UAC_VIA)
    assert bye.uri == "sip:strict.example.com"
    assert bye.get_all("Route") == ["<sip:service@10.0.0.5:5060>"]


def test_cseq_order_and_target_refresh() -> None:
    d = Dialog.for_uac(invite(), ok())
    bye = SipRequest.parse(fixture_bytes("bye.sip"))
    # a request from the remote side: swap tags as the peer would send them
    from_peer = bye.with_replaced("From", str(ok().to)).with_replaced("To", str(invite().from_))
    assert d.matches(from_peer)
    d.receive_request(from_peer)
    assert d.remote_seq == 2
    with pytest.raises(DialogError, match="CSeq 2 is not above"):
        d.receive_request(from_peer)
    bye_target = d.remote_target
    d.receive_request(from_peer.with_replaced("CSeq", "3 BYE"))
    assert d.remote_target == bye_target  # BYE is not a target refresh
    refresh = (
        from_peer.without("Contact").with_replaced("CSeq", "4 INVITE").with_header("Contact", "<sip:moved@10.0.0.99>")
    )
    refresh = SipRequest(headers=refresh.headers, body=b"", method="INVITE", uri=refresh.uri)
    d.receive_request(refresh)
    assert str(d.remote_target) == "sip:moved@10.0.0.99"
    d.receive_request(SipRequest(headers=refresh.headers, method="ACK", uri=refresh.uri))
    assert d.remote_seq == 4  # ACK carries the INVITE's number and is not checked


def test_dialog_needs_tags_and_contact() -> None:
    with pytest.raises(DialogError):
        Dialog.for_uac(invite(), ok().with_replaced("To", "<sip:service@10.0.0.5:5060>"))
    with pytest.raises(DialogError, match="Contact"):
        Dialog.for_uac(invite(), ok().without("Contact"))
    d = Dialog.for_uac(invite(), ok())
    with pytest.raises(ValueError):
        d.create_request("ACK", UAC_VIA)
