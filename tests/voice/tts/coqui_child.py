"""Run by ``test_coqui_tiny_model.py`` with the Python of ``.venv-coqui`` (coqui-tts and the torch
it needs; see the Makefile): build a tiny two-speaker VITS model from coqui's own config classes,
then speak through the hub's TTS factory exactly as an IVR prompt is spoken, and print what
happened as one JSON object. Assertions are the parent test's; this script only measures.

Usage: python coqui_child.py <work dir>
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

PROMPT = "thank you for calling. an agent will be with you shortly."


def build_tiny_vits(folder: Path) -> dict[str, object]:
    import torch
    from TTS.tts.configs.shared_configs import BaseAudioConfig, CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(7)
    characters = CharactersConfig(
        characters_class="TTS.tts.models.vits.VitsCharacters", pad="_", eos="", bos="", blank=None,
        characters="abcdefghijklmnopqrstuvwxyz", punctuations=" .,!?'", phonemes=None,
        is_unique=True, is_sorted=True,
    )
    args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
        num_layers_text_encoder=1, num_layers_posterior_encoder=1, num_layers_flow=1,
        upsample_initial_channel_decoder=32, resblock_kernel_sizes_decoder=[3],
        resblock_dilation_sizes_decoder=[[1, 3, 5]], init_discriminator=False, use_sdp=False,
        use_speaker_embedding=True, speaker_embedding_channels=8,
    )
    config = VitsConfig(
        model_args=args, characters=characters, use_phonemes=False, add_blank=False,
        text_cleaner="basic_cleaners", speakers=["anna", "ben"],
        audio=BaseAudioConfig(sample_rate=22050, fft_size=1024, win_length=1024, hop_length=256, num_mels=80),
    )
    model = Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    config.save_json(str(folder / "config.json"))
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "checkpoint_bytes": (folder / "model.pth").stat().st_size}


def error_code(call) -> str | None:  # noqa: ANN001 - a zero-argument callable
    from voice.tts import TtsError

    try:
        call()
    except TtsError as err:
        return err.code
    return None


def main(work: Path) -> dict[str, object]:
    import torch
    import TTS

    from tests.support.audio import write_wav
    from voice.tts import TtsConfig, create_tts
    from voice.tts.coqui import CoquiEngine

    report: dict[str, object] = {"coqui_tts": TTS.__version__, "torch": torch.__version__}
    model_dir = work / "tiny-vits"
    report["model"] = build_tiny_vits(model_dir)
    started = time.perf_counter()
    tts = create_tts(TtsConfig(engines=("coqui", "espeak-ng"), coqui_model_path=model_dir,
                               coqui_language="en", cache_dir=work / "cache"))
    report["load_ms"] = (time.perf_counter() - started) * 1000
    report["engine"] = tts.name
    report["skipped"] = tts.skipped
    report["default_voice"] = tts.default_voice
    report["voices"] = [[v.id, v.language, v.engine, v.native_rate] for v in tts.voices() if v.engine == "coqui"]
    out: dict[str, dict[str, object]] = {}
    for voice, rate in (("coqui:anna", 8000), ("coqui:ben", 8000), ("coqui:anna", 22050)):
        started = time.perf_counter()
        pcm = tts.synthesize(PROMPT, voice, rate)
        first_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        again = tts.synthesize(PROMPT, voice, rate)
        hit_ms = (time.perf_counter() - started) * 1000
        wav = work / f"{voice.split(':')[1]}-{rate}.wav"
        write_wav(wav, pcm, rate)
        out[f"{voice}@{rate}"] = {"wav": str(wav), "samples": len(pcm) // 2, "first_ms": first_ms,
                                  "cache_hit_ms": hit_ms, "same_on_hit": again == pcm}
    report["prompts"] = out
    report["default_route"] = [tts.route(PROMPT)[0].name, tts.route(PROMPT)[1]]
    report["korean_route"] = [tts.route("안녕하세요")[0].name, tts.route("안녕하세요")[1]]
    report["errors"] = {
        "unknown_voice": error_code(lambda: tts.synthesize("hello", "coqui:carol")),
        "empty_text": error_code(lambda: tts.synthesize(" \n ", "coqui:anna")),
        "bad_rate": error_code(lambda: tts.synthesize("hello", "coqui:anna", 11025)),
        "no_checkpoint": error_code(lambda: CoquiEngine(work / "cache")),
    }
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
