"""/api/ivr against a real hub (SQLite; restarts also PostgreSQL): flows, validation, publishing, prompts,
number routing, permissions, and the published flow the call service gets."""

from __future__ import annotations

import asyncio
import io
import subprocess
import wave
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.hub import InProcessHub, running_hub
from voice.ivr import IvrSession
from voice.ivr.demo import DEMO_NUMBER
from voice.ivr.model import Enqueue, Play, Prompt


@pytest.fixture
async def ivr_hub(tmp_path: Path, database_url: str) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", database_url, ivr_prerender_tts=False) as h:
        yield h


def simple_flow(name: str = "Support line", queue: str = "general") -> dict[str, Any]:
    return {"name": name, "start": "menu", "nodes": {
        "menu": {"type": "menu", "prompt": [{"text": "Press 1 for support"}],
                 "options": {"1": "q"}, "default": "bye"},
        "q": {"type": "queue", "queue_id": queue},
        "bye": {"type": "hangup", "prompt": [{"text": "Goodbye"}]},
    }}


def wav_bytes(rate: int = 16000, channels: int = 2, seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        import math
        frames = bytearray()
        for i in range(int(rate * seconds)):
            v = int(8000 * math.sin(2 * math.pi * 440 * i / rate))
            frames += v.to_bytes(2, "little", signed=True) * channels
        w.writeframes(bytes(frames))
    return buf.getvalue()


async def test_demo_main_line_is_published_and_answers_a_newcomer_at_any_hour(
        ivr_hub: InProcessHub) -> None:
    admin = await ivr_hub.client("admin")
    flows = (await admin.ok("GET", "/api/ivr/flows"))["flows"]
    main = next(f for f in flows if f["name"] == "Main line")
    assert main["published_version"] == 1 and main["numbers"] == [DEMO_NUMBER]
    detail = await admin.ok("GET", f"/api/ivr/flows/{main['id']}")
    assert detail["problems"] == []

    flow = ivr_hub.services.ports.ivr.flow_for_number(DEMO_NUMBER)
    assert flow is not None and flow.version == 1
    tz = ZoneInfo("Asia/Shanghai")
    # a working Monday morning: welcome, then the menu; 2 → the repairs queue
    now = datetime(2026, 11, 23, 10, 0, tzinfo=tz).timestamp()
    s = IvrSession(flow, caller="+8613800001111", now=now)
    first = s.start(now)
    assert "Welcome to City Gas" in first[0].prompts[0].value
    from voice.ivr.model import Dtmf
    out = s.handle(Dtmf("2"), now)
    enq = next(a for a in out if isinstance(a, Enqueue))
    queues = await admin.ok("GET", "/api/queues")
    assert enq.queue_id == next(q["id"] for q in queues if q["name"] == "Repairs and leaks")
    assert enq.priority == 5
    # the demo line is open around the clock (issue #18, 9): someone trying the demo on a Sunday
    # night or on New Year's Day is welcomed, not sent to the night message
    for when in (datetime(2026, 11, 29, 3, 0, tzinfo=tz), datetime(2027, 1, 1, 10, 0, tzinfo=tz)):
        s = IvrSession(flow, caller="+8613800001111", now=when.timestamp())
        play = s.start(when.timestamp())[0]
        assert isinstance(play, Play) and "Welcome to City Gas" in play.prompts[0].value, when
    # business hours are shown as an example on a queue of their own (closed: the general queue);
    # the queues the demo's chats and calls use answer around the clock, whatever the hour
    accounts = next(q for q in queues if q["name"] == "Account services")
    office = next(c for c in await admin.ok("GET", "/api/calendars") if c["name"] == "Office hours")
    assert accounts["calendar_id"] == office["id"] and office["weekly"]["0"] == [["08:00", "20:00"]]
    assert accounts["closed_target"] == {"kind": "queue", "queue_id": "general"}
    assert [q["name"] for q in queues if q["calendar_id"]] == ["Account services"]
    # voice is off in this hub: the IVR page is told the numbers answer no calls (its notice)
    status = await admin.ok("GET", "/api/ivr/status")
    assert status["voice_enabled"] is False and status["sip_port"] is None


async def test_flow_crud_and_drafts_with_problems(ivr_hub: InProcessHub) -> None:
    admin = await ivr_hub.client("admin")
    created = await admin.ok("POST", "/api/ivr/flows", {"name": "Support line",
                                                        "definition": simple_flow()}, status=201)
    fid = created["id"]
    assert created["problems"] == [] and created["published_version"] is None
    # a draft may be saved with structural problems: they are listed
    broken = simple_flow()
    broken["nodes"]["menu"]["options"]["2"] = "nowhere"
    broken["nodes"]["orphan"] = {"type": "hangup"}
    body = await admin.ok("PATCH", f"/api/ivr/flows/{fid}", {"definition": broken})
    problems = {(p["node"], p["field"], p["message"]) for p in body["problems"]}
    assert ("menu", "options.2", "refers to unknown node 'nowhere'") in problems
    assert ("orphan", "", "is unreachable from the start node") in problems
    # a definition with the wrong shape is refused and changes nothing
    r = await admin.patch(f"/api/ivr/flows/{fid}", json={"definition": {
        "name": "x", "start": "a", "nodes": {"a": {"type": "menu", "options": {"12": "a"}}}}})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "ivr_flow_invalid"
    assert r.json()["problems"][0]["node"] == "a"
    still = await admin.ok("GET", f"/api/ivr/flows/{fid}")
    assert "orphan" in still["definition"]["nodes"]
    # validate without saving
    v = await admin.ok("POST", f"/api/ivr/flows/{fid}/validate", {"definition": simple_flow()})
    assert v["problems"] == []
    # names are unique
    r = await admin.post("/api/ivr/flows", json={"name": "Support line",
                                                 "definition": simple_flow()})
    assert r.status_code == 409
    renamed = await admin.ok("PATCH", f"/api/ivr/flows/{fid}", {"name": "Help line"})
    assert renamed["name"] == "Help line"
    assert any(f["name"] == "Help line" for f in (await admin.ok("GET", "/api/ivr/flows"))["flows"])
    r = await admin.delete(f"/api/ivr/flows/{fid}")
    assert r.status_code == 204
    assert (await admin.get(f"/api/ivr/flows/{fid}")).status_code == 404


async def test_publish_refuses_problems_then_versions_are_immutable(ivr_hub: InProcessHub) -> None:
    admin = await ivr_hub.client("admin")
    bad = simple_flow(queue="no-such-queue")
    fid = (await admin.ok("POST", "/api/ivr/flows", {"name": "Sales",
                                                     "definition": bad}, status=201))["id"]
    r = await admin.post(f"/api/ivr/flows/{fid}/publish")
    assert r.status_code == 422
    assert {"node": "q", "field": "queue_id", "message": "unknown queue 'no-such-queue'",
            "code": "unknown_queue", "params": {"queue": "no-such-queue"}} in r.json()["problems"]
    assert (await admin.ok("GET", f"/api/ivr/flows/{fid}"))["published_version"] is None

    await admin.ok("PATCH", f"/api/ivr/flows/{fid}", {"definition": simple_flow()})
    pub = await admin.ok("POST", f"/api/ivr/flows/{fid}/publish")
    assert pub["version"] == 1
    await admin.ok("PUT", "/api/ivr/numbers/+86 10 5555-0100", {"flow_id": fid})
    ivr = ivr_hub.services.ports.ivr
    flow = ivr.flow_for_number("+861055550100")
    assert flow is not None and flow.definition.nodes["menu"].prompt[0].text == "Press 1 for support"

    # editing the draft does not change what calls use until it is published again
    changed = simple_flow()
    changed["nodes"]["menu"]["prompt"] = [{"text": "Press 1 for sales"}]
    await admin.ok("PATCH", f"/api/ivr/flows/{fid}", {"definition": changed})
    assert ivr.flow_for_number("+861055550100").definition.nodes["menu"].prompt[0].text == \
        "Press 1 for support"
    assert (await admin.ok("POST", f"/api/ivr/flows/{fid}/publish"))["version"] == 2
    assert ivr.flow_for_number("+861055550100").version == 2
    v1 = await admin.ok("GET", f"/api/ivr/flows/{fid}/versions/1")
    assert v1["definition"]["nodes"]["menu"]["prompt"] == [{"text": "Press 1 for support"}]
    numbers = (await admin.ok("GET", "/api/ivr/numbers"))["numbers"]
    assert {"number": "+861055550100", "flow_id": fid, "flow_name": "Sales"} in numbers
    assert (await admin.delete("/api/ivr/numbers/+861055550100")).status_code == 204
    assert ivr.flow_for_number("+861055550100") is None
    assert (await admin.http.put("/api/ivr/numbers/12;drop", json={"flow_id": fid})).status_code == 422


async def test_permissions(ivr_hub: InProcessHub) -> None:
    anon = await ivr_hub.client()
    assert (await anon.get("/api/ivr/flows")).status_code == 401
    agent = await ivr_hub.client("agent1")
    assert (await agent.get("/api/ivr/flows")).status_code == 403
    sup = await ivr_hub.client("supervisor")
    flows = (await sup.ok("GET", "/api/ivr/flows"))["flows"]
    assert flows  # supervisors read
    fid = flows[0]["id"]
    assert (await sup.get(f"/api/ivr/flows/{fid}")).status_code == 200
    assert (await sup.post("/api/ivr/flows", json={"name": "x", "definition": simple_flow()})
            ).status_code == 403
    assert (await sup.post(f"/api/ivr/flows/{fid}/publish")).status_code == 403
    assert (await sup.delete(f"/api/ivr/flows/{fid}")).status_code == 403
    assert (await sup.http.put("/api/ivr/numbers/5", json={"flow_id": fid})).status_code == 403


async def test_prompt_upload_converts_and_bad_files_store_nothing(ivr_hub: InProcessHub) -> None:
    admin = await ivr_hub.client("admin")
    definition = simple_flow()
    definition["nodes"]["menu"]["prompt"] = [{"file": "welcome"}]
    fid = (await admin.ok("POST", "/api/ivr/flows", {"name": "Files",
                                                     "definition": definition}, status=201))["id"]
    detail = await admin.ok("GET", f"/api/ivr/flows/{fid}")
    assert {"node": "menu", "field": "prompt.0", "message": "prompt file 'welcome' is not uploaded",
            "code": "prompt_file_missing", "params": {"file": "welcome"}} in detail["problems"]
    prompt_dir = ivr_hub.settings.data_dir / "ivr" / "prompts" / fid

    # not a WAV: 415, nothing stored
    r = await admin.http.put(f"/api/ivr/flows/{fid}/prompts/welcome",
                             files={"file": ("welcome.mp3", b"ID3\x03\x00fake mp3", "audio/mpeg")})
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "ivr_prompt_unsupported"
    # a damaged WAV: 422, nothing stored
    r = await admin.http.put(f"/api/ivr/flows/{fid}/prompts/welcome",
                             files={"file": ("welcome.wav", b"RIFF\x10\x00\x00\x00WAVEfmt junk",
                                             "audio/wav")})
    assert r.status_code == 422, r.text
    # not multipart
    r = await admin.http.put(f"/api/ivr/flows/{fid}/prompts/welcome", content=b"x",
                             headers={"content-type": "audio/wav"})
    assert r.status_code == 415
    assert (await admin.ok("GET", f"/api/ivr/flows/{fid}"))["prompts"] == []
    assert not prompt_dir.exists() or not any(prompt_dir.iterdir())

    # a 16 kHz stereo WAV is stored as 8 kHz mono 16-bit
    r = await admin.http.put(f"/api/ivr/flows/{fid}/prompts/welcome",
                             files={"file": ("Welcome.wav", wav_bytes(16000, 2, 0.5), "audio/wav")})
    assert r.status_code == 201, r.text
    assert r.json()["duration_s"] == pytest.approx(0.5, abs=0.01)
    audio = await admin.get(f"/api/ivr/flows/{fid}/prompts/welcome/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 4000
    # a µ-law WAV goes through sox
    ulaw = ivr_hub.settings.data_dir / "u.wav"
    await asyncio.to_thread(subprocess.run, ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law",
                                             str(ulaw), "synth", "0.3", "sine", "300"], check=True)
    r = await admin.http.put(f"/api/ivr/flows/{fid}/prompts/hold",
                             files={"file": ("hold.wav", ulaw.read_bytes(), "audio/wav")})
    assert r.status_code == 201, r.text

    assert (await admin.ok("GET", f"/api/ivr/flows/{fid}"))["problems"] == []
    await admin.ok("POST", f"/api/ivr/flows/{fid}/publish")
    await admin.ok("PUT", "/api/ivr/numbers/7000", {"flow_id": fid})
    flow = ivr_hub.services.ports.ivr.flow_for_number("7000")
    s = IvrSession(flow, now=0)
    play = s.start(0)[0]
    assert play.prompts[0].path is not None
    assert await asyncio.to_thread(Path(play.prompts[0].path).is_file)
    # a prompt the published version uses cannot be deleted
    r = await admin.delete(f"/api/ivr/flows/{fid}/prompts/welcome")
    assert r.status_code == 409
    assert (await admin.delete(f"/api/ivr/flows/{fid}/prompts/hold")).status_code == 204
    sup = await ivr_hub.client("supervisor")
    assert (await sup.get(f"/api/ivr/flows/{fid}/prompts/welcome/audio")).status_code == 200
    r = await sup.http.put(f"/api/ivr/flows/{fid}/prompts/x",
                           files={"file": ("x.wav", wav_bytes(), "audio/wav")})
    assert r.status_code == 403


@pytest.mark.slow
async def test_static_tts_prompts_are_rendered_when_published(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", "", ivr_prerender_tts=True) as hub:
        admin = await hub.client("admin")
        ivr = hub.services.ports.ivr
        await ivr.wait_prerendered()
        definition = {"name": "Tts", "start": "p", "nodes": {
            "p": {"type": "play", "prompts": [{"text": "Thank you for calling."},
                                              {"text": "Hello {caller}"}]}}}
        fid = (await admin.ok("POST", "/api/ivr/flows", {"name": "Tts",
                                                         "definition": definition}, status=201))["id"]
        await admin.ok("POST", f"/api/ivr/flows/{fid}/publish")
        await admin.ok("PUT", "/api/ivr/numbers/7100", {"flow_id": fid})
        await ivr.wait_prerendered()
        flow = ivr.flow_for_number("7100")
        play = IvrSession(flow, caller="+1555", now=0).start(0)[0]
        static, dynamic = play.prompts
        assert static.path is not None
        with wave.open(static.path) as w:
            assert w.getframerate() == 8000 and w.getnframes() > 8000 * 0.5
        assert dynamic.value == "Hello +1555" and dynamic.path is None  # rendered at play time
        rendered = await ivr.audio_for(dynamic)
        assert rendered is not None and rendered != static.path
        with wave.open(rendered) as w:
            assert w.getframerate() == 8000 and w.getnframes() > 8000 * 0.3
        assert await ivr.audio_for(dynamic) == rendered  # once per text
        assert await ivr.audio_for(static) == static.path


async def test_sessions_know_the_caller_and_the_contact_hook_answers_lookups(
        ivr_hub: InProcessHub) -> None:
    ivr = ivr_hub.services.ports.ivr
    session = await ivr.new_session(DEMO_NUMBER, "+8613900002222", 0.0, session_id="c1:")
    assert session is not None and session.vip is True  # Li Na is a VIP contact
    assert session.variables["contact_name"] == "Li Na"
    unknown = await ivr.new_session(DEMO_NUMBER, "+15550199", 0.0)
    assert unknown.vip is False and "contact_id" not in unknown.variables
    assert await ivr.new_session("9999", "+15550199", 0.0) is None  # no flow for that number

    found = await ivr.lookup("contact", {"caller": "+86 139 0000 2222"})
    assert found.error is None
    assert found.value["found"] is True and found.value["account_no"] == "GC-200876"
    assert (await ivr.lookup("contact", {"caller": "+15550199"})).value == {"found": False}
    missing = await ivr.lookup("balance", {})
    assert missing.error == "no lookup hook named 'balance'"

    async def slow(args: dict) -> int:
        await asyncio.sleep(5)
        return 1

    async def broken(args: dict) -> int:
        raise RuntimeError("backend down")

    ivr.register_hook("slow", slow)
    ivr.register_hook("broken", broken)
    assert (await ivr.lookup("slow", {}, timeout_s=0.05)).error == "timeout"
    assert (await ivr.lookup("broken", {})).error == "backend down"


@pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)
async def test_a_deleted_demo_flow_is_not_seeded_again(tmp_path: Path, database_url: str) -> None:
    async with running_hub(tmp_path / "data", database_url, ivr_prerender_tts=False) as hub:
        admin = await hub.client("admin")
        main = (await admin.ok("GET", "/api/ivr/flows"))["flows"][0]
        assert (await admin.delete(f"/api/ivr/flows/{main['id']}")).status_code == 204
    async with running_hub(tmp_path / "data", database_url, ivr_prerender_tts=False) as hub:
        admin = await hub.client("admin")
        assert (await admin.ok("GET", "/api/ivr/flows"))["flows"] == []
        assert hub.services.ports.ivr.flow_for_number(DEMO_NUMBER) is None


async def test_voice_tts_settings_choose_the_engine_that_speaks_prompts(tmp_path: Path) -> None:
    """``voice_tts_*`` settings reach the engine IVR prompts are rendered with; /api/ivr/voices
    lists the voices a prompt may name and says why a configured engine is absent."""
    missing_coqui = tmp_path / "no-coqui-model"
    async with running_hub(tmp_path / "data", "", ivr_prerender_tts=False,
                           voice_tts_engines=("coqui", "espeak-ng"),
                           voice_tts_coqui_model=str(missing_coqui),
                           voice_tts_language_voices=("zh=espeak-ng:zh",)) as hub:
        agent = await hub.client("agent1")
        assert (await agent.get("/api/ivr/voices")).status_code == 403
        admin = await hub.client("admin")
        voices = await admin.ok("GET", "/api/ivr/voices")
        assert voices["engine"] == "espeak-ng"  # piper is not listed; coqui has no usable model
        assert set(voices["skipped"]) == {"coqui"}
        assert {v["engine"] for v in voices["voices"]} == {"espeak-ng"}
        assert "espeak-ng:zh" in {v["id"] for v in voices["voices"]}
        assert voices["language_voices"] == {"zh": "espeak-ng:zh"}
        # a prompt naming a listed voice is spoken by it
        ivr = hub.services.ports.ivr
        rendered = await ivr.audio_for(Prompt(kind="tts", value="Thank you", voice="espeak-ng:en-us"))
        assert rendered is not None
        with wave.open(rendered) as w:
            assert w.getframerate() == 8000 and w.getnframes() > 8000 * 0.3


async def test_no_tts_engine_at_all_is_reported_not_raised(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", "", ivr_prerender_tts=False,
                           voice_tts_engines=("piper",),
                           voice_tts_piper_voices=(f"gone={tmp_path / 'gone.onnx'}",)) as hub:
        admin = await hub.client("admin")
        voices = await admin.ok("GET", "/api/ivr/voices")
        assert voices["engine"] is None and voices["voices"] == []
        assert "piper" in voices["skipped"] and "no TTS engine" in voices["error"]


async def test_agents_named_by_a_flow_must_exist(ivr_hub: InProcessHub) -> None:
    admin = await ivr_hub.client("admin")
    agent1 = (await ivr_hub.client("agent1")).user["id"]
    definition = {"name": "Mailboxes", "start": "vm", "nodes": {
        "vm": {"type": "voicemail", "mailbox": "alice", "agent_id": "nobody", "next": "t"},
        "t": {"type": "transfer", "kind": "agent", "target": "ghost"}}}
    fid = (await admin.ok("POST", "/api/ivr/flows", {"name": "Mailboxes", "definition": definition},
                          status=201))["id"]
    problems = (await admin.ok("GET", f"/api/ivr/flows/{fid}"))["problems"]
    assert {(p["node"], p["field"], p["message"]) for p in problems} >= {
        ("vm", "agent_id", "unknown agent 'nobody'"), ("t", "target", "unknown agent 'ghost'")}
    r = await admin.post(f"/api/ivr/flows/{fid}/publish")
    assert r.status_code in (409, 422) and "problem" in r.text
    definition["nodes"]["vm"]["agent_id"] = agent1
    definition["nodes"]["t"]["target"] = agent1
    await admin.ok("PATCH", f"/api/ivr/flows/{fid}", {"definition": definition})
    problems = (await admin.ok("GET", f"/api/ivr/flows/{fid}"))["problems"]
    assert not [p for p in problems if "agent" in p["message"]]
