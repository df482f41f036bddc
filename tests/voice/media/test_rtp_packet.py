"""RtpPacket as the live receive path reads it: the common packet, CSRCs, header extensions,
padding, the marker bit and every malformed shape the leg drops; and the one builder the send
path uses. Then a real MediaLeg fed such datagrams: what it relays, records, counts and drops."""

from __future__ import annotations

import asyncio
import struct

import pytest

from voice.media.engine import MediaEngine
from voice.media.g711 import PCMA, PCMU, translation
from voice.media.leg import MediaLeg
from voice.media.rtp import DtmfEvent, RtpPacket

FRAME = bytes(range(160))
HEAD = struct.Struct("!BBHII")


def raw(b0: int, b1: int = 0, seq: int = 1, ts: int = 160, ssrc: int = 0xABCD, tail: bytes = b"") -> bytes:
    return HEAD.pack(b0, b1, seq, ts, ssrc) + tail


def test_the_common_packet_reads_every_fixed_field() -> None:
    pkt = RtpPacket.parse(raw(0x80, 0x80 | 8, 65535, 4294967295, 0xDEADBEEF, FRAME))
    assert pkt == RtpPacket(8, 65535, 4294967295, 0xDEADBEEF, FRAME, marker=True)
    assert pkt.marker is True and pkt.csrc == ()
    assert RtpPacket.parse(raw(0x80, 0, tail=FRAME)).marker is False


def test_csrcs_are_read_and_left_out_of_the_payload() -> None:
    data = raw(0x82, 0, tail=struct.pack("!II", 7, 9) + FRAME)
    pkt = RtpPacket.parse(data)
    assert pkt.csrc == (7, 9) and pkt.payload == FRAME
    assert bytes(pkt) == data


def test_a_header_extension_is_skipped_with_or_without_csrcs() -> None:
    ext = struct.pack("!HH", 0xBEDE, 2) + b"\x10\xaa\x00\x00" + b"\x21\xbb\xcc\x00"
    assert RtpPacket.parse(raw(0x90, 0, tail=ext + FRAME)).payload == FRAME
    pkt = RtpPacket.parse(raw(0x91, 0, tail=struct.pack("!I", 5) + ext + FRAME))
    assert pkt.csrc == (5,) and pkt.payload == FRAME
    empty_ext = struct.pack("!HH", 0xBEDE, 0)
    assert RtpPacket.parse(raw(0x90, 0, tail=empty_ext + FRAME)).payload == FRAME


def test_padding_is_removed_as_its_last_byte_counts() -> None:
    assert RtpPacket.parse(raw(0xA0, 0, tail=FRAME + b"\x00\x00\x03")).payload == FRAME
    assert RtpPacket.parse(raw(0xA0, 0, tail=FRAME + b"\x01")).payload == FRAME
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00"
    assert RtpPacket.parse(raw(0xB1, 0, tail=b"\x00\x00\x00\x05" + ext + FRAME + b"\x00\x02")).payload == FRAME
    # all payload is padding: an empty payload (the leg drops it)
    assert RtpPacket.parse(raw(0xA0, 0, tail=b"\x00\x00\x03")).payload == b""


def test_a_zero_padding_count_is_read_as_no_padding() -> None:
    # RFC 3550 counts the count byte itself, so 0 is not valid; the live path always kept the
    # whole payload for it, and still does
    assert RtpPacket.parse(raw(0xA0, 0, tail=FRAME + b"\x00")).payload == FRAME + b"\x00"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "0 bytes, shorter than the 12-byte header"),
    (raw(0x80)[:11], "11 bytes, shorter than the 12-byte header"),
    (raw(0x40, tail=FRAME), "version is 1, not 2"),
    (raw(0x00, tail=FRAME), "version is 0, not 2"),
    (raw(0xC0, tail=FRAME), "version is 3, not 2"),
    (raw(0x83, tail=b"\x00" * 8), "truncated CSRC"),
    (raw(0x90, tail=b"\xbe\xde"), "truncated header extension"),
    (raw(0x90, tail=struct.pack("!HH", 0xBEDE, 3) + b"\x00" * 8), "truncated header extension"),
    (raw(0xA0, tail=b"\x00\x05"), "padding length 5 is invalid"),
    (raw(0xA0), "padding length 205 is invalid"),  # the last SSRC byte read as the count
    (raw(0xB0, tail=struct.pack("!HH", 0xBEDE, 0) + b"\x09"), "padding length 9 is invalid"),
])
def test_malformed_packets_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RtpPacket.parse(data)


