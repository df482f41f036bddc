"""Test speech for calls: Korean sentences spoken by ``espeak-ng -v ko`` (the only vosk model on
this machine is Korean), converted by sox to 8 kHz, written as an RTP pcap that sipp plays into a
call (``play_pcap_audio``) or as a WAV a baresip phone plays (``aufile``)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np

from tests.voice.asr.conftest import character_error_rate

__all__ = ["character_error_rate", "espeak_8k", "need_tools", "write_rtp_pcap", "write_wav_8k"]


def need_tools() -> None:
    for tool in ("espeak-ng", "sox", "sipp", "baresip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (Debian packages espeak-ng, sox, sip-tester, baresip)")


def espeak_8k(folder: Path, name: str, text: str, voice: str = "ko") -> np.ndarray:
    """``text`` spoken by espeak-ng, as 8 kHz 16-bit mono samples (sox does the resampling)."""
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"{name}.espeak.wav"
    raw = folder / f"{name}.8k.raw"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, capture_output=True, timeout=60)
    subprocess.run(["sox", str(wav), "-t", "raw", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "1",
                    str(raw)], check=True, capture_output=True, timeout=60)
    return np.frombuffer(raw.read_bytes(), dtype="<i2").copy()


def write_wav_8k(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.astype("<i2").tobytes())


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack("!10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_rtp_pcap(path: Path, ulaw: bytes, *, payload_type: int = 0, ssrc: int = 0x5EEC4) -> int:
    """A pcap (Ethernet/IPv4/UDP) of 20 ms G.711 RTP packets carrying ``ulaw``, 20 ms apart, as
    sipp's ``play_pcap_audio`` replays it. Returns the number of packets."""
    frames = [ulaw[i:i + 160] for i in range(0, len(ulaw), 160)]
    if frames and len(frames[-1]) < 160:
        frames[-1] = frames[-1] + b"\xff" * (160 - len(frames[-1]))
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, payload in enumerate(frames):
        rtp = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | payload_type, n & 0xFFFF,
                          (n * 160) & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                                   bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])))
        ip[10:12] = struct.pack("!H", _ip_checksum(bytes(ip)))
        frame = b"\x00" * 12 + b"\x08\x00" + bytes(ip) + udp
        usec = n * 20_000
        out += struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return len(frames)
