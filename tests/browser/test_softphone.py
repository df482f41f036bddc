"""Acceptance 3 of the voice issue, in real Chromium with a fake microphone playing speech
(espeak-ng): a sipp caller phones the hub, agent 1 answers on the browser softphone in the desk,
audio flows both ways, the caller is held and resumed, the agent reloads the page and the desk
reconnects to the call by itself, the supervisor listens from the
wallboard, the call is transferred to agent 2's browser, who answers, talks and hangs up; the
stored recording has the caller and the agent on its two channels."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.hubs import voice_hub
from tests.browser.steps import go_ready, log_in, open_desk
from tests.support.hub import ThreadedHub
from tests.voice.calls.support import free_udp_port

pytestmark = pytest.mark.browser

SCENARIO = Path(__file__).resolve().parents[1] / "voice" / "webrtc" / "caller_loops.xml"
PCAPS = Path("/usr/share/sip-tester")
SPEECH = ("Good morning, this is the gas company customer service. I can see your meter reading "
          "and the last bill. Let me check the account for you.")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agents' microphone: a WAV of speech made by espeak-ng at test time."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed (Debian package espeak-ng)")
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    subprocess.run([espeak, "-w", str(path), SPEECH], check=True, timeout=30)
    return path


@pytest.fixture(scope="module")
def browser(speech_wav: Path) -> Iterator[Browser]:
    """Chromium as in conftest, plus a fake microphone (the speech WAV) and no media prompts."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech_wav}", "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True, timeout=30_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    """A hub with voice on: SIP on a free UDP port, loopback as the trunk, 5000 → General."""
    with voice_hub(tmp_path, request, HUB_VOICE_ROUTES="5000=general") as h:
        yield h


@pytest.fixture
def caller(hub: ThreadedHub, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """``caller()`` starts sipp calling 5000 and talking (the g711a.pcap speech, looped) until
    the hub hangs up; killed at teardown."""
    procs: list[subprocess.Popen[bytes]] = []
    work = tmp_path / "sipp"
    work.mkdir()
    (work / "pcap").symlink_to(PCAPS)

    def start() -> subprocess.Popen[bytes]:
        sipp = shutil.which("sipp")
        assert sipp, "sipp is not installed (Debian package sip-tester)"
        log = open(work / "sipp.out", "wb")  # noqa: SIM115 - closed with the process below
        proc = subprocess.Popen(
            [sipp, f"127.0.0.1:{hub.sip_port}", "-sf", str(SCENARIO), "-s", "5000",  # type: ignore[attr-defined]
             "-i", "127.0.0.1", "-p", str(free_udp_port()), "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
             "-m", "1", "-timeout", "90s", "-timeout_error", "-nostdin", "-trace_err",
             "-error_file", str(work / "sipp.err")],
            cwd=work, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        proc.log = log  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        p.log.close()  # type: ignore[attr-defined]


def energy(locator: Locator) -> float:
    return float(locator.get_attribute("data-energy") or 0)


def hears_audio(page: Page, testid: str, above: float = 0.0, within_s: float = 10.0) -> float:
    """Wait until the inbound audio energy (RTCPeerConnection.getStats) shown by the page grows
    past ``above``; return it."""
    meter = page.get_by_test_id(testid)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = energy(meter)
        if value > above + 0.001:
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"{testid}: no audio energy beyond {above} in {within_s} s")


def answer_call(page: Page, caller_prefix: str) -> None:
    ring = page.get_by_test_id("softphone-incoming")
    expect(ring.get_by_test_id("softphone-caller")).to_contain_text(caller_prefix)
    ring.get_by_test_id("softphone-answer").click()
    expect(page.get_by_test_id("softphone-call")).to_have_attribute("data-state", "talking")
    expect(page.get_by_test_id("conversation-status")).to_have_text("assigned")
    expect(page.get_by_test_id("conversation-channel")).to_contain_text("Voice")


def test_agent_answers_a_call_in_the_browser_holds_is_monitored_and_transfers(
    person: Callable[[str], Page], caller: Callable[[], subprocess.Popen[bytes]], hub: ThreadedHub,
    admin_api: httpx.Client, artifacts: Path,
) -> None:
    agent1, agent2, supervisor = person("agent1"), person("agent2"), person("supervisor")
    # Alice and Bob have the desk open; their softphones come online. Alice is ready.
    open_desk(agent1, "agent1")
    expect(agent1.get_by_test_id("softphone-status")).to_have_text("online")
    go_ready(agent1)
    open_desk(agent2, "agent2")
    expect(agent2.get_by_test_id("softphone-status")).to_have_text("online")
    log_in(supervisor, "supervisor")
    supervisor.goto("/wallboard")
    expect(supervisor.get_by_test_id("call-monitor")).to_be_visible()

    # A customer phones in; Alice's softphone rings with the caller's number and she answers.
    sipp = caller()
    answer_call(agent1, "+4930765432")
    pop = agent1.get_by_test_id("screen-pop")  # an unknown number: the new-customer form, prefilled
    expect(pop).to_contain_text("Caller 1")
    expect(pop.get_by_role("textbox", name="Phone")).to_have_value("+49307654321")
    # the caller's speech reaches Alice's browser
    heard = hears_audio(agent1, "softphone-level")
    agent1.screenshot(path=str(artifacts / "softphone-talking.png"))

    # Hold: the caller gets music on hold and Alice hears nothing; then she resumes.
    agent1.get_by_test_id("softphone-hold").click()
    expect(agent1.get_by_test_id("softphone-call-state")).to_have_text("on hold")
    call = admin_api.get("/api/voice/monitor/calls").json()["calls"][0]
    assert call["held_by_agent"] is True and call["state"] == "bridged"
    meter = agent1.get_by_test_id("softphone-level")
    expect(meter).to_have_attribute("data-level", re.compile(r"^0\.00"))  # silence now
    on_hold = energy(meter)
    agent1.wait_for_timeout(1000)
    assert energy(meter) - on_hold < 0.002, "the agent still hears the caller while holding"
    agent1.get_by_test_id("softphone-hold").click()
    expect(agent1.get_by_test_id("softphone-call-state")).to_have_text("talking")
    hears_audio(agent1, "softphone-level", above=energy(agent1.get_by_test_id("softphone-level")))
    assert admin_api.get("/api/voice/monitor/calls").json()["calls"][0]["held_by_agent"] is False

    # Alice reloads the page mid-call: the call waits for her, the desk reconnects to it by itself
    # and the caller's speech reaches her again; the caller was never dropped.
    agent1.reload()
    expect(agent1.get_by_test_id("softphone-call")).to_have_attribute("data-state", "talking")
    hears_audio(agent1, "softphone-level")
    expect(agent1.get_by_test_id("softphone-elsewhere")).to_have_count(0)
    [live] = admin_api.get("/api/voice/monitor/calls").json()["calls"]
    assert live["state"] == "bridged" and sipp.poll() is None

    # The supervisor listens in from the wallboard and hears the call.
    row = supervisor.get_by_test_id("monitor-call").filter(has_text="+4930765432")
    expect(row).to_have_attribute("data-state", "bridged")
    row.get_by_test_id("monitor-start").click()
    expect(row.get_by_test_id("monitor-mode")).to_have_text("listen")
    hears_audio(supervisor, "monitor-level")
    supervisor.screenshot(path=str(artifacts / "supervisor-listening.png"), full_page=True)
    row.get_by_test_id("monitor-stop").click()
    expect(row.get_by_test_id("monitor-start")).to_be_visible()

    # Bob becomes ready; Alice transfers the call to Billing from the softphone; Bob's rings.
    go_ready(agent2)
    agent1.get_by_test_id("softphone-transfer").click()
    agent1.get_by_test_id("transfer-queue").select_option(label="Billing")
    agent1.get_by_test_id("transfer-note").fill("Billing question on a voice call")
    agent1.get_by_test_id("transfer-confirm").click()
    expect(agent1.get_by_test_id("softphone-call")).to_have_count(0)
    answer_call(agent2, "+4930765432")
    expect(agent2.get_by_test_id("conversation-queue")).to_have_text("Billing")
    hears_audio(agent2, "softphone-level")
    agent2.screenshot(path=str(artifacts / "softphone-transferred.png"))

    # Bob hangs up: the caller gets a BYE (sipp ends cleanly) and Bob is in wrap-up.
    agent2.get_by_test_id("softphone-hangup").click()
    expect(agent2.get_by_test_id("softphone-call")).to_have_count(0)
    assert sipp.wait(timeout=15) == 0, (Path(sipp.args[-1]).read_text(errors="replace")
                                        if Path(sipp.args[-1]).exists() else "sipp failed")
    expect(agent2.get_by_test_id("agent-state")).to_have_text("wrap_up")
    assert heard > 0

    # The recording: caller on the left channel, what the caller heard (the agents) on the right.
    deadline = time.monotonic() + 10
    records: list[dict[str, object]] = []
    while time.monotonic() < deadline and not records:
        records = [r for r in admin_api.get("/api/voice/calls").json()["records"] if r["recording_attachment_id"]]
        time.sleep(0.2)
    assert records, "no call recording was stored"
    rec = records[0]
    assert rec["end_reason"] == "agent_hangup"
    # a recording is served only by its own route (issue #16), found in the recordings search
    found = admin_api.get("/api/voice/recordings").json()["items"]
    (item,) = [i for i in found if i["attachment_id"] == rec["recording_attachment_id"]]
    wav = admin_api.get(item["audio_url"])
    assert wav.status_code == 200
    (artifacts / "softphone-call.wav").write_bytes(wav.content)
    with wave.open(io.BytesIO(wav.content)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).astype(np.float64)
    caller_rms = float(np.sqrt(np.mean(samples[:, 0] ** 2)))
    assert caller_rms > 300, caller_rms
    # The right channel also holds music on hold (pure tones); the agents' speech is what is
    # broadband: count the half-seconds with energy spread over the spectrum.
    speech = [w for w in (samples[i:i + 4000, 1] for i in range(0, len(samples) - 4000, 4000))
              if np.sqrt(np.mean(w ** 2)) > 300 and tonal_fraction(w) < 0.6]
    assert len(speech) >= 4, f"only {len(speech) / 2} s of the agents' speech reached the caller"



def test_a_supervisor_ends_a_waiting_call_from_the_wallboard(
    person: Callable[[str], Page], caller: Callable[[], subprocess.Popen[bytes]], admin_api: httpx.Client,
) -> None:
    # A caller waits in General (nobody is ready); the supervisor ends the call from the wallboard.
    supervisor = person("supervisor")
    log_in(supervisor, "supervisor")
    supervisor.goto("/wallboard")
    sipp = caller()
    row = supervisor.get_by_test_id("monitor-call").filter(has_text="+4930765432")
    expect(row).to_have_attribute("data-state", "queued", timeout=15_000)
    supervisor.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("end-call").click()
    expect(supervisor.get_by_test_id("monitor-call")).to_have_count(0)
    assert sipp.wait(timeout=15) == 0  # the caller got the hub's BYE
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not admin_api.get("/api/voice/calls").json()["records"][0]["end_reason"]:
        time.sleep(0.1)
    assert admin_api.get("/api/voice/calls").json()["records"][0]["end_reason"] == "ended_by_supervisor"

def tonal_fraction(window: np.ndarray) -> float:
    """Share of a window's energy in its 16 strongest frequency bins (music on hold: ~0.9;
    speech: 0.1-0.5)."""
    power = np.abs(np.fft.rfft(window)) ** 2
    return float(np.sort(power)[-16:].sum() / max(power.sum(), 1.0))
