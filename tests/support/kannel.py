"""Real Kannel for tests and benchmarks: bearerbox + smsbox with two fake SMSC links, driven by
Kannel's own ``fakesmsc`` (kannel-extras), all on free loopback ports in a temp directory.

- ``mt`` link: one long-running ``fakesmsc`` that receives everything the hub sends (its output
  is parsed into ``Received`` messages, concatenated parts reassembled by UDH).
- ``mo`` link: ``inject`` runs a short ``fakesmsc`` that sends messages to Kannel (as a phone
  would), which smsbox hands to the hub's ``get-url``.

The fake SMSC generates delivery reports (SMSC accepted, then delivered) for every message sent
with a ``dlr-mask``; Kannel calls the hub's ``dlr-url`` with them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.wait import eventually_sync

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
_GOT = re.compile(r"Got message (\d+): <(.*)>$")


def have_kannel() -> bool:
    return all(os.path.exists(p) for p in (BEARERBOX, SMSBOX, FAKESMSC))


@dataclass(frozen=True)
class Received:
    """One message as the phone sees it (parts joined)."""

    sender: str
    receiver: str
    text: str
    parts: int
    coding: str  # text | ucs-2 | data


def _unquote(data: str) -> bytes:
    # Kannel's octstr_url_encode writes a space as '+' (and a '+' as %2B).
    return urllib.parse.unquote_to_bytes(data.replace("+", "%20"))


class Kannel:
    def __init__(self, workdir: Path, hub_port: int, token: str, username: str = "hub",
                 password: str = "kannel-secret", mo_method: str = "get") -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hub_port = hub_port
        self.token = token
        self.username = username
        self.password = password
        self.mo_method = mo_method  # get: sms-service get-url; post: post-url (text as the body)
        self.admin_port, self.box_port, self.sendsms_port = free_port(), free_port(), free_port()
        self.mt_port, self.mo_port = free_port(), free_port()
        self.procs: list[subprocess.Popen[bytes]] = []
        self._sink: subprocess.Popen[bytes] | None = None
        self._logs: list[object] = []

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def config(self) -> str:
        base = f"http://127.0.0.1:{self.hub_port}/api/sms/kannel/inbound?token={self.token}"
        mo_url = (f'get-url = "{base}&from=%p&to=%P&text=%a&id=%I&smsc=%i"' if self.mo_method == "get"
                  else f'post-url = "{base}&from=%p&id=%I"')
        return f"""
group = core
admin-port = {self.admin_port}
admin-password = admin-secret
smsbox-port = {self.box_port}
box-allow-ip = "127.0.0.1"
log-file = "{self.dir}/bearerbox.log"
log-level = 1
access-log = "{self.dir}/access.log"
dlr-storage = internal
sms-resend-retry = 3

group = smsc
smsc = fake
smsc-id = mt
port = {self.mt_port}
connect-allow-ip = 127.0.0.1

group = smsc
smsc = fake
smsc-id = mo
port = {self.mo_port}
connect-allow-ip = 127.0.0.1
allowed-smsc-id = mo-only

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
log-file = "{self.dir}/smsbox.log"
log-level = 1
mo-recode = true
http-request-retry = 3

group = sendsms-user
username = {self.username}
password = {self.password}
concatenation = true
max-messages = 10
forced-smsc = mt

