"""Malformed input never escapes the parser as anything but SipParseError (a ValueError)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.voice.sip.conftest import FIXTURES, fixture_bytes
from voice.sip.message import (
    MAX_HEADER_LINE,
    MAX_HEADERS,
    MAX_MESSAGE_SIZE,
    SipParseError,
    StreamParser,
    parse_message,
)

MALFORMED = sorted(p.name for p in (FIXTURES / "malformed").glob("*.sip"))
GOOD = sorted(p.name for p in FIXTURES.glob("*.sip"))
FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_corpus_raises_sip_parse_error(name: str) -> None:
    data = fixture_bytes(f"malformed/{name}")
    with pytest.raises(SipParseError) as err:
        parse_message(data)
    assert str(err.value)
    assert err.value.status in (400, 416)


def _bye_with(extra: bytes) -> bytes:
    bye = fixture_bytes("bye.sip")
    head, _, body = bye.partition(b"\r\n\r\n")
    return head + b"\r\n" + extra + b"\r\n\r\n" + body


def test_header_line_over_limit() -> None:
    data = _bye_with(b"X-Big: " + b"a" * MAX_HEADER_LINE)
    with pytest.raises(SipParseError, match="over the 8192 limit"):
        parse_message(data)


def test_folded_header_over_limit() -> None:
    fold = b"\r\n ".join([b"a" * 4000] * 3)
    with pytest.raises(SipParseError, match="folded header X-Big"):
        parse_message(_bye_with(b"X-Big: " + fold))


def test_too_many_headers() -> None:
    data = _bye_with(b"\r\n".join(b"X-H%d: v" % i for i in range(MAX_HEADERS)))
    with pytest.raises(SipParseError, match="more than 200 headers"):
        parse_message(data)


def test_message_over_size_limit() -> None:
    data = fixture_bytes("bye.sip") + b"x" * MAX_MESSAGE_SIZE
    with pytest.raises(SipParseError, match="over the 65536 limit"):
        parse_message(data)
    with pytest.raises(SipParseError, match="limit"):
        StreamParser().feed(b"OPTIONS sip:a SIP/2.0\r\n" + b"X: y\r\n" * 12000)


def test_stream_body_over_limit_is_refused_before_buffering() -> None:
    data = fixture_bytes("bye.sip").replace(b"Content-Length: 0", b"Content-Length: 999999")
    with pytest.raises(SipParseError):
        StreamParser().feed(data)


def test_continuation_before_first_header() -> None:
    with pytest.raises(SipParseError, match="continuation"):
        parse_message(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n")


def test_non_bytes_input_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_message("INVITE")  # type: ignore[arg-type]


def _parse_ok_or_value_error(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    except ValueError as err:  # pragma: no cover - would be a bug: must be SipParseError
        raise AssertionError(f"plain ValueError escaped: {err!r}") from err
    # anything accepted must serialise back to what was consumed and re-parse identically
    again = parse_message(bytes(msg))
    assert bytes(again) == bytes(msg)
    assert again.headers == msg.headers and again.body == msg.body


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    _parse_ok_or_value_error(data)


@FUZZ
@given(
    st.sampled_from(GOOD),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2000),
            st.binary(min_size=0, max_size=8),
            st.integers(min_value=0, max_value=8),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_fixtures_only_raise_sip_parse_error(name: str, edits: list) -> None:
    data = bytearray(fixture_bytes(name))
    for pos, insert, delete in edits:
        pos %= len(data) + 1
        data[pos : pos + delete] = insert
    _parse_ok_or_value_error(bytes(data))
    try:
        StreamParser().feed(bytes(data))
    except SipParseError:
        pass


_TOKENS = [
    b"\r\n",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b"=",
    b"@",
    b" ",
    b"\t",
    b"[",
    b"]",
    b"sip:",
    b"SIP/2.0",
    b"Via",
    b"l",
    b"0",
    b"9999999999",
    b"\x00",
    b"\xff",
]


@FUZZ
@given(st.sampled_from(GOOD), st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(_TOKENS)), max_size=8))
def test_syntax_token_insertions_only_raise_sip_parse_error(name: str, edits: list) -> None:
    data = bytearray(fixture_bytes(name))
    for pos, token in edits:
        pos %= len(data) + 1
        data[pos:pos] = token
    _parse_ok_or_value_error(bytes(data))
    try:
        msg = parse_message(bytes(data))
    except SipParseError:
        return
    # typed helpers on an accepted message raise only SipParseError too
    for attr in ("vias", "from_", "to", "contacts", "cseq"):
        try:
            getattr(msg, attr)
        except SipParseError:
            pass


def test_error_response_answers_400_when_the_request_is_addressable() -> None:
    from voice.sip.message import SipResponse, error_response

    for name in ["missing_max_forwards.sip", "cseq_method_mismatch.sip", "bad_from_uri.sip"]:
        data = fixture_bytes(f"malformed/{name}")
        with pytest.raises(SipParseError) as err:
            parse_message(data)
        resp = error_response(data, err.value)
        assert resp is not None, name
        parsed = SipResponse.parse(bytes(resp), validate=False)  # From copied verbatim
        assert parsed.status == 400 and parsed.reason.startswith("Bad Request (")
        assert parsed.call_id == "1-4242@192.168.1.10" and parsed.to.tag


def test_unsupported_request_uri_scheme_gets_416() -> None:
    from voice.sip.message import SipResponse, error_response

    data = fixture_bytes("malformed/bad_request_uri.sip")
    with pytest.raises(SipParseError) as err:
        parse_message(data)
    resp = error_response(data, err.value)
    assert resp is not None and resp.status == 416
    assert SipResponse.parse(bytes(resp)).reason.startswith("Unsupported URI Scheme (")


@pytest.mark.parametrize(
    "name", ["binary_junk.sip", "missing_via.sip", "missing_call_id.sip", "bad_status_line.sip"]
)
def test_error_response_is_none_when_no_response_is_possible(name: str) -> None:
    from voice.sip.message import error_response

    data = fixture_bytes(f"malformed/{name}")
    with pytest.raises(SipParseError) as err:
        parse_message(data)
    assert error_response(data, err.value) is None


def test_body_shorter_than_content_length_over_udp_gets_400() -> None:
    """RFC 3261 18.3: a UDP message whose Content-Length exceeds its body MUST be rejected with 400."""
    from voice.sip.message import error_response

    data = fixture_bytes("malformed/truncated_body.sip")
    with pytest.raises(SipParseError) as err:
        parse_message(data)
    resp = error_response(data, err.value)
    assert resp is not None and resp.status == 400 and "truncated" in resp.reason
