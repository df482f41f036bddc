"""The demo's phone line out of the box (issue #18, items 6 and 9).

``make run`` (``HUB_DEMO=1``, the Chinese demo) turns voice on with SIP on 127.0.0.1:5060 and this
machine as the demo trunk, so a sipp caller on loopback reaches the main line 4000 without a digest
challenge. The line's text prompts are rendered when the hub starts, before any call (into the
prompt cache keyed by text, TTS engine and voice), and the caller hears the welcome right after
the 200 OK: the first loud RTP packet comes no later than the rendering's own lead-in plus a small
bound (on the first call after the start, when the prompt used to be synthesised first)."""

from __future__ import annotations

import asyncio
import re
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bootstrap import build_app, load_settings
from tests.support.hub import REPO, TEST_SCRYPT_N, TTS_CACHE, InProcessHub
from tests.support.wait import eventually
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp, free_udp_port
from voice.audio import ulaw_decode
from voice.calls.settings import VoiceSettings
from voice.ivr.demo import DEMO_NUMBER
from voice.ivr.prerender import flow_prompts

pytestmark = pytest.mark.slow

LOUD = 1000  # |sample| above which a 16-bit sample counts as sound
MAX_EXTRA_SILENCE_S = 0.35  # dead air allowed after the 200 OK beyond the prompt's own lead-in


def test_the_demo_turns_voice_on_with_loopback_as_its_trunk() -> None:
    demo = load_settings(environ={"HUB_DEMO": "1"}).section(VoiceSettings)  # make run
    assert demo.enabled and demo.trunk_ips == ("127.0.0.1",)
    assert (demo.host, demo.sip_udp_port) == ("127.0.0.1", 5060)  # the README's port
    assert not load_settings(environ={}).section(VoiceSettings).enabled  # production: off
    assert not load_settings(environ={}).section(VoiceSettings).trunk_ips
    # an explicit setting wins over the demo's default
    off = load_settings(environ={"HUB_DEMO": "1", "HUB_VOICE_ENABLED": "0"}).section(VoiceSettings)
    assert not off.enabled