def test_a_header_only_packet_has_an_empty_payload() -> None:
    assert RtpPacket.parse(raw(0x80, 13)).payload == b""


def test_pack_is_the_bytes_of_the_value() -> None:
    for marker in (False, True):
        pkt = RtpPacket(101, 65535, 4294967295, 1, b"\x05\x0a\x00\xa0", marker=marker)
        assert RtpPacket.pack(101, 65535, 4294967295, 1, b"\x05\x0a\x00\xa0", marker) == bytes(pkt)
        assert RtpPacket.parse(bytes(pkt)) == pkt
    assert bytes(RtpPacket(0, 65536 + 5, 2**32 + 7, 1)) == raw(0x80, 0, 5, 7, 1)  # wrapped
    assert repr(RtpPacket(0, 1, 2, 3)).startswith("RtpPacket(payload_type=0, sequence=1")


# -- the live receive path ----------------------------------------------------------------------

PHONE = ("127.0.0.1", 40000)


class PeerLeg(MediaLeg):
    """A socketless peer that keeps what the bridge relays to it (audio and RFC 4733)."""

    def __init__(self, engine: MediaEngine, codec: str = PCMU) -> None:
        super().__init__(engine, "peer")
        self.codec = codec
        self.relayed: list[bytes] = []
        self.events: list[tuple[bytes, bool]] = []

    def send_audio(self, payload: bytes, now: float) -> None:
        self.relayed.append(payload)

    def send_event(self, payload: bytes, marker: bool, timestamp: int | None = None) -> int:
        self.events.append((payload, marker))
        return 0


async def bridged(codec: str = PCMU) -> tuple[MediaLeg, PeerLeg]:
    engine = MediaEngine()
    leg, peer = MediaLeg(engine, "caller"), PeerLeg(engine, codec)
    leg.configure(("127.0.0.1", 1), 0, PCMU, 101)
    leg.bridge(peer)
    return leg, peer


async def test_leg_relays_the_payload_of_packets_with_csrcs_extension_and_padding() -> None:
    leg, peer = await bridged()
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00"
    leg.datagram_received(raw(0x80, 0, 1, 160, tail=FRAME), PHONE)
    leg.datagram_received(raw(0x81, 0, 2, 320, tail=b"\x00\x00\x00\x09" + FRAME), PHONE)
    leg.datagram_received(raw(0x90, 0, 3, 480, tail=ext + FRAME), PHONE)
    leg.datagram_received(raw(0xA0, 0, 4, 640, tail=FRAME + b"\x00\x02"), PHONE)
    leg.datagram_received(raw(0xA0, 0, 5, 800, tail=FRAME + b"\x00"), PHONE)  # zero count: kept
    assert peer.relayed == [FRAME] * 4 + [FRAME + b"\x00"]
    assert leg.rx_packets == 5 and leg.remote == PHONE


async def test_leg_drops_malformed_header_only_and_unknown_packets_without_latching() -> None:
    leg, peer = await bridged()
    for data in (b"\x80\x00", raw(0x40, tail=FRAME), raw(0x83, tail=b"\x00" * 4), raw(0x80, 0),
                 raw(0xA0, 0, tail=b"\x00\x05"), raw(0x90, tail=b"\xbe\xde")):
        leg.datagram_received(data, ("10.0.0.9", 9))
    assert leg.remote == ("127.0.0.1", 1) and leg.last_rx is None and leg.rx_quality.received == 0
    leg.datagram_received(raw(0x80, 13, tail=b"\x40"), PHONE)  # comfort noise: latched, counted, not relayed
    leg.datagram_received(raw(0x80, 96, 2, tail=FRAME), PHONE)  # a dynamic payload type we did not offer
    assert leg.remote == PHONE and leg.rx_quality.received == 2
    assert peer.relayed == [] and leg.rx_packets == 0


