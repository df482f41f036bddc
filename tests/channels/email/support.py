"""Real mail peers for the email channel tests: swaks as the sending MTA, an aiosmtpd relay that
collects what the hub sends, and small steps a tester would take."""

from __future__ import annotations

import asyncio
import email
import shutil
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any

from tests.support.hub import InProcessHub

HUB_ADDRESS = "support@hub.example.com"


@dataclass
class SwaksResult:
    rc: int
    output: str

    @property
    def accepted(self) -> bool:
        """The end of DATA was answered 250 (the hub has committed the mail)."""
        return self.rc == 0 and "<-  250 2.0.0" in self.output


def have_swaks() -> bool:
    return shutil.which("swaks") is not None


async def swaks(port: int, *args: str, to: str = HUB_ADDRESS, sender: str = "zhang.wei@example.com",
                stdin: bytes | None = None, within_s: float = 30) -> SwaksResult:
    proc = await asyncio.create_subprocess_exec(
        "swaks", "--server", "127.0.0.1", "--port", str(port), "--to", to, "--from", sender,
        "--timeout", "20", *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(within_s):
            out, _ = await proc.communicate(stdin)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return SwaksResult(proc.returncode or 0, out.decode("utf-8", "replace"))


@dataclass
class Relay:
    """An aiosmtpd Controller on loopback standing in for the outgoing mail server."""

    port: int
    messages: list[tuple[Any, EmailMessage]] = field(default_factory=list)
    controller: Any = None
    _loop: asyncio.AbstractEventLoop | None = None
    _arrived: asyncio.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=policy.default)
        self.messages.append((envelope, msg))  # type: ignore[arg-type]
        if self._loop is not None and self._arrived is not None:
            self._loop.call_soon_threadsafe(self._arrived.set)
        return "250 OK"

    def start(self) -> Relay:
        from aiosmtpd.controller import Controller

        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def wait(self, count: int = 1, within_s: float = 10) -> list[EmailMessage]:
        assert self._arrived is not None
        async with asyncio.timeout(within_s):
            while len(self.messages) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return [m for _, m in self.messages]


def channel(hub: InProcessHub) -> Any:
    return hub.services.ports.email


async def conversations_of(client: Any, view: str = "all", **query: Any) -> list[dict[str, Any]]:
    params = {"view": view, "channel": "email", "limit": 200, **query}
    r = await client.get("/api/conversations", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]
