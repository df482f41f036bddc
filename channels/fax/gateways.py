"""Outbound fax gateways behind one small port (``FaxGateway``): a HylaFAX server through its
client protocol (an FTP-like protocol spoken to ``hfaxd``, implemented here on asyncio), or an
email-to-fax service (the TIFF attached to a mail to ``<number>@<domain>``, sent through the
email channel's public ``send_mail``).

``submit`` hands one TIFF-F to the gateway and returns its reference; ``status`` tells how that
job is doing: ``sending``, ``sent`` or ``failed`` (with the reason)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from channels.fax.errors import GatewayError


@dataclass(frozen=True)
class GatewayStatus:
    state: str              # sending | sent | failed
    detail: str = ""


class FaxGateway:
    name = "gateway"

    async def submit(self, tiff: Path, number: str, job_id: str) -> str:
        raise NotImplementedError

    async def status(self, ref: str) -> GatewayStatus:
        raise NotImplementedError


# --- HylaFAX client protocol ----------------------------------------------------------------------
_PASV = re.compile(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
HYLAFAX_DONE = {"DONE": "sent", "FAILED": "failed"}


class HylafaxSession:
    """One control connection to hfaxd: replies are ``NNN text`` lines, multi-line replies
    ``NNN-`` … ``NNN `` (RFC 959); files go over a passive data connection."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> HylafaxSession:
        try:
            async with asyncio.timeout(self.timeout_s):
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as err:
            raise GatewayError(f"cannot reach the HylaFAX server {self.host}:{self.port}: {err}") from err
        await self.expect(220)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            try:
                async with asyncio.timeout(2):
                    self.writer.write(b"QUIT\r\n")
                    await self.writer.drain()
                    self.writer.close()
                    await self.writer.wait_closed()
            except (OSError, TimeoutError):
                pass

    async def reply(self) -> tuple[int, str]:
        assert self.reader is not None
        lines: list[str] = []
        async with asyncio.timeout(self.timeout_s):
            while True:
                raw = await self.reader.readline()
                if not raw:
                    raise GatewayError("the HylaFAX server closed the connection")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                lines.append(line)
                if len(line) >= 4 and line[:3].isdigit() and line[3] == " ":
                    return int(line[:3]), "\n".join(lines)
                if len(lines) > 1000:
                    raise GatewayError("the HylaFAX server sent an endless reply")

    async def command(self, line: str) -> tuple[int, str]:
        assert self.writer is not None
        if "\r" in line or "\n" in line:
            raise GatewayError("a HylaFAX command cannot contain a line break")
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def expect(self, *codes: int, line: str | None = None) -> str:
        code, text = await (self.command(line) if line is not None else self.reply())
        if code not in codes:
            raise GatewayError(f"HylaFAX answered {text!r} to {(line or 'the greeting').split(' ')[0]}",
                               details={"reply": text})
        return text

    async def login(self, user: str, password: str) -> None:
        code, text = await self.command(f"USER {user}")
        if code == 331:
            await self.expect(230, line=f"PASS {password}")
        elif code != 230:
            raise GatewayError(f"HylaFAX refused the user {user!r}: {text}")

    async def store_temp(self, data: bytes) -> str:
        """``STOT``: upload a TIFF under a name the server picks; returns that name."""
        await self.expect(200, line="TYPE I")
        await self.expect(200, line="FORM TIFF")  # else hfaxd files it as PostScript
        text = await self.expect(227, line="PASV")
        m = _PASV.search(text)
        if m is None:
            raise GatewayError(f"cannot read the passive address in {text!r}")
        nums = [int(x) for x in m.groups()]
        host, port = ".".join(map(str, nums[:4])), nums[4] * 256 + nums[5]
        async with asyncio.timeout(self.timeout_s):
            dreader, dwriter = await asyncio.open_connection(host, port)
        try:
            text = await self.expect(150, 125, line="STOT")
            dwriter.write(data)
            await dwriter.drain()
        finally:
            dwriter.close()
            await dwriter.wait_closed()
        done = await self.expect(226, 250)
        m = re.search(r"FILE:\s*(\S+?)[\s)]", text + " ") or re.search(r"FILE:\s*(\S+?)[\s)]", done + " ")
        if m is None:
            raise GatewayError(f"the HylaFAX server did not name the uploaded file: {text!r}")
        return m.group(1)


