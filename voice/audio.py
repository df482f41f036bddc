"""Shared PCM helpers for the speech engines: resampling and G.711 (µ-law / A-law).

All audio here is 16-bit signed little-endian mono PCM unless a name says otherwise. Everything is
numpy-only (no scipy): a windowed-sinc polyphase resampler with an anti-alias low-pass, and the
ITU-T G.711 companding laws (bit-exact with sox / the reference ``g711.c``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "alaw_decode",
    "alaw_decode_table",
    "alaw_encode",
    "duration_s",
    "pcm_to_array",
    "array_to_pcm",
    "resample",
    "resample_array",
    "rms_dbfs",
    "ulaw_decode",
    "ulaw_decode_table",
    "ulaw_encode",
]

_TAPS_PER_PHASE = 24  # at unity ratio; scaled up with the decimation ratio
_KAISER_BETA = 8.0
_CUTOFF = 0.92  # fraction of the lower Nyquist frequency kept
_BLOCK = 16384  # output samples computed per block (bounds memory)


def pcm_to_array(pcm: bytes) -> np.ndarray:
    """16-bit little-endian PCM bytes → int16 array (a trailing odd byte is ignored)."""
    return np.frombuffer(pcm[: len(pcm) - (len(pcm) % 2)], dtype="<i2")


def array_to_pcm(samples: np.ndarray) -> bytes:
    """Float or int array → 16-bit PCM bytes, clipped to the int16 range."""
    if samples.dtype.kind == "f":
        samples = np.clip(np.rint(samples), -32768, 32767)
    return samples.astype("<i2").tobytes()


def duration_s(pcm: bytes, rate_hz: int) -> float:
    return (len(pcm) // 2) / float(rate_hz)


def rms_dbfs(pcm: bytes) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    x = pcm_to_array(pcm).astype(np.float64)
    if x.size == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(x * x)))
    return 20.0 * math.log10(rms / 32768.0) if rms > 0 else float("-inf")


# --------------------------------------------------------------------------- resampling


@lru_cache(maxsize=32)
def _polyphase_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """Low-pass prototype for rational resampling by up/down, reshaped to (taps, up) phases."""
    ratio = max(1.0, down / up)
    taps = 2 * math.ceil(_TAPS_PER_PHASE * ratio / 2)
    n = taps * up
    # cutoff in cycles per *upsampled* sample
    fc = 0.5 * _CUTOFF / max(up, down)
    t = np.arange(n) - (n - 1) / 2.0
    h = 2.0 * fc * np.sinc(2.0 * fc * t) * np.kaiser(n, _KAISER_BETA)
    h *= up / h.sum() * 1.0  # unity DC gain after zero-stuffing by `up`
    return h.astype(np.float64), taps


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample 16-bit mono PCM from ``src_rate`` to ``dst_rate`` (polyphase windowed sinc).

    The output has ``ceil(n * dst / src)`` samples and no group delay (the filter is centred).
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} → {dst_rate}")
    if src_rate == dst_rate:
        return pcm[: len(pcm) - (len(pcm) % 2)]
    x = pcm_to_array(pcm).astype(np.float64)
    return array_to_pcm(resample_array(x, src_rate, dst_rate))


def resample_array(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Float array version of :func:`resample` (same length rule)."""
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    n_in = x.shape[0]
    n_out = -(-n_in * up // down)
    if n_in == 0:
        return np.zeros(0, dtype=np.float64)
    h, taps = _polyphase_filter(up, down)
    delay = (h.shape[0] - 1) // 2  # centre of the prototype, in upsampled samples
    # phase matrix: row p holds h[p], h[p+up], h[p+2up] ... (taps entries)
    phases = h.reshape(taps, up).T  # (up, taps)
    pad = taps + 2
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    out = np.empty(n_out, dtype=np.float64)
    k = np.arange(taps)
    for start in range(0, n_out, _BLOCK):
        m = np.arange(start, min(n_out, start + _BLOCK))
        pos = m * down + delay
        phase = pos % up
        base = pos // up
        idx = (base[:, None] - k[None, :]) + pad  # input indices, newest first
        np.clip(idx, 0, xp.shape[0] - 1, out=idx)
        out[start : start + m.shape[0]] = np.einsum("ij,ij->i", xp[idx], phases[phase])
    return out


# --------------------------------------------------------------------------- G.711

_ULAW_BIAS = 0x84
_ULAW_CLIP14 = 8159
_ULAW_BIAS14 = 0x21
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM → G.711 µ-law bytes (the reference ``g711.c`` 14-bit algorithm)."""
    v = pcm_to_array(pcm).astype(np.int32) >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), _ULAW_CLIP14) + _ULAW_BIAS14
    seg = np.searchsorted(_ULAW_SEG_END, v, side="left")
    uval = (np.minimum(seg, 7) << 4) | ((v >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


@lru_cache(maxsize=1)
def ulaw_decode_table() -> np.ndarray:
    """The 256 µ-law byte values → int16 samples (index by byte)."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(u & 0x80, -mag, mag).astype("<i2")


def ulaw_decode(data: bytes) -> bytes:
    """G.711 µ-law bytes → 16-bit PCM."""
    return ulaw_decode_table()[np.frombuffer(data, dtype=np.uint8)].tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM → G.711 A-law bytes."""
    v = pcm_to_array(pcm).astype(np.int32) >> 3
    mask = np.where(v >= 0, 0xD5, 0x55)
    v = np.where(v >= 0, v, -v - 1)
    seg = np.searchsorted(_ALAW_SEG_END, v, side="left")
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((v >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8).tobytes()


@lru_cache(maxsize=1)
def alaw_decode_table() -> np.ndarray:
    """The 256 A-law byte values → int16 samples (index by byte)."""
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype("<i2")


def alaw_decode(data: bytes) -> bytes:
    """G.711 A-law bytes → 16-bit PCM."""
    return alaw_decode_table()[np.frombuffer(data, dtype=np.uint8)].tobytes()
