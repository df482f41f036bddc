"""The Chinese demo's main line speaks Mandarin (issue #17, acceptance 4): a sipp caller dials the
demo number 4000 during office hours and listens; the RTP the hub sends to the caller's address is
recorded here (µ-law decoded, placed by RTP timestamp). The recording is speech, not silence, and
its spoken part lasts as long as the Mandarin TTS rendering (espeak-ng ``cmn``) of the welcome prompt
it plays first (the main menu's prompt is Mandarin too)."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.audio import sox_stat, write_wav
from tests.support.hub import InProcessHub
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp, free_udp_port
from voice.audio import ulaw_decode
from voice.ivr.demo import DEMO_NUMBER
from voice.ivr.model import Prompt

pytestmark = pytest.mark.slow

MONDAY_MORNING = "2026-11-23T10:00:00+08:00"  # the demo calendar 营业时间 is open
LOUD = 1000  # |sample| above which a 16-bit sample counts as sound


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"demo_locale": "zh-CN", "clock_start": MONDAY_MORNING}


class RtpRecorder(asyncio.DatagramProtocol):
    """The caller's RTP port: keeps each PCMU packet's payload at its RTP timestamp."""

    def __init__(self) -> None:
        self.packets: list[tuple[int, int, bytes]] = []  # (seq, timestamp, payload)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or data[1] & 0x7F != 0:  # RTP v2, PCMU only
            return
        cc = data[0] & 0x0F
        seq = int.from_bytes(data[2:4], "big")
        ts = int.from_bytes(data[4:8], "big")
        self.packets.append((seq, ts, data[12 + 4 * cc:]))

    def pcm(self) -> bytes:
        """16-bit PCM of the stream, silence where no packet was sent."""
        if not self.packets:
            return b""
        first = self.packets[0][1]
        offsets = [((ts - first) & 0xFFFFFFFF, payload) for _, ts, payload in self.packets]
        length = max(off + len(p) for off, p in offsets)
        out = np.zeros(length, dtype=np.int16)
        for off, payload in offsets:
            out[off:off + len(payload)] = np.frombuffer(ulaw_decode(payload), dtype="<i2")
        return out.tobytes()


def spoken_seconds(pcm: bytes, rate: int = 8000) -> float:
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.flatnonzero(samples > LOUD)
    return 0.0 if len(loud) == 0 else float(loud[-1] - loud[0]) / rate


def espeak_cmn_8k(folder: Path, n: int, text: str) -> bytes:
    """``text`` spoken by espeak-ng's Mandarin voice (cmn), as 8 kHz 16-bit PCM (sox)."""
    wav, raw = folder / f"cmn{n}.wav", folder / f"cmn{n}.raw"
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(wav), text], check=True, timeout=60)
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16",
                    "-c", "1", str(raw)], check=True, timeout=60)
    return raw.read_bytes()


def wav_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.readframes(w.getnframes())


async def test_the_chinese_demo_line_plays_mandarin_prompts_into_the_call(voice_hub: InProcessHub,
                                                                      tmp_path: Path) -> None:
    ivr = voice_hub.services.ports.ivr
    await ivr.wait_prerendered()  # the line's prompts, rendered at start (in the shared test cache)
    flow = ivr.flow_for_number(DEMO_NUMBER)
    assert flow is not None and flow.definition.settings.language == "zh-CN"
    nodes = flow.definition.nodes
    # the welcome: the caller hears it first (the menu after it is as long again, and a caller that
    # only listens, sending no RTP, is hung up after voice_rtp_timeout_s)
    texts = [nodes["welcome"].prompts[0].text]
    assert all("您" in t for t in texts) and "您" in nodes["main"].prompt[0].text
    # the Mandarin renderings the hub plays (espeak-ng's zh voice: cmn), 8 kHz mono
    rendered = [await ivr.audio_for(Prompt("tts", t, None, None)) for t in texts]
    assert all(rendered), rendered
    prompts_pcm = b"".join(wav_pcm(Path(p)) for p in rendered)
    # they are espeak-ng's Mandarin voice: as long as its cmn rendering of the same texts
    cmn = b"".join(espeak_cmn_8k(tmp_path, i, t) for i, t in enumerate(texts))
    assert abs(len(cmn) - len(prompts_pcm)) / 2 / 8000 < 0.1
    prompts_s = len(prompts_pcm) / 2 / 8000
    expected_spoken_s = spoken_seconds(prompts_pcm)
    assert expected_spoken_s > 3.0

    loop = asyncio.get_running_loop()
    recorder = RtpRecorder()
    rtp_port = free_udp_port()
    transport, _ = await loop.create_datagram_endpoint(lambda: recorder, local_addr=("127.0.0.1", rtp_port))
    # hang up 1 s after the welcome, into the menu's prompt
    listen_ms = int((prompts_s + 1.0) * 1000)
    sipp = Sipp(tmp_path / "sipp", "caller_hears.xml", f"127.0.0.1:{sip_port(voice_hub)}",
                extra=["-s", DEMO_NUMBER, "-key", "rtp_port", str(rtp_port), "-d", str(listen_ms)])
    try:
        await sipp.start()
        assert await sipp.wait(listen_ms / 1000 + 30) == 0, sipp.log()
    finally:
        await sipp.stop()
        transport.close()

    heard = write_wav(tmp_path / "heard.wav", recorder.pcm(), 8000)
    stat = sox_stat(heard)
    assert stat["RMS amplitude"] > 0.02, stat  # speech, not silence
    assert stat["Length (seconds)"] >= prompts_s - 0.5, (stat, prompts_s)
    # what was heard while the welcome played (the RTP stream from its first packet) is spoken as
    # long as the welcome's rendering
    spoken = spoken_seconds(recorder.pcm()[:len(prompts_pcm)])
    assert abs(spoken - expected_spoken_s) < 0.6, (spoken, expected_spoken_s)
    # the line's language is the call's conversation's (for its automatic texts)
    sup = await voice_hub.client("supervisor")
    calls = (await sup.ok("GET", "/api/conversations?view=all&channel=voice"))["items"]
    assert len(calls) == 1
    row = await voice_hub.services.conversations.row(calls[0]["id"])
    assert row.language == "zh-CN"
