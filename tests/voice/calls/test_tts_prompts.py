"""Text prompts of an IVR flow spoken into a call by the local TTS engine (VOICE-7): with
pre-rendering off, the play node's text is synthesised by piper (joe-us voice) when the call
reaches it, resampled to 8 kHz and played on the caller's RTP leg; the call recording's "heard"
channel holds it (duration and level checked with ``sox … stat``). Prompts that cannot be spoken
(text that is empty once its variables are filled in, an unknown voice) are skipped (the latter
with a logged error) and the call goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.audio import sox_stat
from tests.voice.calls.conftest import sip_port
from tests.voice.calls.support import Sipp, read_wav

pytestmark = pytest.mark.slow

PROMPT = "Thank you for calling the city gas company. Goodbye."


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"ivr_prerender_tts": False, "ivr_tts_cache_dir": ""}  # its own cache: <data_dir>/ivr/tts


async def test_a_text_prompt_is_spoken_by_piper_into_the_call_and_recorded(voice_hub, tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    admin = await voice_hub.client("admin")
    definition = {
        "name": "Goodbye", "start": "hello",
        "nodes": {
            "hello": {"type": "play", "next": "bye",
                      "prompts": [{"text": "{nothing_here}"}, {"text": "Hello", "voice": "no-such-voice"},
                                  {"text": PROMPT}]},
            "bye": {"type": "hangup"},
        },
    }
    flow = await admin.ok("POST", "/api/ivr/flows", {"name": "Goodbye", "definition": definition}, status=201)
    await admin.ok("POST", f"/api/ivr/flows/{flow['id']}/publish", {})
    await admin.ok("PUT", "/api/ivr/numbers/6200", {"flow_id": flow["id"]})
    tts_dir = voice_hub.services.settings.data_dir / "ivr" / "tts"
    assert not list(tts_dir.glob("*.wav"))  # nothing pre-rendered: spoken at play time
    sipp = Sipp(tmp_path / "sipp", "caller_listens.xml", f"127.0.0.1:{sip_port(voice_hub)}", extra=["-s", "6200"])
    try:
        await sipp.start()
        assert await sipp.wait(60) == 0, sipp.log()  # the hub hung up after the prompt
    finally:
        await sipp.stop()
    rendered = list(tts_dir.glob("*.wav"))
    assert len(rendered) == 1, rendered  # the good prompt only (cached on disk by text+voice)
    prompt_s = sox_stat(rendered[0])["Length (seconds)"]
    assert 2.0 < prompt_s < 8.0
    sup = await voice_hub.client("supervisor")
    async with asyncio.timeout(15):
        while True:
            records = [r for r in (await sup.ok("GET", "/api/voice/calls"))["records"] if r["recording_attachment_id"]]
            if records:
                break
            await asyncio.sleep(0.1)
    assert records[0]["end_reason"] == "ivr_normal"
    path = voice_hub.services.attachments.path_for(records[0]["recording_attachment_id"])
    heard = sox_stat(path, "remix", "2")  # the right channel: what the caller heard
    assert heard["Length (seconds)"] >= prompt_s
    assert heard["RMS amplitude"] > 0.02, heard
    samples, rate, _ = read_wav(path)
    loud = np.flatnonzero(np.abs(samples[:, 1].astype(np.int32)) > 1000)
    spoken_s = (loud[-1] - loud[0]) / rate
    assert abs(spoken_s - prompt_s) < 0.6, (spoken_s, prompt_s)
    # the prompt in an unknown voice was reported, not played; the empty one was left out
    assert "no configured TTS engine has voice 'no-such-voice'" in caplog.text
    assert "TTS prompt 'Hello' could not be rendered" in caplog.text
