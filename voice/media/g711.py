"""G.711 for the media path: payload types, silence, µ-law ↔ A-law byte tables, decoding.

µ-law ↔ A-law is a one-byte-to-one-byte mapping, so a leg whose peer negotiated the other law
is served with ``bytes.translate`` (no decode/encode per packet).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from voice.audio import alaw_decode_table, alaw_encode, ulaw_decode_table, ulaw_encode

__all__ = ["PCMA", "PCMU", "SILENCE", "decode", "encode", "translation"]

PCMU = "PCMU"
PCMA = "PCMA"
SILENCE = {PCMU: 0xFF, PCMA: 0xD5}


def table(codec: str) -> np.ndarray:
    """256-entry int16 decoding table of a codec."""
    return ulaw_decode_table() if codec == PCMU else alaw_decode_table()


@lru_cache(maxsize=4)
def translation(src: str, dst: str) -> bytes | None:
    """``bytes.translate`` table from one law to the other (``None`` when they are the same)."""
    if src == dst:
        return None
    linear = table(src).tobytes()
    return encode(linear, dst)


def encode(pcm: bytes, codec: str) -> bytes:
    return ulaw_encode(pcm) if codec == PCMU else alaw_encode(pcm)


def decode(data: bytes, codec: str) -> np.ndarray:
    return table(codec)[np.frombuffer(data, dtype=np.uint8)]