class HylafaxGateway(FaxGateway):
    name = "hylafax"

    def __init__(self, host: str, port: int, user: str, password: str, timeout_s: float = 20,
                 from_user: str = "contact-hub", max_tries: int = 3, lasttime: str = "000259") -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.lasttime = lasttime
        self.timeout_s, self.from_user, self.max_tries = timeout_s, from_user, max_tries

    def _session(self) -> HylafaxSession:
        return HylafaxSession(self.host, self.port, self.timeout_s)

    async def submit(self, tiff: Path, number: str, job_id: str) -> str:
        data = await asyncio.to_thread(tiff.read_bytes)
        async with self._session() as s:
            await s.login(self.user, self.password)
            doc = await s.store_temp(data)
            text = await s.expect(200, line="JNEW")
            m = re.search(r"jobid:\s*(\d+)", text, re.I)
            if m is None:
                raise GatewayError(f"HylaFAX did not give a job id: {text!r}")
            # LASTTIME (ddhhmm): how long the server keeps trying; without it faxq refuses the
            # job at once ("Kill time expired")
            for param in (f'FROMUSER "{self.from_user}"', f'DIALSTRING "{number}"',
                          f'JOBINFO "{job_id}"', f"MAXTRIES {self.max_tries}", "NOTIFY NONE",
                          f"LASTTIME {self.lasttime}", "VRES 196", f'DOCUMENT "{doc}"'):
                await s.expect(200, 213, line=f"JPARM {param}")
            await s.expect(200, line="JSUBM")
            return m.group(1)

    async def status(self, ref: str) -> GatewayStatus:
        async with self._session() as s:
            await s.login(self.user, self.password)
            await s.expect(200, line=f"JOB {ref}")
            state = (await s.expect(213, line="JPARM STATE")).split()[-1].upper()
            if state == "FAILED":
                code, why = await s.command("JPARM STATUS")
                return GatewayStatus("failed", why[4:].strip() if code == 213 else "the fax failed")
            return GatewayStatus(HYLAFAX_DONE.get(state, "sending"), state.lower())


# --- email to fax ---------------------------------------------------------------------------------
SendMail = Callable[[EmailMessage], Awaitable[Any]]


class EmailFaxGateway(FaxGateway):
    """``<digits>@<domain>`` with the TIFF attached; the provider faxes it. Accepted by the
    relay means sent (a provider's later failure notice arrives as mail)."""

    name = "email"

    def __init__(self, send_mail: SendMail, domain: str, sender: str) -> None:
        self.send_mail, self.domain, self.sender = send_mail, domain, sender

    def build(self, data: bytes, number: str, job_id: str, filename: str) -> EmailMessage:
        m = EmailMessage()
        m["From"] = self.sender
        m["To"] = f"{number.lstrip('+')}@{self.domain}"
        m["Subject"] = f"Fax {job_id}"
        m["Date"] = formatdate(usegmt=True)
        m["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1] or "localhost")
        m.set_content(f"Fax job {job_id} to {number}.")
        m.add_attachment(data, maintype="image", subtype="tiff", filename=filename)
        return m

    async def submit(self, tiff: Path, number: str, job_id: str) -> str:
        data = await asyncio.to_thread(tiff.read_bytes)
        msg = self.build(data, number, job_id, f"fax-{job_id}.tif")
        try:
            await self.send_mail(msg)
        except Exception as err:  # noqa: BLE001 - any SMTP failure: the job retries
            raise GatewayError(f"the email-to-fax mail was not accepted: {err}") from err
        return str(msg["Message-ID"])

    async def status(self, ref: str) -> GatewayStatus:
        return GatewayStatus("sent")
