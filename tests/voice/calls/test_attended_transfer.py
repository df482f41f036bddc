"""Attended transfer from an agent's SIP desk phone (RFC 5589, REFER with Replaces): a baresip
caller (an 880 Hz voice) is answered by agent1's desk phone (sipp, desk_attended_transfer.xml),
which holds the caller, calls agent2 (a baresip desk phone) through the hub, then REFERs the
caller to agent2 replacing that consult dialog. Afterwards the caller talks to agent2 — agent2's
phone hears the 880 Hz tone — and the conversation is agent2's."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import numpy as np
import pytest

from tests.support.late_events import late_events
from tests.voice.calls.conftest import PHONE_PASSWORD, sip_port
from tests.voice.calls.support import Baresip, Sipp, free_udp_port, read_wav, write_tone
from tests.voice.calls.test_hold_transfer import active, until
from voice.sip.digest import DigestChallenge
from voice.sip.message import SipResponse

pytestmark = pytest.mark.slow


PHONE_IP = "127.0.0.2"  # not the trusted trunk address (127.0.0.1): the hub challenges its INVITEs


def register(hub_port: int, username: str, password: str, contact_port: int) -> None:
    """REGISTER ``username`` (digest) from and with ``PHONE_IP:contact_port`` as its Contact."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((PHONE_IP, 0))
        sock.settimeout(5)
        me = sock.getsockname()[1]

        def msg(cseq: int, auth: str | None) -> bytes:
            lines = [f"REGISTER sip:127.0.0.1:{hub_port} SIP/2.0",
                     f"Via: SIP/2.0/UDP {PHONE_IP}:{me};branch=z9hG4bK-reg-{username}-{cseq}",
                     f"From: <sip:{username}@127.0.0.1>;tag=r{cseq}", f"To: <sip:{username}@127.0.0.1>",
                     f"Call-ID: reg-{username}-{contact_port}", f"CSeq: {cseq} REGISTER",
                     f"Contact: <sip:{username}@{PHONE_IP}:{contact_port}>", "Expires: 600", "Max-Forwards: 70"]
            if auth:
                lines.append(f"Authorization: {auth}")
            return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()

        sock.sendto(msg(1, None), ("127.0.0.1", hub_port))
        chal = SipResponse.parse(sock.recv(65535))
        creds = DigestChallenge.parse(chal.require("WWW-Authenticate")).respond(
            method="REGISTER", uri=f"sip:127.0.0.1:{hub_port}", username=username, password=password)
        sock.sendto(msg(2, str(creds)), ("127.0.0.1", hub_port))
        ok = SipResponse.parse(sock.recv(65535))
        assert ok.status == 200, f"REGISTER {username}: {ok.status} {ok.reason}"


def share(samples: np.ndarray, freq: float, rate: int = 8000) -> float:
    x = samples.astype(np.float64)
    power = np.abs(np.fft.rfft(x)) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / rate)
    return float(power[np.abs(hz - freq) < 25].sum() / max(power.sum(), 1.0))


async def desk_phone(hub, workdir: Path, username: str, scenario: str, extra: list[str]) -> Sipp:  # type: ignore[no-untyped-def]
    """A sipp desk phone registered as ``username`` (the agent of the same name)."""
    admin = await hub.client("admin")
    user = await hub.client(username)
    await admin.ok("PUT", f"/api/voice/sip-accounts/{username}",
                   {"password": PHONE_PASSWORD, "user_id": user.user["id"]})
    phone = Sipp(workdir, scenario, f"127.0.0.1:{sip_port(hub)}", port=free_udp_port(), timeout_s=60,
                 extra=extra, local_ip=PHONE_IP)
    await phone.start()
    await asyncio.to_thread(register, sip_port(hub), username, PHONE_PASSWORD, phone.port)
    return phone


async def test_desk_phone_attended_transfer_with_refer_replaces(voice_hub, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Every event reaches its handlers 0.3 s late, as on a loaded machine: the transfer's own
    # conversation.transferred then comes after the call is agent2's, and must not take it away
    # from agent2 (it did, unbridging the caller, when the hub still handled events inline).
    late_events(monkeypatch, 0.3)
    hub = voice_hub
    voice = hub.services.ports.voice.service
    port = sip_port(hub)
    agent1, agent2 = await hub.client("agent1"), await hub.client("agent2")
    # agent1's phone does the attended transfer; agent2's phone answers and echoes what it hears
    desk1 = await desk_phone(hub, tmp_path / "agent1", "agent1", "desk_attended_transfer.xml",
                             ["-au", "agent1", "-ap", PHONE_PASSWORD])
    desk2 = await desk_phone(hub, tmp_path / "agent2", "agent2", "bench_agent.xml", ["-rtp_echo"])
    caller_voice = tmp_path / "caller-1k.wav"
    write_tone(caller_voice, 1000.0, 60.0)  # clear of the music on hold's notes
    caller = Baresip(tmp_path / "caller", answermode="manual", source_wav=caller_voice,
                     account=f"<sip:+8613911112222@127.0.0.1:{port}>;regint=0")
    try:
        await agent1.ok("POST", "/api/agent/state", {"state": "ready"})
        await caller.start()
        await caller.command("dial", f"sip:5000@127.0.0.1:{port}")
        await caller.wait_event("CALL_ESTABLISHED", timeout=15)
        await until(lambda: bool(active(hub)), within=10)
        call = next(iter(active(hub).values()))
        await until(lambda: call.state == "bridged" and call.agent_id == agent1.user["id"], within=15)
        await agent2.ok("POST", "/api/agent/state", {"state": "ready"})
        # the desk phone holds the caller and calls agent2: a consultation of the call
        await until(lambda: call.consult is not None and call.consult.state == "talking", within=15)
        assert call.consult.kind == "agent" and call.consult.target == agent2.user["id"]
        assert call.caller.media.player is not None  # the caller hears music on hold
        # REFER with Replaces: the caller goes to agent2; agent1's dialogs end (sipp exits 0)
        assert await desk1.wait(30) == 0, desk1.log()
        assert call.agent_id == agent2.user["id"] and call.consult is None and not call.ended
        assert call.caller.media.player is None
        transferred_at = voice.engine.now() - call.recorder.started_at
        conv = await agent2.ok("GET", f"/api/conversations/{call.conversation_id}")
        assert conv["assignee_id"] == agent2.user["id"]
        assert any("consultation" in (m["body"] or "") for m in conv["messages"])
        await asyncio.sleep(2.0)  # the caller talks with agent2
        await caller.command("hangup")
        assert await desk2.wait(15) == 0, desk2.log()  # agent2's leg got its BYE
        await until(lambda: call.ended, within=10)
    finally:
        await caller.stop()
        await desk1.stop()
        await desk2.stop()
    sup = await hub.client("supervisor")
    async with asyncio.timeout(10):
        while not (recs := [x for x in (await sup.ok("GET", "/api/voice/calls"))["records"]  # noqa: ASYNC110
                            if x["recording_attachment_id"]]):  # polls the API like a client
            await asyncio.sleep(0.1)
    samples, rate, _ = read_wav(hub.services.attachments.path_for(recs[0]["recording_attachment_id"]))
    heard = samples[:, 1]
    cut = int((transferred_at + 0.3) * rate)
    # what the caller heard: music on hold while agent1 consulted, then its own voice echoed by
    # agent2's phone — the caller's audio reached the consulted agent
    assert share(heard[int(2.5 * rate):cut - rate], 1000.0, rate) < 0.1
    assert share(heard[cut:], 1000.0, rate) > 0.3, "the caller's voice does not reach agent2"
