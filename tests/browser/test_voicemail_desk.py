"""Voicemail and callback tasks in the agent's desk (VOICE-8, VOICE-2 callback node): a hub with
voice on and no outbound trunk; a sipp caller leaves a Korean voicemail (espeak-ng, 8 kHz µ-law
RTP from a pcap made here) on one IVR number and asks for a callback on another. agent1 goes ready
in the browser, is offered both tasks, plays the voicemail in the conversation view (an <audio>
player whose length matches the message), reads its transcript note, closes it, and on the
callback task clicks "Call back <number>": without a trunk the desk says so."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.hubs import voice_hub
from tests.browser.steps import go_ready, go_to, log_in, open_desk
from tests.support.hub import ThreadedHub
from tests.voice.calls.speech import espeak_8k, write_rtp_pcap
from tests.voice.calls.support import SCENARIOS, free_udp_port
from voice.audio import ulaw_encode

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPEECH = "안녕하세요 가스 요금에 대해 문의하고 싶습니다"


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    with voice_hub(tmp_path, request, speech=True, HUB_VOICE_WEBRTC_ENABLED="0",
                   HUB_IVR_PRERENDER_TTS="0") as h:
        yield h


def publish(api: httpx.Client, number: str, node: dict[str, object]) -> None:
    definition = {"name": f"Flow {number}", "start": "n", "nodes": {"n": node}}
    r = api.post("/api/ivr/flows", json={"name": f"Flow {number}", "definition": definition})
    assert r.status_code == 201, r.text
    flow = r.json()
    assert api.post(f"/api/ivr/flows/{flow['id']}/publish", json={}).status_code == 200
    assert api.put(f"/api/ivr/numbers/{number}", json={"flow_id": flow["id"]}).status_code == 200


def sipp_call(hub: ThreadedHub, workdir: Path, scenario: str, number: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "sipp.out", "wb") as out:
        rc = subprocess.run(
            ["sipp", f"127.0.0.1:{hub.sip_port}", "-sf", str(SCENARIOS / scenario),  # type: ignore[attr-defined]
             "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
             "-m", "1", "-s", number, "-timeout", "60s", "-timeout_error", "-nostdin"],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=90).returncode
    assert rc == 0, (workdir / "sipp.out").read_text(errors="replace")[-2000:]


def test_agent_plays_a_voicemail_and_is_told_a_callback_needs_a_trunk(
        hub: ThreadedHub, agent1: Page, admin_api: httpx.Client, tmp_path: Path) -> None:
    publish(admin_api, "7100", {"type": "voicemail", "mailbox": "general", "silence_s": 1.5})
    publish(admin_api, "7200", {"type": "callback", "confirm": []})
    speech = espeak_8k(tmp_path, "vm", SPEECH)
    vm_dir = tmp_path / "vm"
    vm_dir.mkdir()
    write_rtp_pcap(vm_dir / "speech.pcap", ulaw_encode(speech.tobytes()))
    sipp_call(hub, vm_dir, "caller_leaves_voicemail.xml", "7100")
    sipp_call(hub, tmp_path / "cb", "caller_listens.xml", "7200")
    sup = httpx.Client(base_url=hub.base_url, timeout=10)
    assert sup.post("/api/auth/login", json={"username": "supervisor", "password": "demo"}).status_code == 200
    deadline = time.monotonic() + 60
    while True:  # both tasks are in the inbox and the voicemail has its transcript note
        items = sup.get("/api/conversations", params={"view": "all", "channel": "voice"}).json()["items"]
        subjects = sorted(i["subject"] or "" for i in items if i["status"] != "closed")
        vm = [i for i in items if (i["subject"] or "").startswith("Voicemail")]
        notes = [m for m in sup.get(f"/api/conversations/{vm[0]['id']}").json()["messages"]
                 if m["kind"] == "note"] if vm else []
        if len(subjects) == 2 and notes:
            break
        assert time.monotonic() < deadline, subjects
        time.sleep(0.3)
    sup.close()
    assert subjects[0] == "Call back +49301234561" and subjects[1].startswith("Voicemail from Caller 1")
    open_desk(agent1, "agent1")
    go_ready(agent1)
    seen: set[str] = set()
    for _ in range(2):
        agent1.get_by_test_id("offer-card").first.get_by_test_id("offer-accept").click()
        expect(agent1.get_by_test_id("conversation-status")).to_have_text("assigned")
        if agent1.get_by_test_id("voicemail-info").is_visible():
            seen.add("voicemail")
            player = agent1.get_by_test_id("attachment-audio")
            expect(player).to_be_visible()
            agent1.wait_for_function(
                "() => document.querySelector('[data-testid=attachment-audio]')?.duration > 0", timeout=10_000)
            duration = agent1.evaluate("() => document.querySelector('[data-testid=attachment-audio]').duration")
            assert len(speech) / 8000 - 0.3 <= duration <= len(speech) / 8000 + 3.5, duration
            expect(agent1.locator('[data-testid="message"][data-kind="note"]')
                   .filter(has_text="Voicemail transcript:")).to_have_count(1)
            agent1.get_by_test_id("close-open").click()
            agent1.get_by_test_id("close-confirm").click()
            expect(agent1.get_by_test_id("conversation-status")).to_have_text("closed")
            go_ready(agent1)  # out of wrap-up for the next offer
        else:
            seen.add("callback")
            button = agent1.get_by_test_id("callback-dial")
            expect(button).to_have_text("Call back +49301234561")
            button.click()
            expect(agent1.get_by_test_id("callback-error")).to_contain_text("no outbound trunk")
            expect(button).to_be_enabled()
            if "voicemail" not in seen:
                agent1.get_by_test_id("close-open").click()
                agent1.get_by_test_id("close-confirm").click()
                expect(agent1.get_by_test_id("conversation-status")).to_have_text("closed")
                go_ready(agent1)
    assert seen == {"voicemail", "callback"}


def test_admin_sets_who_is_notified_of_new_voicemail_in_the_flow_editor(
        hub: ThreadedHub, person, admin_api: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    admin: Page = person("admin")
    log_in(admin, "admin")
    go_to(admin, "nav-admin-ivr")
    admin.get_by_test_id("ivr-new").click()
    admin.get_by_test_id("ivr-new-name").fill("After hours")
    admin.get_by_test_id("ivr-create").click()
    expect(admin.get_by_test_id("ivr-name")).to_have_value("After hours")
    admin.get_by_test_id("ivr-new-node-id").fill("vm")
    admin.get_by_test_id("ivr-new-node-type").select_option("voicemail")
    admin.get_by_test_id("ivr-add-node").click()
    form = admin.get_by_test_id("ivr-node-form")
    expect(form).to_have_attribute("data-node", "vm")
    form.get_by_test_id("ivr-input-notify_email").fill("nobody")
    form.get_by_test_id("ivr-input-notify_email").press("Tab")
    admin.get_by_test_id("ivr-save").click()
    expect(admin.get_by_test_id("ivr-problem").filter(has_text="not an email address")).to_have_count(1)
    form.get_by_test_id("ivr-input-notify_email").fill("team@example.com, ops@example.com")
    form.get_by_test_id("ivr-input-notify_email").press("Tab")
    form.get_by_test_id("ivr-input-notify_sms").fill("+86 138 0013 8000")
    form.get_by_test_id("ivr-input-notify_sms").press("Tab")
    form.get_by_test_id("ivr-input-silence_s").fill("4")
    form.get_by_test_id("ivr-input-silence_s").press("Tab")
    form.get_by_test_id("ivr-input-agent_id").select_option(label="Alice Chen")  # her own mailbox
    admin.get_by_test_id("ivr-save").click()
    expect(admin.get_by_test_id("ivr-dirty")).to_be_hidden()
    flow = next(f for f in admin_api.get("/api/ivr/flows").json()["flows"] if f["name"] == "After hours")
    node = admin_api.get(f"/api/ivr/flows/{flow['id']}").json()["definition"]["nodes"]["vm"]
    assert node["notify_email"] == ["team@example.com", "ops@example.com"]
    assert node["notify_sms"] == ["+86 138 0013 8000"]  # as typed; the flow model normalises it
    assert node["silence_s"] == 4
    alice = next(u for u in admin_api.get("/api/users").json() if u["username"] == "agent1")
    assert node["agent_id"] == alice["id"]
