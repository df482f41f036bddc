"""Parser/serialiser: captured fixtures round-trip byte for byte; header helpers; framing."""

from __future__ import annotations

import pytest

from tests.voice.sip.conftest import FIXTURES, fixture_bytes
from voice.sip.message import (
    CSeq,
    NameAddr,
    SipParseError,
    SipRequest,
    SipResponse,
    SipUri,
    StreamParser,
    Via,
    parse_message,
    parse_stream,
)

GOOD = sorted(p.name for p in FIXTURES.glob("*.sip"))


def test_fixture_corpus_is_present_and_uses_crlf() -> None:
    assert len(GOOD) >= 9
    for name in GOOD:
        data = fixture_bytes(name)
        head = data.split(b"\r\n\r\n", 1)[0]
        assert b"\n" not in head.replace(b"\r\n", b""), name


@pytest.mark.parametrize("name", GOOD)
def test_fixture_round_trips_byte_for_byte(name: str) -> None:
    data = fixture_bytes(name)
    msg = parse_message(data)
    assert bytes(msg) == data
    assert bytes(parse_message(bytes(msg))) == data


@pytest.mark.parametrize("name", [n for n in GOOD if n != "compact_multi_via.sip"])
def test_canonical_serialiser_reproduces_well_formatted_fixtures(name: str) -> None:
    data = fixture_bytes(name)
    assert parse_message(data).serialise() == data


def test_invite_fields(invite_bytes: bytes) -> None:
    msg = SipRequest.parse(invite_bytes)
    assert msg.method == "INVITE"
    assert msg.request_uri == SipUri("sip", "10.0.0.5", "service", port=5060)
    assert msg.call_id == "1-4242@192.168.1.10"
    assert msg.cseq == CSeq(1, "INVITE")
    assert msg.top_via.branch == "z9hG4bK-4242-1-0"
    assert msg.from_.tag == "4242SIPpTag001"
    assert msg.from_.display_name == "sipp"
    assert msg.to.tag is None
    assert msg.get("content-type") == "application/sdp"
    assert msg.body.startswith(b"v=0\r\n")
    assert msg.content_length == len(msg.body)
    assert "INVITE sip:service@10.0.0.5:5060" in repr(msg)


def test_compact_forms_are_looked_up_but_kept_as_received() -> None:
    data = fixture_bytes("compact_multi_via.sip")
    msg = parse_message(data)
    assert msg.get("Call-ID") == "a84b4c76e66710@pc33.example.net"
    assert msg.get("CALL-ID") == msg.get("i")
    assert msg.headers[0][0] == "v"
    vias = msg.vias
    assert [v.host for v in vias] == ["proxy2.example.net", "proxy1.example.net", "[2001:db8::9]"]
    assert vias[0].received == "203.0.113.9"
    assert vias[2].rport == 5062 and vias[2].port == 5062 and vias[1].transport == "TCP"
    assert msg.from_.display_name == 'Carol "C" Smith'
    assert [c.uri.host for c in msg.contacts if c.uri] == ["pc33.example.net", "198.51.100.7"]
    assert msg.contacts[1].params == {"q": "0.5"}
    assert msg.get_all("Supported") == ["timer", "replaces"]
    assert msg.get("Subject") == "Keep-alive, folded subject line"
    assert bytes(msg) == data


def test_repeated_headers_keep_order() -> None:
    msg = parse_message(fixture_bytes("response_200_ok_sdp.sip"))
    assert isinstance(msg, SipResponse)
    assert msg.get_all("record-route") == [
        "<sip:10.0.0.1;lr>",
        "<sip:10.0.0.2;lr;ftag=4242SIPpTag001>",
    ]
    assert msg.get_all("Allow")[:3] == ["INVITE", "ACK", "CANCEL"]


def test_extra_bytes_after_content_length_are_ignored_on_udp(invite_bytes: bytes) -> None:
    msg = parse_message(invite_bytes + b"garbage after the body")
    assert bytes(msg) == invite_bytes


def test_short_body_raises_precise_value_error(invite_bytes: bytes) -> None:
    with pytest.raises(ValueError, match=r"Content-Length is \d+ but only \d+ bytes follow"):
        parse_message(invite_bytes[:-10])


def test_stream_parser_frames_messages_and_keeps_the_remainder(invite_bytes: bytes) -> None:
    bye = fixture_bytes("bye.sip")
    stream = b"\r\n\r\n" + invite_bytes + bye + bye[:50]
    parser = StreamParser()
    out = []
    for i in range(0, len(stream), 37):
        out += parser.feed(stream[i : i + 37])
    assert [m.method for m in out if isinstance(m, SipRequest)] == ["INVITE", "BYE"]
    assert bytes(out[0]) == invite_bytes
    assert parser.remainder == bye[:50]
    msg, rest = parse_stream(invite_bytes + b"INVITE partial")
    assert msg is not None and bytes(msg) == invite_bytes and rest == b"INVITE partial"
    assert parse_stream(invite_bytes[:-5]) == (None, invite_bytes[:-5])


def test_stream_requires_content_length() -> None:
    data = fixture_bytes("bye.sip").replace(b"Content-Length: 0\r\n", b"")
    assert bytes(parse_message(data)) == data  # fine on UDP
    with pytest.raises(SipParseError, match="no Content-Length"):
        StreamParser().feed(data)