group = sms-service
keyword = default
catch-all = true
max-messages = 0
{mo_url}
"""

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"{name}.out", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(list(args), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self, timeout: float = 20) -> Kannel:
        conf = self.dir / "kannel.conf"
        conf.write_text(self.config())
        self._spawn("bearerbox", BEARERBOX, "-v", "1", str(conf))
        self._wait_port(self.box_port, timeout)
        self._spawn("smsbox", SMSBOX, "-v", "1", str(conf))
        self._sink = self._spawn("sink", FAKESMSC, "-H", "127.0.0.1", "-r", str(self.mt_port),
                                 "-m", "0", "unused")
        self._wait_port(self.sendsms_port, timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if "mt" in status and re.search(r"\bmt\b.*\(online", status):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"Kannel did not come up: {self.status()[:2000]}")

    def status(self) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{self.admin_port}/status.txt",
                             params={"password": "admin-secret"}, timeout=2).text
        except httpx.HTTPError:
            return ""

    def _wait_port(self, port: int, timeout: float) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a Kannel process exited: {p.args} rc={p.returncode}; "
                                       f"{self.tail()}")
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"port {port} did not open in {timeout} s; {self.tail()}")

    def tail(self) -> str:
        out = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox.out", "smsbox.out"):
            p = self.dir / name
            if p.exists():
                out.append(f"--- {name}\n" + p.read_text(errors="replace")[-1500:])
        return "\n".join(out)

    def inject(self, sender: str, receiver: str, text: str, *, coding: str = "text",
               timeout: float = 15) -> None:
        """A phone sends one SMS to Kannel (``coding`` text, or ucs2 for any Unicode text)."""
        if coding == "ucs2":
            line = f"{sender} {receiver} ucs2 {urllib.parse.quote(text.encode('utf-16-be'))}"
        else:
            line = f"{sender} {receiver} {coding} {text}"
        self.inject_lines([line], timeout=timeout)

    def inject_lines(self, lines: list[str], *, count: int | None = None, interval: float = 0,
                     timeout: float = 60) -> None:
        """Send ``count`` messages (default one per line) in one fakesmsc run; fakesmsc picks
        each message at random from ``lines``."""
        count = len(lines) if count is None else count
        out = self.dir / f"inject-{time.monotonic_ns()}.out"
        with open(out, "wb") as fh:
            proc = subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.mo_port), "-i", str(interval),
                 "-m", str(count), *lines], stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True)
            try:
                deadline = time.monotonic() + timeout
                want = f"sent message {count}"
                while want not in out.read_text(errors="replace"):
                    if proc.poll() is not None:
                        raise RuntimeError(f"fakesmsc exited: {out.read_text()[-1000:]}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"fakesmsc did not send in {timeout} s")
                    time.sleep(0.02)
                time.sleep(0.2)  # let the last line leave the socket before the link closes
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)

    def received(self) -> list[Received]:
        """Everything the phone side (the ``mt`` fakesmsc) got, concatenated parts joined."""
        path = self.dir / "sink.out"
        if not path.exists():
            return []
        out: list[Received] = []
        pending: dict[tuple[str, str, int], dict[int, tuple[str, bytes | str]]] = {}
        totals: dict[tuple[str, str, int], int] = {}
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _GOT.search(line)
            if not m:
                continue
            fields = m.group(2).split(" ")
            sender, receiver, kind = fields[0], fields[1], fields[2]
            if kind == "udh":
                udh = _unquote(fields[3])
                dkind, data = fields[4], fields[5] if len(fields) > 5 else ""
                ref, total, seq = udh[3], udh[4], udh[5]
                key = (sender, receiver, ref)
                pending.setdefault(key, {})[seq] = ("ucs-2" if dkind == "data" else dkind,
                                                    _unquote(data))
                totals[key] = total
                if len(pending[key]) == total:
                    chunks = [pending[key][i][1] for i in range(1, total + 1)]
                    raw = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
                    out.append(Received(sender, receiver, _as_text(raw), total, "ucs-2"))
                    del pending[key]
                continue
            data = " ".join(fields[3:])
            if kind == "text":
                out.append(Received(sender, receiver, data, 1, "text"))
            else:
                raw = _unquote(data)
                out.append(Received(sender, receiver,
                                    raw.decode("utf-16-be") if kind == "ucs-2" else _as_text(raw),
                                    1, kind))
        return out

    def wait_received(self, count: int, timeout: float = 30,
                      predicate: object = None) -> list[Received]:
        def got() -> list[Received]:
            return [r for r in self.received() if predicate is None or predicate(r)]  # type: ignore[operator]

        return eventually_sync(got, timeout, until=lambda rs: len(rs) >= count,
                               what=f"the phone gets {count} messages")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for log in self._logs:
            log.close()  # type: ignore[attr-defined]
        self.procs.clear()


def _as_text(raw: bytes) -> str:
    """Concatenated parts are printed without their coding: UCS-2 parts are UTF-16BE octets
    (zero or high bytes appear), GSM parts plain 7-bit text. A heuristic good for test texts."""
    if len(raw) % 2 == 0 and any(b == 0 or b > 0x7F for b in raw):
        try:
            return raw.decode("utf-16-be")
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
