"""Fax test material made with the real tools (ghostscript's fax devices, libtiff's tiffcp,
Pillow with a CJK font), the signed webhook call, and a HylaFAX protocol server.

``HylafaxServer`` is a FAKE of hfaxd (the HylaFAX client-protocol server): the real server (tested
in ``test_hylafax_server.py``) needs a fax modem to finish a job, so the tests of sent/failed
outcomes, retries and bulk progress speak the protocol (RFC 959 replies, PASV data connection,
FORM/STOT, JNEW/JPARM/JSUBM, JOB + JPARM STATE) to this small server, which records what it got."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from channels.fax.adapter import sign

SECRET = "test-fax-secret"
GATEWAY_SENDER = "faxgate@fax.example.net"


def have_tools() -> bool:
    return all(shutil.which(t) for t in ("gs", "tiffcp", "tiffinfo", "tesseract"))


def ps_pages(texts: list[str]) -> str:
    out = ["%!PS", "/Helvetica findfont 28 scalefont setfont"]
    for t in texts:
        esc = t.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        out.append(f"72 700 moveto ({esc}) show showpage")
    return "\n".join(out) + "\n"


def make_tiff(tmp: Path, texts: list[str], device: str = "tiffg3") -> Path:
    """One G3 (or G4) page per text with ghostscript's fax device, joined by libtiff's tiffcp."""
    tmp.mkdir(parents=True, exist_ok=True)
    pages = []
    for i, text in enumerate(texts, start=1):
        ps = tmp / f"p{i}.ps"
        ps.write_text(ps_pages([text]))
        tif = tmp / f"p{i}.tif"
        subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", f"-sDEVICE={device}",
                        "-r204x196", "-sPAPERSIZE=a4", f"-sOutputFile={tif}", str(ps)],
                       check=True, timeout=60)
        pages.append(str(tif))
    out = tmp / "fax.tif"
    subprocess.run(["tiffcp", *pages, str(out)], check=True, timeout=60)
    return out


def make_pdf(tmp: Path, texts: list[str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    ps = tmp / "doc.ps"
    ps.write_text(ps_pages(texts))
    out = tmp / "doc.pdf"
    subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite",
                    "-sPAPERSIZE=a4", f"-sOutputFile={out}", str(ps)], check=True, timeout=60)
    return out


def tiffinfo(path: Path) -> str:
    return subprocess.run(["tiffinfo", str(path)], check=True, capture_output=True, text=True,
                          timeout=30).stdout


def signed_headers(body: bytes, secret: str = SECRET, ts: float | None = None) -> dict[str, str]:
    stamp = str(int(ts if ts is not None else time.time()))
    return {"X-Fax-Timestamp": stamp, "X-Fax-Signature": sign(secret, stamp, body)}


def multipart(data: bytes, filename: str, ctype: str, **fields: str) -> tuple[bytes, str]:
    boundary = "faxboundary" + os.urandom(8).hex()
    parts = []
    for k, v in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def post_fax(http: Any, data: bytes, filename: str = "fax.tif", ctype: str = "image/tiff",
                   secret: str = SECRET, **fields: str) -> Any:
    body, content_type = multipart(data, filename, ctype, **fields)
    return await http.post("/api/fax/inbound", content=body,
                           headers={"Content-Type": content_type, **signed_headers(body, secret)})


def fax_files(data_dir: Path) -> list[Path]:
    root = data_dir / "fax"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@dataclass
class Job:
    id: str
    params: dict[str, str] = field(default_factory=dict)
    state: str = "PENDING"
    polls: int = 0


class HylafaxServer:
    """A fake hfaxd (see the module docstring)."""

    def __init__(self, fail_submits: int = 0, fail_jobs: int = 0) -> None:
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, Job] = {}
        self.fail_submits = fail_submits   # JSUBM refused this many times
        self.fail_jobs = fail_jobs         # jobs end FAILED this many times
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.commands: list[str] = []
        self._next_job = 0

    async def start(self) -> HylafaxServer:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 localhost server (HylaFAX (tm) Version 6.0.7) ready.")
        job: Job | None = None
        data_server: asyncio.base_events.Server | None = None
        data_conn: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None = None
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                self.commands.append(line)
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "USER":
                    say("331 Password required for user.")
                elif verb == "PASS":
                    say("230 User logged in.")
                elif verb == "TYPE":
                    say("200 Type set to Image.")
                elif verb == "FORM":
                    say("200 Format set to TIFF.")
                elif verb == "PASV":
                    data_conn = asyncio.get_running_loop().create_future()
                    fut = data_conn

                    async def on_data(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                                      fut: asyncio.Future[Any] = fut) -> None:
                        fut.set_result((r, w))

                    data_server = await asyncio.start_server(on_data, "127.0.0.1", 0)
                    p = data_server.sockets[0].getsockname()[1]
                    say(f"227 Entering Passive Mode (127,0,0,1,{p // 256},{p % 256})")
                elif verb == "STOT":
                    assert data_conn is not None and data_server is not None
                    name = f"/tmp/doc{len(self.files) + 1}.tif"
                    say(f"150 FILE: {name} (Opening new data connection).")
                    await writer.drain()
                    r, w = await data_conn
                    self.files[name] = await r.read()
                    w.close()
                    data_server.close()
                    say(f"226 Transfer complete (FILE: {name}).")
                elif verb == "JNEW":
                    self._next_job += 1
                    job = Job(str(self._next_job))
                    say(f"200 New job created: jobid: {job.id} groupid: {job.id}.")
                elif verb == "JPARM" and job is not None and " " in arg:
                    key, _, value = arg.partition(" ")
                    job.params[key.upper()] = value.strip('"')
                    say("213 Set.")
                elif verb == "JSUBM" and job is not None:
                    if self.fail_submits > 0:
                        self.fail_submits -= 1
                        say("503 Job not submitted: no document.")
                    else:
                        self.jobs[job.id] = job
                        say(f"200 Job {job.id} submitted.")
                elif verb == "JOB":
                    job = self.jobs.get(arg)
                    say("200 Current job: " + arg if job else "500 Unknown job.")
                elif verb == "JPARM" and arg.upper() == "STATE" and job is not None:
                    job.polls += 1
                    if job.polls >= 2 and job.state == "PENDING":
                        if self.fail_jobs > 0:
                            self.fail_jobs -= 1
                            job.state = "FAILED"
                        else:
                            job.state = "DONE"
                    say(f"213 {job.state}")
                elif verb == "JPARM" and arg.upper() == "STATUS" and job is not None:
                    say("213 No carrier detected")
                elif verb == "QUIT":
                    say("221 Goodbye.")
                    await writer.drain()
                    break
                else:
                    say("500 Command not understood.")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def number_of(self, job_id: str) -> str:
        return self.jobs[job_id].params.get("DIALSTRING", "")


def chinese_font() -> str | None:
    out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True).stdout
    files = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    return next((f for f in files if re.search(r"\.(ttf|ttc|otf)$", f)), None)
