"""SIP robustness against real sipp scenarios and a corpus of malformed datagrams: retransmitted
INVITEs are absorbed (RFC 3261 17.2.1, 13.3.1.4), CANCEL while ringing, hang-up while queued is an
abandoned call with its wait time, junk never crashes the stack and gets 400 where possible."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.db import tables as t
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[1] / "sip" / "fixtures"


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"voice_ring_s": 1.5}


async def rows(hub, table, *where):  # type: ignore[no-untyped-def]
    async with hub.services.db.read() as conn:
        return (await conn.execute(select(table).where(*where))).all()


async def run_sipp(hub, tmp_path: Path, scenario: str, within: int = 30) -> Sipp:  # type: ignore[no-untyped-def]
    sipp = Sipp(tmp_path / "sipp", scenario, f"127.0.0.1:{sip_port(hub)}", extra=["-s", "5000"],
                timeout_s=within)
    await sipp.start()
    try:
        rc = await sipp.wait()
    finally:
        await sipp.stop()
    assert rc == 0, sipp.log()
    return sipp


async def settle(hub, predicate, within: float = 10):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.05)


class RawUac:
    """A bare UDP SIP client: byte-exact control over retransmissions (sipp answers a repeated
    response by repeating its own last message, which would loop against a correct UAS)."""

    def __init__(self, port: int, local_ip: str = "127.0.0.1") -> None:
        self.target = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendto(self.sock, data, self.target)

    async def recv(self, within: float = 3) -> bytes:
        async with asyncio.timeout(within):
            return await asyncio.get_running_loop().sock_recv(self.sock, 65535)

    async def expect(self, status: int, within: float = 5) -> bytes:
        async with asyncio.timeout(within):
            while True:
                data = await self.recv(within)
                if data.startswith(b"SIP/2.0 %d " % status):
                    return data

    def close(self) -> None:
        self.sock.close()


def invite_bytes(port: int, branch: str = "z9hG4bK-raw-1") -> bytes:
    sdp = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
    head = (f"INVITE sip:5000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\n"
            f"From: <sip:+8613900001111@127.0.0.1>;tag=raw1\r\nTo: <sip:5000@127.0.0.1>\r\n"
            f"Call-ID: raw-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@127.0.0.1:{port}>\r\n"
            f"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n")
    return head.encode() + sdp


def to_tag(response: bytes) -> str:
    line = next(ln for ln in response.decode().split("\r\n") if ln.lower().startswith("to:"))
    return line.split("tag=")[1].split(";")[0]


async def test_retransmitted_invites_before_and_after_the_200_make_one_call(voice_hub):
    uac = RawUac(sip_port(voice_hub))
    invite = invite_bytes(uac.port)
    try:
        await uac.send(invite)
        await uac.expect(100)
        ringing = await uac.expect(180)
        await uac.send(invite)  # retransmission while ringing: the last provisional again
        again = await uac.expect(180, within=1)
        assert to_tag(again) == to_tag(ringing)
        ok = await uac.expect(200, within=5)
        await uac.send(invite)  # retransmission after the 200: the 200 again, no new call
        ok_again = await uac.expect(200, within=1)
        assert to_tag(ok_again) == to_tag(ok) == to_tag(ringing)
        tag = to_tag(ok)
        common = (f"From: <sip:+8613900001111@127.0.0.1>;tag=raw1\r\nTo: <sip:5000@127.0.0.1>;tag={tag}\r\n"
                  f"Call-ID: raw-call-1\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n")
        via = f"Via: SIP/2.0/UDP 127.0.0.1:{uac.port}"
        await uac.send(f"ACK sip:hub@127.0.0.1 SIP/2.0\r\n{via};branch=z9hG4bK-raw-ack\r\nCSeq: 1 ACK\r\n{common}\r\n"
                       .encode())
        await asyncio.sleep(0.3)
        await uac.send(f"BYE sip:hub@127.0.0.1 SIP/2.0\r\n{via};branch=z9hG4bK-raw-bye\r\nCSeq: 2 BYE\r\n{common}\r\n"
                       .encode())
        await uac.expect(200)
    finally:
        uac.close()

    async def ended():
        return all(r.ended_at for r in await rows(voice_hub, t_calls))
    await settle(voice_hub, ended)
    calls = await rows(voice_hub, t_calls)
    convs = await rows(voice_hub, t.conversations, t.conversations.c.channel == "voice")
    assert len(calls) == 1 and len(convs) == 1
    assert calls[0].end_reason == "caller_hangup" and calls[0].answered_at


async def test_cancel_while_ringing_ends_the_call_before_any_conversation(voice_hub, tmp_path):
    await run_sipp(voice_hub, tmp_path, "cancel_while_ringing.xml")

    async def recorded():
        return await rows(voice_hub, t_calls)
    await settle(voice_hub, recorded)
    (call,) = await rows(voice_hub, t_calls)
    assert call.end_reason == "cancelled" and call.answered_at is None
    assert await rows(voice_hub, t.conversations, t.conversations.c.channel == "voice") == []
    assert voice_hub.services.ports.voice.service.active_calls() == []


@pytest.mark.parametrize("voice_settings", [{}])
async def test_caller_hanging_up_while_queued_is_abandoned_with_the_wait_time(voice_hub, tmp_path):
    await run_sipp(voice_hub, tmp_path, "hangup_while_queued.xml")

    async def abandoned():
        return await rows(voice_hub, t.events, t.events.c.type == "conversation.abandoned")
    await settle(voice_hub, abandoned)
    (event,) = await abandoned()
    assert 1.5 < event.data["waited_s"] < 5
    (conv,) = await rows(voice_hub, t.conversations, t.conversations.c.channel == "voice")
    assert conv.status == "abandoned"

    async def ended():
        return (await rows(voice_hub, t_calls))[0].ended_at
    await settle(voice_hub, ended)
    (call,) = await rows(voice_hub, t_calls)
    assert call.end_reason == "caller_hangup" and 1.5 < call.wait_s < 5


def malformed_corpus() -> dict[str, bytes]:
    corpus = {p.name: p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
              for p in sorted((FIXTURES / "malformed").glob("*.sip"))}
    options = (b"OPTIONS sip:hub@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKjunk%d\r\n"
               b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:hub@127.0.0.1>\r\nCall-ID: junk-%d\r\n"
               b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n")
    corpus["huge_header"] = options % (1, 1) + b"X-Big: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n"
    corpus["many_headers"] = options % (2, 2) + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n"
    corpus["bad_content_length"] = options % (3, 3) + b"Content-Length: 500\r\n\r\nshort body"
    corpus["binary_junk"] = bytes(range(256)) * 4
    corpus["truncated_invite"] = (FIXTURES / "invite_sipp_uac.sip").read_bytes()[:300]
    via = b"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKjunk4\r\n"
    corpus["missing_via"] = (options % (4, 4)).replace(via, b"") + b"\r\n"
    corpus["missing_call_id"] = (options % (5, 5)).replace(b"Call-ID: junk-5\r\n", b"") + b"\r\n"
    return corpus


def test_corpus_has_the_kinds_the_issue_names():
    names = set(malformed_corpus())
    assert {"huge_header", "bad_content_length", "binary_junk", "truncated_invite", "missing_via",
            "missing_call_id"} <= names


@pytest.mark.parametrize("voice_settings", [{}])
async def test_malformed_datagrams_never_crash_the_stack_and_get_400_where_possible(voice_hub):
    port = sip_port(voice_hub)
    corpus = malformed_corpus()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    answers: dict[str, bytes | None] = {}
    try:
        for name, data in corpus.items():
            await loop.sock_sendto(sock, data, ("127.0.0.1", port))
            try:
                async with asyncio.timeout(0.5):
                    answers[name] = await loop.sock_recv(sock, 65535)
            except TimeoutError:
                answers[name] = None
        # the stack is alive and still answers a good request
        good = (b"OPTIONS sip:hub@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKgood\r\n"
                b"From: <sip:a@127.0.0.1>;tag=9\r\nTo: <sip:hub@127.0.0.1>\r\nCall-ID: good-1\r\n"
                b"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
        await loop.sock_sendto(sock, good, ("127.0.0.1", port))
        async with asyncio.timeout(2):
            reply = await loop.sock_recv(sock, 65535)
    finally:
        sock.close()
    assert reply.startswith(b"SIP/2.0 200 "), reply
    for name in ("huge_header", "many_headers", "bad_content_length", "truncated_body.sip"):
        assert answers[name] is not None and answers[name].startswith(b"SIP/2.0 400 "), (name, answers[name])
    # no response is possible without a Via to answer to or a Call-ID to answer with
    for name in ("binary_junk", "missing_via", "missing_call_id", "empty.sip", "only_crlf.sip"):
        assert answers[name] is None, (name, answers[name])
    answered = [n for n, a in answers.items() if a is not None]
    assert all(answers[n].split(b" ")[1] in (b"400", b"416") for n in answered), answers
    stats = voice_hub.services.ports.voice.service.core.udp.stats
    assert stats.malformed >= len(corpus) - 2  # the empty and CRLF-only datagrams are keep-alives


@pytest.mark.postgres
async def test_an_abandoned_call_is_stored_the_same_on_postgresql(tmp_path, postgres):
    from tests.support.hub import running_hub
    from tests.voice.calls.conftest import VOICE_SETTINGS

    async with running_hub(tmp_path / "data", postgres.new_database(), **VOICE_SETTINGS) as hub:
        await run_sipp(hub, tmp_path, "hangup_while_queued.xml")

        async def abandoned():
            return await rows(hub, t.events, t.events.c.type == "conversation.abandoned")
        await settle(hub, abandoned)

        async def ended():
            return (await rows(hub, t_calls))[0].ended_at
        await settle(hub, ended)
        (call,) = await rows(hub, t_calls)
        assert call.end_reason == "caller_hangup" and 1.5 < call.wait_s < 5
        async with asyncio.timeout(10):
            while not (await rows(hub, t_calls))[0].recording_id:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