def test_validate_names_the_missing_header() -> None:
    msg = parse_message(fixture_bytes("bye.sip")).without("Call-ID")
    with pytest.raises(SipParseError, match="missing the Call-ID header") as err:
        msg.validate()
    assert err.value.details == {"header": "Call-ID"}
    assert err.value.code == "sip_parse_error" and err.value.status == 400
    unchecked = parse_message(fixture_bytes("malformed/missing_via.sip"), validate=False)
    with pytest.raises(SipParseError, match="Via"):
        unchecked.validate()


def test_responses_may_lack_max_forwards() -> None:
    parse_message(fixture_bytes("response_180_ringing.sip")).validate()


def test_modified_message_is_serialised_canonically(invite_bytes: bytes) -> None:
    msg = SipRequest.parse(invite_bytes)
    changed = msg.with_header("Via", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKproxy", first=True)
    again = SipRequest.parse(bytes(changed))
    assert again.top_via.host == "10.0.0.9"
    assert len(again.vias) == 2
    assert again.body == msg.body
    rebodied = msg.with_body(b"hello", "text/plain")
    parsed = SipRequest.parse(bytes(rebodied))
    assert parsed.body == b"hello" and parsed.get("Content-Type") == "text/plain"


def test_response_for_request_copies_the_right_headers(invite_bytes: bytes) -> None:
    invite = SipRequest.parse(invite_bytes).with_header("Record-Route", "<sip:p1;lr>")
    ringing = SipResponse.for_request(invite, 180, to_tag="abc")
    parsed = SipResponse.parse(bytes(ringing))
    assert parsed.reason == "Ringing"
    assert parsed.to.tag == "abc"
    assert parsed.get_all("Record-Route") == ["<sip:p1;lr>"]
    assert parsed.get("Contact") is None and parsed.body == b""
    trying = SipResponse.for_request(invite, 100, to_tag="abc")
    assert trying.to.tag is None and trying.get("Record-Route") is None


def test_request_parse_rejects_a_response() -> None:
    with pytest.raises(SipParseError, match="expected a SIP request"):
        SipRequest.parse(fixture_bytes("response_100_trying.sip"))


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sips:alice:secret@atlanta.com:5061;transport=tcp;lr",
        "sip:[2001:db8::1]:5070;maddr=239.255.255.1",
        "sip:bob@biloxi.com?subject=project%20x&priority=urgent",
        "tel:+1-201-555-0123;phone-context=example.com",
        "sip:+4930123@gw.example.com;user=phone",
    ],
)
def test_uri_round_trips(text: str) -> None:
    assert str(SipUri.parse(text)) == text


def test_uri_parts() -> None:
    uri = SipUri.parse("sips:alice:secret@atlanta.com:5061;transport=TCP;lr?Replaces=a%40b")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "secret",
        "atlanta.com",
        5061,
    )
    assert uri.param("TRANSPORT") == "TCP" and uri.loose_route
    assert uri.headers == {"Replaces": "a%40b"}
    tel = SipUri.parse("tel:+15551234;ext=7")
    assert tel.user == "+15551234" and tel.params == {"ext": "7"}


@pytest.mark.parametrize("text", ["http://x", "sip:", "sip:@host", "sip:host:0", "sip:h:99999", "sip:[::1", "sip:a b"])
def test_bad_uris(text: str) -> None:
    with pytest.raises(SipParseError):
        SipUri.parse(text)


def test_name_addr_forms() -> None:
    a = NameAddr.parse('"Alice \\"A\\"" <sip:alice@a.com;transport=udp>;tag=9fxced76sl;x')
    assert a.display_name == 'Alice "A"' and a.tag == "9fxced76sl"
    assert a.uri is not None and a.uri.param("transport") == "udp"
    assert a.params == {"tag": "9fxced76sl", "x": None}
    assert NameAddr.parse(str(a)) == a
    bare = NameAddr.parse("sip:bob@b.com;tag=1")
    assert bare.tag == "1" and bare.uri is not None and bare.uri.params == {}
    token = NameAddr.parse("Bob <sip:bob@b.com>")
    assert token.display_name == "Bob"
    assert NameAddr.parse("*").wildcard
    assert str(token.with_tag("x")) == '"Bob" <sip:bob@b.com>;tag=x'


def test_via_and_cseq() -> None:
    via = Via.parse("SIP/2.0/udp 10.0.0.1:5062;branch=z9hG4bK776;rport;received=1.2.3.4")
    assert via.transport == "UDP" and via.branch == "z9hG4bK776" and via.rport is True
    assert via.received == "1.2.3.4" and via.sent_by == ("10.0.0.1", 5062)
    assert Via.parse("SIP/2.0/TLS h;branch=x").sent_by == ("h", 5061)
    assert str(Via.parse(str(via))) == str(via)
    assert CSeq.parse("  42   BYE ") == CSeq(42, "BYE")
    with pytest.raises(SipParseError):
        CSeq.parse("4294967296 INVITE")
    with pytest.raises(SipParseError):
        Via.parse("SIP/2.0/UDP")


def test_via_sent_protocol_may_contain_whitespace() -> None:
    via = Via.parse("SIP / 2.0 / UDP  192.0.2.2:5090 ;branch=z9hG4bKx")
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "192.0.2.2", 5090, "z9hG4bKx")


def test_stream_parser_error_leaves_the_bad_message_in_the_remainder() -> None:
    bad = fixture_bytes("malformed/missing_max_forwards.sip")
    parser = StreamParser()
    with pytest.raises(SipParseError, match="Max-Forwards"):
        parser.feed(b"\r\n" + bad)
    assert parser.remainder == bad
