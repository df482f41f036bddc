"""Property tests: built messages round-trip through the canonical serialiser; the SDP and
digest parsers raise only their own ValueError subclasses on arbitrary input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from voice.sip.digest import DigestChallenge, DigestCredentials, parse_auth_header
from voice.sip.errors import DigestError, NoCommonCodec, SdpError
from voice.sip.message import SipRequest, SipResponse, parse_message
from voice.sip.sdp import PCMU, SessionDescription, answer

PROPS = settings(max_examples=300, deadline=None, database=None)

token = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"),
    min_size=1,
    max_size=20,
)
header_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
    max_size=80,
).map(lambda v: v.strip(" \t\u00a0\u2000\u3000"))
MANDATORY = [
    ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKprop"),
    ("Max-Forwards", "70"),
    ("From", "<sip:a@example.com>;tag=1"),
    ("To", "<sip:b@example.com>"),
    ("Call-ID", "prop@host"),
]


@PROPS
@given(
    st.lists(st.tuples(token, header_value), max_size=25),
    st.binary(max_size=300),
    st.sampled_from(["INVITE", "OPTIONS", "BYE", "INFO", "X-CUSTOM"]),
)
def test_built_requests_round_trip(extra: list[tuple[str, str]], body: bytes, method: str) -> None:
    extra = [(n, v) for n, v in extra if n.lower() not in ("content-length", "l")]
    headers = [*MANDATORY, ("CSeq", f"7 {method}"), *extra]
    request = SipRequest.build(method, "sip:b@example.com;transport=udp", headers, body)
    data = bytes(request)
    parsed = parse_message(data)
    assert isinstance(parsed, SipRequest)
    assert parsed.method == method and parsed.body == body
    assert parsed.headers == request.headers
    assert bytes(parsed) == data


@PROPS
@given(st.integers(100, 699), header_value, st.binary(max_size=100))
def test_built_responses_round_trip(status: int, reason: str, body: bytes) -> None:
    headers = [*MANDATORY[:1], *MANDATORY[2:], ("CSeq", "1 INVITE")]
    response = SipResponse(
        headers=(*headers, ("Content-Length", str(len(body)))),
        body=body,
        status=status,
        reason=reason,
    )
    parsed = SipResponse.parse(bytes(response))
    assert (parsed.status, parsed.reason, parsed.body) == (status, reason, body)


sdp_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "v=0",
                "o=- 1 1 IN IP4 h",
                "s=-",
                "c=IN IP4 1.2.3.4",
                "t=0 0",
                "m=audio 4000 RTP/AVP 0 8 101",
                "m=audio 0 RTP/AVP 0",
                "m=video 5 RTP/AVP 96",
                "a=rtpmap:0 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=sendonly",
                "a=rtpmap:96 H264/x",
                "a=fmtp:101 0-15",
                "m=audio 4000 RTP/SAVP 0",
            ]
        ),
        st.text(max_size=30),
    ),
    max_size=14,
)


@PROPS
@given(sdp_lines, st.sampled_from(["\r\n", "\n"]))
def test_sdp_parser_and_answer_raise_only_their_errors(lines: list[str], eol: str) -> None:
    text = eol.join(lines) + eol
    try:
        sdp = SessionDescription.parse(text.encode("utf-8", "surrogatepass"))
    except SdpError:
        return
    assert SessionDescription.parse(bytes(sdp)) == sdp
    try:
        answer(sdp, [PCMU], address="10.0.0.5", port=40000)
    except (NoCommonCodec, SdpError):
        pass


auth_text = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "Digest ",
                'realm="r"',
                "nonce=n",
                ", ",
                '"',
                "\\",
                "=",
                "qop=auth",
                'username="u"',
                "uri=x",
                "response=ab",
                "nc=00000001",
                "cnonce=c",
                "algorithm=SHA-256",
                "algorithm=MD4",
            ]
        ),
        st.text(max_size=10),
    ),
    max_size=12,
).map("".join)


@PROPS
@given(auth_text)
def test_auth_header_parsers_raise_only_digest_error(text: str) -> None:
    for parse in (parse_auth_header, DigestChallenge.parse, DigestCredentials.parse):
        try:
            parse(text)
        except DigestError:
            pass
