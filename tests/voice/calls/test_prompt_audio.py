"""Prompt audio without dead air (issue #18, item 6), at unit level: no hub, no TTS model.

- The prompt cache keys a rendering by text, TTS engine and voice: one text is synthesised once
  per engine and voice, a changed engine or voice renders anew, a failure is reported per flow.
- The IVR driver plays a pre-rendered prompt on a real RTP leg: its WAV is read once, in a worker
  thread (never on the event loop), later plays start at once from memory, and the 20 ms pacer's
  audio source never calls speech synthesis nor reads a file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import voice.media.prompts as media_prompts
from voice.calls.ivr import IvrDriver
from voice.ivr import model as m
from voice.ivr.audio_files import write_wav
from voice.ivr.prerender import PromptRenderer, flow_prompts
from voice.media.engine import MediaEngine
from voice.media.g711 import PCMU
from voice.tts.base import TtsEngine


class FakeRouter:
    """Routes Latin text to ``piper:joe`` and Chinese to ``espeak-ng:zh``; counts syntheses."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def route(self, text: str, voice: str | None) -> tuple[Any, str]:
        if voice == "broken":
            raise ValueError("no configured TTS engine has voice 'broken'")
        if voice:
            engine, _, vid = voice.partition(":")
            return SimpleNamespace(name=engine), vid
        chinese = any("\u4e00" <= c <= "\u9fff" for c in text)
        return SimpleNamespace(name="espeak-ng" if chinese else "piper"), "zh" if chinese else "joe"

    def synthesize(self, text: str, voice: str | None, rate_hz: int) -> bytes:
        self.calls.append((text, voice))
        return np.full(800, 2000, dtype="<i2").tobytes()


def test_renderings_are_keyed_by_text_engine_and_voice_and_failures_are_reported(tmp_path: Path) -> None:
    router = FakeRouter()
    renderer = PromptRenderer(tmp_path / "tts", lambda: router)
    definition = {"name": "x", "start": "a", "settings": {"language": "zh-CN"}, "nodes": {
        "a": {"type": "play", "prompts": [{"text": "欢迎致电"}, {"text": "Hello {caller}"},
                                          {"text": "Hi", "voice": "broken"}], "next": "b"},
        "b": {"type": "set", "variables": {"language": "en"}, "next": "c"},
        "c": {"type": "hangup", "prompt": [{"text": "Goodbye"}, {"text": "Goodbye", "voice": "espeak-ng:en-us"}]}}}
    prompts = flow_prompts(definition)
    texts = [p.text for p in prompts]
    assert "Hello {caller}" not in texts  # filled in at play time: rendered then
    # the built-in prompts of both languages the flow speaks (zh-CN, and en after the set node)
    assert "对不起，您的输入有误。" in texts and "Sorry, that is not one of the choices." in texts
    renderer.started("f1", len(prompts))
    for prompt in prompts:
        try:
            renderer.render_prompt(prompt)
        except ValueError as err:
            renderer.done("f1", prompt, str(err))
        else:
            renderer.done("f1", prompt)
    report = renderer.report()
    assert report["prompts"] == len(prompts) and report["rendered"] == len(prompts) - 1
    assert report["failed"] == [{"flow_id": "f1", "text": "Hi", "voice": "broken",
                                 "error": "no configured TTS engine has voice 'broken'"}]
    # "Goodbye" by piper and by espeak-ng are two renderings; each text+engine+voice is one file
    goodbyes = [renderer.paths[p.key] for p in prompts if p.text == "Goodbye"]
    assert len(set(goodbyes)) == 2
    assert len(list((tmp_path / "tts").glob("*.wav"))) == len(prompts) - 1
    before = len(router.calls)
    again = PromptRenderer(tmp_path / "tts", lambda: router)  # a restart: all cache hits
    for prompt in [p for p in prompts if p.voice != "broken"]:
        assert again.render_prompt(prompt) == renderer.paths[prompt.key]
    assert len(router.calls) == before
    renderer.forget(set())  # the flow is no longer published
    assert renderer.report()["failed"] == []


class NoSynthesis:
    """``services.ports.ivr`` whose play-time rendering must not be reached."""

    async def audio_for(self, prompt: Any) -> str | None:
        raise AssertionError(f"prompt {prompt.value!r} was synthesised at play time")


class Host:
    def __init__(self) -> None:
        self.prompts = media_prompts.PromptCache()
        self.services = SimpleNamespace(ports=SimpleNamespace(ivr=NoSynthesis()))
        self.tasks: list[asyncio.Task[Any]] = []

    def spawn(self, coro: Any, name: str, call: Any = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        return task


class Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.payloads.append(data[12:])


async def test_the_pacer_plays_prerendered_prompts_from_memory_and_never_synthesises(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_synthesis(*args: Any, **kw: Any) -> Any:
        raise AssertionError("speech synthesis on the call path")

    monkeypatch.setattr(TtsEngine, "synthesize", no_synthesis)
    monkeypatch.setattr(TtsEngine, "synthesize_stream", no_synthesis)
    loop_thread = threading.get_ident()
    reads: list[int] = []
    real_load = media_prompts.load_wav_pcm

    def load(path: Any) -> bytes:
        reads.append(threading.get_ident())
        return real_load(path)

    monkeypatch.setattr(media_prompts, "load_wav_pcm", load)
    wav = tmp_path / "welcome.wav"
    write_wav(wav, (np.sin(np.arange(8000) / 3) * 8000).astype("<i2").tobytes())  # 1 s, pre-rendered

    engine = MediaEngine("127.0.0.1")
    await engine.start()
    receiver = Receiver()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: receiver, local_addr=("127.0.0.1", 0))
    try:
        leg = await engine.open_leg("caller")
        leg.configure(None, 0, PCMU, None)  # sends nothing yet
        host = Host()
        driver = IvrDriver.__new__(IvrDriver)  # the driver's play path only: no flow session
        driver.service, driver.current_play, driver._closed = host, None, False  # type: ignore[assignment]
        driver.call = SimpleNamespace(id="c1", caller=SimpleNamespace(media=leg), ended=False)  # type: ignore[assignment]
        driver._feed = lambda event: None  # type: ignore[method-assign]
        prompt = m.Prompt("tts", "Welcome to City Gas.", str(wav), None)

        # first play since the start: the WAV is read in a worker thread, then played
        driver._play(m.Play("p1", (prompt,)))
        assert leg.player is None and len(host.tasks) == 1
        await host.tasks[0]
        assert leg.player is not None and reads and loop_thread not in reads
        leg.stop_play()

        # later plays start at once from memory; the pacer sends what is there, reading nothing
        monkeypatch.setattr(media_prompts, "load_wav_pcm", no_synthesis)
        leg.configure(transport.get_extra_info("sockname")[:2], 0, PCMU, None)
        driver._play(m.Play("p2", (prompt,)))
        assert leg.player is not None and len(host.tasks) == 1
        expected = host.prompts.get(str(wav), PCMU).frames
        await asyncio.wait_for(_packets(receiver, 10), 5)
        assert receiver.payloads[:10] == list(expected[:10])  # the prompt from its start, as encoded
    finally:
        transport.close()
        await engine.stop()


async def _packets(receiver: Receiver, n: int) -> None:
    while len(receiver.payloads) < n:  # noqa: ASYNC110 - the RTP arrives on the same loop
        await asyncio.sleep(0.01)
