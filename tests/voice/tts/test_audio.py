"""voice.audio: the resampler's anti-alias filter and lengths, and G.711 against references."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voice.audio import (
    alaw_decode,
    alaw_encode,
    array_to_pcm,
    pcm_to_array,
    resample,
    rms_dbfs,
    ulaw_decode,
    ulaw_encode,
)

# every 16-bit value, encoded by the reference g711.c algorithm (as CPython's audioop did)
FULL_RANGE = np.arange(-32768, 32768).astype("<i2").tobytes()
ULAW_FULL_RANGE_SHA256 = "81d633c9e6972a18c74a58720b96cb8ca0bdd096d4060b646dd708c3b846019a"
ALAW_FULL_RANGE_SHA256 = "38488f6fd710f4686360edc4d38639f96c491595ef93f8eb8d62d5e07ca6ce7b"


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = 10000.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return array_to_pcm(amplitude * np.sin(2 * math.pi * freq * t))


def level(pcm: bytes) -> float:
    x = pcm_to_array(pcm).astype(np.float64)
    mid = x[len(x) // 4 : 3 * len(x) // 4]
    return float(np.sqrt(np.mean(mid * mid)) / (10000.0 / math.sqrt(2)))


@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (16000, 8000), (8000, 16000), (24000, 16000)])
def test_resampled_length_is_ceil_of_the_rate_ratio(src: int, dst: int) -> None:
    for n in (0, 1, 441, 22050, 12345):
        out = resample(bytes(2 * n), src, dst)
        assert len(out) // 2 == -(-n * dst // src)


@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (16000, 8000), (22050, 16000)])
def test_resampling_keeps_the_voice_band_and_removes_what_would_alias(src: int, dst: int) -> None:
    assert level(resample(tone(440, src), src, dst)) == pytest.approx(1.0, abs=0.02)
    assert level(resample(tone(3000, src), src, dst)) == pytest.approx(1.0, abs=0.03)
    above_nyquist = dst / 2 + 1000  # would fold back into the band without the low-pass
    assert level(resample(tone(above_nyquist, src), src, dst)) < 0.01


def test_upsampling_8k_to_16k_keeps_the_tone() -> None:
    assert level(resample(tone(1000, 8000), 8000, 16000)) == pytest.approx(1.0, abs=0.02)


def test_same_rate_is_a_copy() -> None:
    pcm = tone(440, 8000)
    assert resample(pcm, 8000, 8000) == pcm


def test_g711_encoders_match_the_reference_algorithm_bit_for_bit() -> None:
    assert hashlib.sha256(ulaw_encode(FULL_RANGE)).hexdigest() == ULAW_FULL_RANGE_SHA256
    assert hashlib.sha256(alaw_encode(FULL_RANGE)).hexdigest() == ALAW_FULL_RANGE_SHA256


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip_is_stable_and_close(encode, decode) -> None:  # type: ignore[no-untyped-def]
    # every code word decodes to a value that re-encodes to it (µ-law's "-0", 0x7F, becomes +0)
    codes = bytes(c for c in range(256) if not (encode is ulaw_encode and c == 0x7F))
    assert encode(decode(codes)) == codes
    pcm = tone(440, 8000)
    back = pcm_to_array(decode(encode(pcm))).astype(float)
    err = back - pcm_to_array(pcm)
    assert np.sqrt(np.mean(err**2)) < 150  # G.711 quantisation noise at this level


@pytest.mark.parametrize("encoding", ["mu-law", "a-law"])
def test_g711_decoders_match_sox(encoding: str, tmp_path: Path) -> None:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    codes = tmp_path / "codes.raw"
    codes.write_bytes(bytes(range(256)))
    out = tmp_path / "pcm.raw"
    subprocess.run(
        ["sox", "-t", "raw", "-r", "8000", "-e", encoding, "-c", "1", str(codes),
         "-t", "raw", "-e", "signed-integer", "-b", "16", str(out)],
        check=True, timeout=30,
    )  # fmt: skip
    decode = ulaw_decode if encoding == "mu-law" else alaw_decode
    assert decode(bytes(range(256))) == out.read_bytes()


def test_level_of_silence_is_minus_infinity() -> None:
    assert rms_dbfs(bytes(100)) == float("-inf")
    assert rms_dbfs(b"") == float("-inf")
