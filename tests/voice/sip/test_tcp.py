"""The TCP adapter on loopback: stream framing, a call over TCP, 400 then close on garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.voice.sip.conftest import fixture_bytes
from tests.voice.sip.test_udp import RecordingTU
from voice.sip.dialog import Dialog
from voice.sip.message import SipRequest, SipResponse, StreamParser, Via, new_branch
from voice.sip.tcp import SipTcpTransport


@pytest.fixture
async def hub() -> AsyncIterator[tuple[SipTcpTransport, RecordingTU]]:
    tu = RecordingTU(answer=True)
    transport = await SipTcpTransport.open("127.0.0.1", 0, tu)
    tu.transport = transport  # type: ignore[assignment]
    yield transport, tu
    await transport.close()


async def test_call_over_tcp_without_transaction_retransmissions(hub) -> None:  # type: ignore[no-untyped-def]
    server, server_tu = hub
    caller_tu = RecordingTU()
    caller = await SipTcpTransport.open("127.0.0.1", 0, caller_tu)
    try:
        host, port = caller.local_address
        invite = SipRequest.parse(fixture_bytes("invite_sipp_uac.sip")).with_replaced(
            "Via", f"SIP/2.0/TCP {host}:{port};branch={new_branch()}"
        )
        caller.send_request(invite, server.local_address)
        await caller_tu.wait_for(lambda: caller_tu.delivered(200))
        assert [r.status for r in caller_tu.delivered(180)] == [180]
        dialog = Dialog.for_uac(invite, caller_tu.delivered(200)[0])
        caller.send_request(dialog.ack(Via("TCP", host, port)), server.local_address)
        await server_tu.wait_for(lambda: server_tu.delivered("ACK"))
        assert len(server_tu.delivered("INVITE")) == 1
        assert caller.stats.sent == 2  # INVITE and ACK, nothing retransmitted
    finally:
        await caller.close()


async def test_garbage_on_a_stream_gets_400_and_the_connection_is_closed(hub) -> None:  # type: ignore[no-untyped-def]
    server, _ = hub
    reader, writer = await asyncio.open_connection(*server.local_address)
    try:
        writer.write(b"\r\n\r\n" + fixture_bytes("malformed/missing_max_forwards.sip"))
        await writer.drain()
        async with asyncio.timeout(3):
            data = await reader.read()  # until the server closes
        [reply] = StreamParser().feed(data)
        assert isinstance(reply, SipResponse) and reply.status == 400
        assert server.stats.malformed == 1
    finally:
        writer.close()
        await writer.wait_closed()