class TimedRtp(asyncio.DatagramProtocol):
    """The caller's RTP port: each PCMU packet's arrival (wall clock) and decoded samples."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, np.ndarray]] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) > 12 and data[0] >> 6 == 2 and data[1] & 0x7F == 0:
            payload = data[12 + 4 * (data[0] & 0x0F):]
            self.packets.append((time.time(), np.frombuffer(ulaw_decode(payload), dtype="<i2")))

    def first_loud(self) -> float | None:
        return next((t for t, s in self.packets if np.abs(s.astype(np.int32)).max() > LOUD), None)


def lead_in_s(path: str) -> tuple[float, float]:
    """(seconds before the first loud sample, length) of an 8 kHz WAV."""
    with wave.open(path, "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int32)
    loud = np.flatnonzero(np.abs(samples) > LOUD)
    return float(loud[0]) / 8000, len(samples) / 8000


def make_run_hub(data_dir: Path, **settings: Any) -> InProcessHub:
    """A hub configured as ``make run`` configures it (``HUB_DEMO=1`` and the defaults: the Chinese
    demo, voice on, loopback trusted, the default TTS engines), but on ephemeral SIP/RTP ports and
    the test hubs' shared prompt cache (each rendering is made once; the hub still renders, or
    finds, every prompt at its start and reports it), without the knowledge base (no phone part)."""
    hub = InProcessHub(data_dir)
    hub.settings = load_settings(
        environ={"HUB_DEMO": "1"}, data_dir=str(data_dir), port=hub.port, web_dir=str(REPO / "web" / "dist"),
        password_scrypt_n=TEST_SCRYPT_N, email_port=0, assist_bot="off", kb_enabled=False, voice_sip_udp_port=0,
        voice_sip_tcp_port=0, voice_rtp_port_min=0, voice_rtp_port_max=0, ivr_tts_cache_dir=str(TTS_CACHE), **settings)
    hub.app = build_app(hub.settings)
    return hub


async def test_the_demo_line_answers_a_loopback_caller_with_the_welcome_rendered_at_start(tmp_path: Path) -> None:
    hub = await make_run_hub(tmp_path / "data").start()
    try:
        admin = await hub.client("admin")
        status = await eventually(lambda: admin.ok("GET", "/api/ivr/status"), within=120,
                                  until=lambda s: not s["prompt_audio"]["rendering"],
                                  what="the published flows' prompts are rendered")
        assert status["voice_enabled"] is True and status["sip_port"] == sip_port(hub)
        flow = hub.services.ports.ivr.flow_for_number(DEMO_NUMBER)
        assert flow is not None and flow.definition.settings.language == "zh-CN"
        # every text the line can speak (its prompts, the built-in Chinese and English ones) is in
        # the cache before any call
        prompts = flow_prompts(flow.definition.model_dump(mode="json", exclude_none=True))
        assert status["prompt_audio"]["failed"] == []
        assert status["prompt_audio"]["rendered"] == status["prompt_audio"]["prompts"] == len(prompts)
        files = [Path(flow.audio[p.key]) for p in prompts]
        assert {f.parent for f in files} == {TTS_CACHE}
        assert all(await asyncio.to_thread(lambda: [f.is_file() for f in files]))
        assert any("对不起，您的输入有误" in p.text for p in prompts)  # a built-in prompt, in Chinese
        welcome = flow.audio[next(p.key for p in prompts if p.text.startswith("您好，欢迎致电"))]
        lead_in, welcome_s = await asyncio.to_thread(lead_in_s, welcome)

        ivr = hub.services.ports.ivr
        synthesised: list[str] = []
        play_time_rendering = ivr.audio_for

        async def audio_for(prompt: Any) -> str | None:  # what the call had to render itself
            synthesised.append(prompt.value)
            return await play_time_rendering(prompt)

        ivr.audio_for = audio_for
        recorder = TimedRtp()
        rtp_port = free_udp_port()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: recorder, local_addr=("127.0.0.1", rtp_port))
        answered_log = tmp_path / "sipp" / "answered.log"
        listen_ms = int((lead_in + 2.0) * 1000)
        sipp = Sipp(tmp_path / "sipp", "caller_hears_timed.xml", f"127.0.0.1:{sip_port(hub)}",
                    extra=["-s", DEMO_NUMBER, "-key", "rtp_port", str(rtp_port), "-d", str(listen_ms),
                           "-trace_logs", "-log_file", str(answered_log)])
        try:
            await sipp.start()
            # no 407: the loopback caller is the demo trunk, the scenario's INVITE gets its 200
            assert await sipp.wait(listen_ms / 1000 + 30) == 0, sipp.log()
        finally:
            await sipp.stop()
            transport.close()
        found = re.search(r"answered ([\d.]+) ([\d.]+)", await asyncio.to_thread(answered_log.read_text))
        assert found is not None, sipp.log()
        answered = float(found[1]) + float(found[2]) / 1e6
        first = recorder.first_loud()
        assert first is not None, "the caller heard no prompt"
        assert synthesised == []  # the welcome was ready before the call
        # the README's command (sipp's own caller, whose caller ID "sipp" is not a number) is
        # answered too
        readme = await asyncio.create_subprocess_exec(
            "sipp", "-sn", "uac", "-s", DEMO_NUMBER, "-m", "1", "-d", "500", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-nostdin", "-timeout", "20s", "-timeout_error",
            f"127.0.0.1:{sip_port(hub)}", cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(readme.communicate(), 40)
        assert readme.returncode == 0, out.decode(errors="replace")[-3000:]
        dead_air = first - answered - lead_in
        assert dead_air < MAX_EXTRA_SILENCE_S, (first - answered, lead_in)
        assert welcome_s > 2.0
    finally:
        await hub.stop()
    # a later start (the line already published, nothing seeded) renders its prompts again before
    # SIP listens: found in the cache, ready for the first call
    again = await make_run_hub(tmp_path / "data").start()
    try:
        admin = await again.client("admin")
        status = await eventually(lambda: admin.ok("GET", "/api/ivr/status"), within=60,
                                  until=lambda s: not s["prompt_audio"]["rendering"])
        assert status["prompt_audio"]["rendered"] == len(prompts) and status["prompt_audio"]["failed"] == []
        assert again.services.ports.ivr.flow_for_number(DEMO_NUMBER).audio[prompts[0].key] == str(files[0])
    finally:
        await again.stop()
