"""The registrar with digest authentication against a real baresip desk phone, a sipp phone and
raw REGISTERs: a wrong password is refused with 403, repeated failures from one source are rate
limited (even a right password is refused while blocked) per address, never per user alone (the
real phone on another address still registers), the answers do not tell whether a user exists,
credentials are stored only as digest HA1 values."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.voice.calls.conftest import PHONE_PASSWORD, agent_phone, registered
from tests.voice.calls.support import Baresip, Sipp
from tests.voice.calls.test_robustness import RawUac
from voice.calls.tables import sip_accounts
from voice.sip.digest import DigestChallenge
from voice.sip.message import SipResponse

pytestmark = pytest.mark.slow


def register(port: int, user: str, n: int, auth: str | None = None, ip: str = "127.0.0.1") -> bytes:
    lines = ["REGISTER sip:127.0.0.1 SIP/2.0", f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK-reg-{n}",
             f"From: <sip:{user}@127.0.0.1>;tag=r{n}", f"To: <sip:{user}@127.0.0.1>", f"Call-ID: reg-{user}-1",
             f"CSeq: {n} REGISTER", f"Contact: <sip:{user}@{ip}:{port}>", "Expires: 600", "Max-Forwards: 70"]
    if auth:
        lines.append(f"Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


async def attempt(uac: RawUac, user: str, password: str, n: int) -> SipResponse:
    ip = uac.sock.getsockname()[0]
    await uac.send(register(uac.port, user, n, ip=ip))
    challenge = SipResponse.parse(await uac.recv())
    if challenge.status != 401:
        return challenge
    chal = DigestChallenge.parse(challenge.require("WWW-Authenticate"))
    creds = chal.respond(method="REGISTER", uri="sip:127.0.0.1", username=user, password=password)
    await uac.send(register(uac.port, user, n + 1, str(creds), ip=ip))
    return SipResponse.parse(await uac.recv())


async def test_desk_phone_with_a_wrong_password_is_refused(voice_hub, tmp_path: Path):
    phone, _ = await agent_phone(voice_hub, tmp_path / "good")  # the account exists and works
    await phone.stop()
    voice = voice_hub.services.ports.voice
    (good,) = voice.registrar.active_bindings(voice.engine.now())
    port = voice_hub.services.ports.voice.sip_port()
    bad = Baresip(tmp_path / "bad", answermode="auto",
                  account=f"<sip:agent1@127.0.0.1:{port}>;auth_pass=not-the-password;regint=600")
    await bad.start()
    try:
        async with asyncio.timeout(10):  # REGISTER_FAIL can fire before ctrl_tcp is connected
            while "403 Forbidden" not in bad.log.read_text(errors="replace"):  # noqa: ASYNC110, ASYNC240
                await asyncio.sleep(0.1)
    finally:
        await bad.stop()
    assert [b.call_id for b in voice.registrar.active_bindings(voice.engine.now())] == [good.call_id]
    async with voice_hub.services.db.read() as conn:
        row = (await conn.execute(select(sip_accounts).where(sip_accounts.c.username == "agent1"))).one()
    assert PHONE_PASSWORD not in str(tuple(row)) and len(row.ha1_md5) == 32


async def test_repeated_failures_are_rate_limited_per_source(voice_hub, tmp_path: Path):
    phone, _ = await agent_phone(voice_hub, tmp_path / "good")
    await phone.stop()
    uac = RawUac(voice_hub.services.ports.voice.sip_port())
    try:
        ok = await attempt(uac, "agent1", PHONE_PASSWORD, 1)
        assert ok.status == 200, ok
        statuses = [(await attempt(uac, "agent1", f"guess-{i}", 10 + 2 * i)) for i in range(5)]
        assert [r.status for r in statuses] == [403] * 5
        assert "Too many failed attempts" in statuses[-1].reason
        blocked = await attempt(uac, "agent1", PHONE_PASSWORD, 50)
        assert blocked.status == 403 and "Too many" in blocked.reason and blocked.get("Retry-After")
    finally:
        uac.close()
    await registered(voice_hub, "agent1")  # the binding made before the attack is kept
    await asyncio.sleep(0)


def answer(r: SipResponse) -> tuple[int, str, bool]:
    return r.status, r.reason, r.get("Retry-After") is not None


async def test_an_attacker_cannot_lock_the_real_phone_out_and_learns_nothing_of_users(voice_hub, tmp_path: Path):
    phone, _ = await agent_phone(voice_hub, tmp_path / "account", ready=False)  # agent1's account works
    await phone.stop()
    port = voice_hub.services.ports.voice.sip_port()
    attacker = RawUac(port)  # 127.0.0.1
    try:
        known = [answer(await attempt(attacker, "agent1", f"guess-{i}", 10 + 2 * i)) for i in range(8)]
        unknown = [answer(await attempt(attacker, "no-such-phone", f"guess-{i}", 40 + 2 * i)) for i in range(8)]
        # the same answers whether the user exists or not, blocked after the 5th failure for that user
        assert known == unknown == [(403, "Forbidden (wrong credentials)", False)] * 4 + \
            [(403, "Too many failed attempts", True)] * 4
        assert answer(await attempt(attacker, "agent1", PHONE_PASSWORD, 80)) == (403, "Too many failed attempts", True)
    finally:
        attacker.close()
    # the desk phone on its own address (another loopback IP) still registers
    desk = Sipp(tmp_path / "phone", "phone_registers.xml", f"127.0.0.1:{port}", local_ip="127.0.0.2",
                 timeout_s=15, extra=["-s", "agent1", "-au", "agent1", "-ap", PHONE_PASSWORD])
    await desk.start()
    try:
        assert await desk.wait() == 0, desk.log()
    finally:
        await desk.stop()
    voice = voice_hub.services.ports.voice
    assert any(b.username == "agent1" and b.source[0] == "127.0.0.2"
               for b in voice.registrar.active_bindings(voice.engine.now()))
    # guessing across many users from one address blocks the address for every user
    sprayer = RawUac(port, local_ip="127.0.0.3")
    try:
        sprayed = [answer(await attempt(sprayer, f"user{i}", "guess", 100 + 2 * i)) for i in range(21)]
        assert sprayed[:19] == [(403, "Forbidden (wrong credentials)", False)] * 19
        assert sprayed[19:] == [(403, "Too many failed attempts", True)] * 2
    finally:
        sprayer.close()
