"""Real SIP peers for the call tests: ``sipp`` (scenario files in ``scenarios/``) and ``baresip``
(a desk phone or a caller, driven over its ``ctrl_tcp`` netstring JSON interface), plus a pcap
reader to compare recordings with what sipp sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import struct
import wave
from pathlib import Path
from typing import Any

import numpy as np

from tests.support import ports
from tests.support.wait import eventually

SCENARIOS = Path(__file__).with_name("scenarios")
PCAPS = Path("/usr/share/sip-tester")
BARESIP_MODULES = Path("/usr/lib/baresip/modules")


def free_udp_port() -> int:
    return ports.free_udp_port()  # from this test process's own block (tests/support/ports.py)


def free_tcp_port() -> int:
    return ports.free_port()


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError(f"{binary} is not installed (Debian packages sip-tester / baresip)")
    return path


# ------------------------------------------------------------------------------------- sipp


class Sipp:
    """One sipp process running a scenario file against the hub; killed in :meth:`stop`."""

    def __init__(self, workdir: Path, scenario: str, target: str, *, calls: int = 1,
                 rate: float | None = None, limit: int | None = None, timeout_s: int = 60,
                 extra: list[str] | None = None, port: int | None = None, local_ip: str = "127.0.0.1") -> None:
        self.workdir = workdir
        self.local_ip = local_ip  # another loopback address (127.0.0.2) is not a trusted trunk IP
        self.scenario = SCENARIOS / scenario
        self.target = target
        self.calls = calls
        self.rate = rate
        self.limit = limit
        self.timeout_s = timeout_s
        self.extra = extra or []
        self.port = port or free_udp_port()
        self.media_port = free_udp_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.out = workdir / f"sipp-{self.scenario.stem}-{self.port}.out"

    async def start(self) -> Sipp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        link = self.workdir / "pcap"
        if not link.exists():
            link.symlink_to(PCAPS)
        args = [need("sipp"), self.target, "-sf", str(self.scenario), "-i", self.local_ip,
                "-p", str(self.port), "-mi", self.local_ip, "-mp", str(self.media_port),
                "-m", str(self.calls), "-timeout", f"{self.timeout_s}s", "-timeout_error",
                "-nostdin", "-trace_err", "-trace_msg", "-message_file", str(self.out) + ".msg",
                "-error_file", str(self.out) + ".err", "-max_recv_loops", "1000",
                *self.extra]
        if self.rate is not None:
            args += ["-r", str(self.rate)]
        if self.limit is not None:
            args += ["-l", str(self.limit)]
        self._fh = open(self.out, "wb")  # noqa: SIM115, ASYNC230 - closed in stop()
        self.proc = await asyncio.create_subprocess_exec(
            *args, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL, stdout=self._fh,
            stderr=asyncio.subprocess.STDOUT)
        return self

    async def wait(self, within: float | None = None) -> int:
        assert self.proc is not None
        async with asyncio.timeout(within or self.timeout_s + 10):
            return await self.proc.wait()

    def log(self) -> str:
        parts = []
        for path in (self.out, Path(str(self.out) + ".err"), Path(str(self.out) + ".msg")):
            if path.exists():
                parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-6000:])
        return "\n".join(parts)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.proc.wait()
        if hasattr(self, "_fh"):
            self._fh.close()


# ------------------------------------------------------------------------------------- baresip


def _netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


class Baresip:
    """A baresip user agent in a temporary config dir (``-f``), controlled over ctrl_tcp."""

    def __init__(self, workdir: Path, *, account: str, source_wav: Path | None = None,
                 answermode: str = "manual") -> None:
        self.workdir = workdir
        self.account = account
        self.source_wav = source_wav
        self.answermode = answermode
        self.sip_port = free_udp_port()
        self.ctrl_port = free_tcp_port()
        self.recorded = workdir / "heard.wav"
        self.proc: asyncio.subprocess.Process | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.all_events: list[dict[str, Any]] = []
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.log = workdir / "baresip.log"

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.source_wav is None:  # baresip's ausine needs 48 kHz; G.711 runs at 8 kHz
            self.source_wav = self.workdir / "tone.wav"
            write_tone(self.source_wav, 440.0, 30.0)
        source = f"aufile,{self.source_wav}"
        (self.workdir / "config").write_text("\n".join([
            "poll_method epoll",
            "net_interface 127.0.0.1",
            f"module_path {BARESIP_MODULES}",
            f"audio_player aufile,{self.recorded}",
            f"audio_source {source}",
            "audio_alert aufile,/dev/null",
            "rtp_ports 30000-40000",
            "module g711.so",
            "module aufile.so",
            "module ausine.so",
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            "",
        ]))
        (self.workdir / "accounts").write_text(self.account + f";answermode={self.answermode}\n")
        (self.workdir / "contacts").write_text("")
        (self.workdir / "uuid").write_text("0d6e1b45-7d3a-4f24-9a9f-000000000001\n")

    async def start(self) -> Baresip:
        self._write_config()
        self._logfh = open(self.log, "wb")  # noqa: SIM115, ASYNC230 - closed in stop()
        self.proc = await asyncio.create_subprocess_exec(
            need("baresip"), "-f", str(self.workdir), "-v", "-s", stdin=asyncio.subprocess.PIPE,
            stdout=self._logfh, stderr=asyncio.subprocess.STDOUT, cwd=self.workdir)
        try:
            async with asyncio.timeout(15):
                while True:
                    try:
                        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                        break
                    except OSError:
                        if self.proc.returncode is not None:
                            raise RuntimeError("baresip exited: " + self.log.read_text(errors="replace")) from None
                        await asyncio.sleep(0.1)
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._read(), name="baresip-ctrl")
        return self

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            head = await self._reader.readuntil(b":")
            length = int(head[:-1])
            data = await self._reader.readexactly(length + 1)
            msg = json.loads(data[:-1])
            if msg.get("event"):
                self.all_events.append(msg)
                await self.events.put(msg)
            elif msg.get("response"):
                await self._responses.put(msg)

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        assert self._writer is not None
        payload = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(_netstring(payload))
        await self._writer.drain()
        async with asyncio.timeout(10):
            return await self._responses.get()

    async def wait_event(self, *types: str, timeout: float = 20) -> dict[str, Any]:  # noqa: ASYNC109
        try:
            async with asyncio.timeout(timeout):
                while True:
                    ev = await self.events.get()
                    if ev.get("type") in types:
                        return ev
        except TimeoutError:
            reader = self._task.exception() if self._task is not None and self._task.done() else None
            raise AssertionError(f"baresip sent no {types} in {timeout} s; events: "
                                 f"{[e.get('type') for e in self.all_events]}; reader: {reader!r}") from None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            self._writer.close()
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.proc.wait()
        if hasattr(self, "_logfh"):
            self._logfh.close()


# ------------------------------------------------------------------------------------- audio


def pcap_rtp(path: Path) -> list[tuple[int, int, int, bytes]]:
    """(payload type, sequence, timestamp, payload) of every RTP packet in a pcap (Ethernet/IPv4/UDP)."""
    data = path.read_bytes()
    little = data[:4] == b"\xd4\xc3\xb2\xa1"
    endian = "<" if little else ">"
    off = 24
    out = []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        ihl = (frame[14] & 0x0F) * 4
        udp = frame[14 + ihl:]
        rtp = udp[8:]
        if len(rtp) < 12:
            continue
        _, b1, seq, ts, _ = struct.unpack("!BBHII", rtp[:12])
        out.append((b1 & 0x7F, seq, ts, bytes(rtp[12:])))
    return out


def write_tone(path: Path, freq: float, seconds: float, rate: int = 8000, amplitude: int = 8000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    samples = (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path), "rb") as w:
        ch, rate = w.getnchannels(), w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return samples.reshape(-1, ch), rate, ch


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


async def wait_for(predicate, within: float = 20, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Await ``predicate()`` until it returns something truthy (returned), for at most ``within`` s."""
    return await eventually(predicate, within, every=interval)
