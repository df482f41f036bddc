"""The UDP adapter on loopback: a call set up end to end, retransmissions absorbed, 400s."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from tests.voice.sip.conftest import fixture_bytes
from voice.sip.dialog import Dialog
from voice.sip.message import SipRequest, SipResponse, Via, new_branch, parse_message
from voice.sip.transaction import Deliver, Terminated, TimedOut
from voice.sip.udp import SipUdpTransport


class RecordingTU:
    """A fake TU: records events; optionally answers INVITEs with 180 + 200."""

    def __init__(self, answer: bool = False) -> None:
        self.events: list[Deliver | TimedOut | Terminated] = []
        self.answer = answer
        self.transport: SipUdpTransport | None = None
        self.changed = asyncio.Event()

    def on_sip_event(self, event: Deliver | TimedOut | Terminated) -> None:
        self.events.append(event)
        self.changed.set()
        msg = event.message if isinstance(event, Deliver) else None
        if self.answer and isinstance(msg, SipRequest) and msg.method == "INVITE":
            assert self.transport is not None
            contact = [("Contact", "<sip:hub@127.0.0.1>")]
            self.transport.send_response(SipResponse.for_request(msg, 180, to_tag="hub1", headers=contact))
            self.transport.send_response(SipResponse.for_request(msg, 200, to_tag="hub1", headers=contact))

    def delivered(self, method_or_status: str | int) -> list:
        out = []
        for e in self.events:
            if not isinstance(e, Deliver):
                continue
            m = e.message
            if (isinstance(m, SipRequest) and m.method == method_or_status) or (
                isinstance(m, SipResponse) and m.status == method_or_status
            ):
                out.append(m)
        return out

    async def wait_for(self, predicate) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(3.0):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def hub() -> AsyncIterator[tuple[SipUdpTransport, RecordingTU]]:
    tu = RecordingTU(answer=True)
    transport = await SipUdpTransport.open("127.0.0.1", 0, tu)
    tu.transport = transport
    yield transport, tu
    await transport.close()


@pytest.fixture
def raw_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock  # type: ignore[misc]
    sock.close()


async def _recv(sock: socket.socket) -> SipResponse:
    data = await asyncio.to_thread(sock.recv, 65536)
    return SipResponse.parse(data)


async def test_call_setup_between_two_udp_endpoints(hub) -> None:  # type: ignore[no-untyped-def]
    server, server_tu = hub
    caller_tu = RecordingTU()
    caller = await SipUdpTransport.open("127.0.0.1", 0, caller_tu)
    try:
        host, port = caller.local_address
        invite = SipRequest.parse(fixture_bytes("invite_sipp_uac.sip")).with_replaced(
            "Via", f"SIP/2.0/UDP {host}:{port};branch={new_branch()}"
        )
        caller.send_request(invite, server.local_address)
        await caller_tu.wait_for(lambda: caller_tu.delivered(200))
        assert [s.status for s in caller_tu.delivered(180)] == [180]
        ok = caller_tu.delivered(200)[0]
        dialog = Dialog.for_uac(invite, ok)
        caller.send_request(dialog.ack(Via("UDP", host, port)), server.local_address)
        await server_tu.wait_for(lambda: server_tu.delivered("ACK"))
        assert len(server_tu.delivered("INVITE")) == 1
        bye = dialog.bye(Via("UDP", host, port))
        caller.send_request(bye, server.local_address)
        await server_tu.wait_for(lambda: server_tu.delivered("BYE"))
        server.send_response(SipResponse.for_request(server_tu.delivered("BYE")[0], 200))
        await caller_tu.wait_for(lambda: len(caller_tu.delivered(200)) == 2)
    finally:
        await caller.close()


async def test_retransmitted_invite_over_udp_is_absorbed(hub, raw_socket) -> None:  # type: ignore[no-untyped-def]
    server, server_tu = hub
    host, port = raw_socket.getsockname()
    data = bytes(
        parse_message(fixture_bytes("invite_sipp_uac.sip")).with_replaced(
            "Via", f"SIP/2.0/UDP {host}:{port};branch=z9hG4bKretrans1"
        )
    )
    raw_socket.sendto(data, server.local_address)
    statuses = [(await _recv(raw_socket)).status for _ in range(3)]
    assert statuses == [100, 180, 200]
    raw_socket.sendto(data, server.local_address)  # retransmission after the 200
    again = await _recv(raw_socket)
    assert again.status == 200
    assert len(server_tu.delivered("INVITE")) == 1


async def test_malformed_datagrams_get_400_or_are_dropped(hub, raw_socket) -> None:  # type: ignore[no-untyped-def]
    server, _ = hub
    raw_socket.sendto(fixture_bytes("malformed/missing_max_forwards.sip"), server.local_address)
    reply = await _recv(raw_socket)
    assert reply.status == 400 and "Max-Forwards" in reply.reason
    raw_socket.sendto(fixture_bytes("malformed/binary_junk.sip"), server.local_address)
    raw_socket.sendto(b"\r\n\r\n", server.local_address)
    raw_socket.sendto(fixture_bytes("malformed/missing_via.sip"), server.local_address)
    # a second addressable one last: its 400 proves the three before it were processed
    raw_socket.sendto(fixture_bytes("malformed/cseq_method_mismatch.sip"), server.local_address)
    reply = await _recv(raw_socket)
    assert reply.status == 400 and "CSeq method" in reply.reason
    assert server.stats.malformed == 4 and server.stats.bad_request_sent == 2