async def test_leg_translates_a_law_it_receives_for_a_u_law_peer() -> None:
    leg, peer = await bridged(PCMU)
    leg.datagram_received(raw(0x80, 8, tail=FRAME), PHONE)  # A-law although PCMU was agreed
    leg.datagram_received(raw(0x80, 0, 2, tail=FRAME), PHONE)
    assert peer.relayed == [FRAME.translate(translation(PCMA, PCMU)), FRAME]
    leg2, peer2 = await bridged(PCMA)
    leg2.datagram_received(raw(0x80, 0, tail=FRAME), PHONE)
    assert peer2.relayed == [FRAME.translate(translation(PCMU, PCMA))]


async def test_leg_reads_rfc_4733_events_once_per_timestamp_and_relays_each_packet() -> None:
    leg, peer = await bridged()
    digits: list[str] = []
    leg.on_dtmf = digits.append
    start = bytes(DtmfEvent(11, False, 10, 160))
    end = bytes(DtmfEvent(11, True, 10, 800))
    leg.datagram_received(raw(0x80, 0x80 | 101, 10, 8000, tail=start), PHONE)
    for seq in (11, 12, 13):  # the end packet three times, one timestamp
        leg.datagram_received(raw(0x80, 101, seq, 8000, tail=end), PHONE)
    leg.datagram_received(raw(0xA0, 0x80 | 101, 14, 9600, tail=bytes(DtmfEvent(1, False, 10, 0)) + b"\x00\x02"), PHONE)
    leg.datagram_received(raw(0x80, 101, 15, 11200, tail=b"\x01\x00"), PHONE)  # short: ignored
    assert digits == ["#", "1"] and leg.rx_dtmf == 2
    assert peer.events[:4] == [(start, True), (end, False), (end, False), (end, False)]
    assert peer.events[4] == (bytes(DtmfEvent(1, False, 10, 0)), True)
    assert leg.rx_packets == 0 and peer.relayed == []


async def test_leg_feeds_ssrc_sequence_and_timestamp_to_the_receive_quality() -> None:
    leg, _ = await bridged()
    for seq in (100, 101, 103):
        leg.datagram_received(raw(0x90, 0, seq, 160 * seq, 0x77, struct.pack("!HH", 1, 0) + FRAME), PHONE)
    q = leg.rx_quality
    assert (q.ssrc, q.received, q.max_seq) == (0x77, 3, 103)
    assert q.public()["lost"] == 1


async def test_the_send_path_builds_packets_rtp_packet_parses_back() -> None:
    engine = MediaEngine()
    leg = MediaLeg(engine, "out")
    sent: list[bytes] = []

    class Transport(asyncio.DatagramTransport):
        def sendto(self, data: bytes | bytearray | memoryview, addr: object = None) -> None:
            sent.append(bytes(data))

    leg.transport = Transport()
    leg.configure(("127.0.0.1", 4000), 8, PCMA, 101)
    leg.send_audio(FRAME, 0.0)
    leg.send_audio(FRAME, 0.02)
    ts = leg.send_event(bytes(DtmfEvent(5, False, 10, 160)), marker=True)
    first, second, event = (RtpPacket.parse(d) for d in sent)
    assert (first.payload_type, first.marker, first.payload) == (8, True, FRAME)
    assert (second.marker, (second.sequence - first.sequence) & 0xFFFF) == (False, 1)
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 160 and second.ssrc == first.ssrc
    assert (event.payload_type, event.marker, event.timestamp, event.ssrc) == (101, True, ts, first.ssrc)
    assert DtmfEvent.parse(event.payload).digit == "5"
