"""SDP parse/serialise and RFC 3264 offer/answer (G.711 + telephone-event, hold, 488)."""

from __future__ import annotations

import pytest

from tests.voice.sip.conftest import fixture_bytes
from voice.sip.errors import NoCommonCodec, SdpError
from voice.sip.message import parse_message
from voice.sip.sdp import (
    PCMA,
    PCMU,
    Codec,
    Direction,
    SessionDescription,
    answer,
    audio_offer,
    hold,
    resume,
)

OPUS_ONLY = b"""v=0\r
o=- 1 1 IN IP4 198.51.100.2\r
s=-\r
c=IN IP4 198.51.100.2\r
t=0 0\r
m=audio 5004 RTP/AVP 111 101\r
a=rtpmap:111 opus/48000/2\r
a=rtpmap:101 telephone-event/48000\r
a=sendrecv\r
"""


def sipp_offer() -> SessionDescription:
    return SessionDescription.parse(parse_message(fixture_bytes("invite_sipp_uac.sip")).body)


@pytest.mark.parametrize("name", ["invite_sipp_uac.sip", "response_200_ok_sdp.sip"])
def test_sdp_from_fixtures_round_trips(name: str) -> None:
    body = parse_message(fixture_bytes(name)).body
    assert bytes(SessionDescription.parse(body)) == body


def test_offer_fields() -> None:
    offer = sipp_offer()
    assert offer.origin.session_id == "53655765" and offer.origin.session_version == 2353687637
    md = offer.audio
    assert md is not None
    assert offer.media_address(md) == ("192.168.1.10", 6000)
    assert [c.name for c in md.codecs] == ["PCMU", "PCMA", "telephone-event"]
    assert md.codecs[2].fmtp == "0-15"
    assert md.ptime == 20 and md.direction is Direction.SENDRECV


def test_answer_picks_first_common_codec_in_offer_order_and_keeps_events() -> None:
    ans = answer(sipp_offer(), [PCMA, PCMU], address="10.0.0.5", port=40000)
    md = ans.audio
    assert md is not None
    assert md.formats == ("0", "101")
    assert [c.name for c in md.codecs] == ["PCMU", "telephone-event"]
    assert md.direction is Direction.SENDRECV
    assert ans.media_address(md) == ("10.0.0.5", 40000)
    assert SessionDescription.parse(bytes(ans)) == ans


def test_answer_only_pcma() -> None:
    md = answer(sipp_offer(), [PCMA], address="10.0.0.5", port=4000).audio
    assert md is not None and md.formats == ("8", "101")


def test_answer_uses_offerers_dynamic_payload_type_for_events() -> None:
    text = bytes(sipp_offer()).replace(b"101", b"96")
    md = answer(SessionDescription.parse(text), [PCMU], address="h", port=1).audio
    assert md is not None and md.formats == ("0", "96")


def test_no_common_codec_raises_488() -> None:
    with pytest.raises(NoCommonCodec, match="audio offers opus, telephone-event") as err:
        answer(SessionDescription.parse(OPUS_ONLY), [PCMU, PCMA], address="h", port=1)
    assert err.value.status == 488 and err.value.code == "sdp_no_common_codec"


def test_video_stream_is_rejected_with_port_zero() -> None:
    offer = audio_offer("192.0.2.1", 5000)
    video = SessionDescription.parse(bytes(offer) + b"m=video 5002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
    ans = answer(video, [PCMU], address="192.0.2.9", port=6000)
    assert [(m.media, m.port) for m in ans.media] == [("audio", 6000), ("video", 0)]


def test_hold_and_resume_offers() -> None:
    offer = audio_offer("192.0.2.1", 5000, session_id="77", version=3)
    held = hold(offer)
    assert held.audio is not None and held.audio.direction is Direction.SENDONLY
    assert held.origin.session_version == 4 and held.is_on_hold()
    ans = answer(held, [PCMU], address="192.0.2.9", port=6000)
    assert ans.audio is not None and ans.audio.direction is Direction.RECVONLY
    back = resume(held)
    assert back.audio is not None and back.audio.direction is Direction.SENDRECV
    assert back.origin.session_version == 5 and not back.is_on_hold()
    assert hold(hold(offer)).audio.direction is Direction.SENDONLY  # type: ignore[union-attr]
    inactive = hold(offer, inactive=True)
    assert answer(inactive, [PCMU], address="h", port=1).audio.direction is Direction.INACTIVE  # type: ignore[union-attr]


def test_old_style_hold_with_zero_address_and_session_level_direction() -> None:
    text = bytes(audio_offer("0.0.0.0", 5000)).replace(b"a=sendrecv\r\n", b"")
    assert SessionDescription.parse(text).is_on_hold()
    text2 = bytes(audio_offer("192.0.2.1", 5000)).replace(b"a=sendrecv\r\n", b"")
    text2 = text2.replace(b"t=0 0\r\n", b"t=0 0\r\na=recvonly\r\n")
    parsed = SessionDescription.parse(text2)
    assert parsed.audio is not None and parsed.audio.direction is Direction.RECVONLY
    ans = answer(parsed, [PCMU], address="h", port=1)
    assert ans.audio is not None and ans.audio.direction is Direction.SENDONLY


def test_static_payload_without_rtpmap_and_lf_only_input() -> None:
    text = "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\nm=audio 9 RTP/AVP 8 0\n"
    sdp = SessionDescription.parse(text)
    assert sdp.audio is not None and [c.name for c in sdp.audio.codecs] == ["PCMA", "PCMU"]
    assert str(sdp) == text.replace("\n", "\r\n")
    assert Codec(8, "pcma").same_format(PCMA)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"o=- 1 1 IN IP4 h\r\n",
        b"v=1\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n",
        b"v=0\r\ns=-\r\nt=0 0\r\n",
        b"v=0\r\no=- 1 x IN IP4 h\r\ns=-\r\nt=0 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nv=0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\njunk\r\n",
        b"v=0\r\no=\xff\r\n",
    ],
)
def test_malformed_sdp_raises_sdp_error(text: bytes) -> None:
    with pytest.raises(SdpError):
        SessionDescription.parse(text)


def test_srtp_only_offer_is_refused_until_we_support_it() -> None:
    text = bytes(audio_offer("192.0.2.1", 5000)).replace(b"RTP/AVP", b"RTP/SAVP")
    with pytest.raises(NoCommonCodec, match="RTP/SAVP is not supported"):
        answer(SessionDescription.parse(text), [PCMU], address="h", port=1)
