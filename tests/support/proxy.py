"""``haproxy -f deploy/haproxy.cfg`` on a free loopback port in front of two hub processes (the
multi-process tests and ``bench/chat.py --processes 2``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.hub import REPO, HubProcess
from tests.support.ports import free_port

__all__ = ["Proxy", "have_haproxy"]


def have_haproxy() -> bool:
    return bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists())


class Proxy:
    """``haproxy -f deploy/haproxy.cfg`` on a free loopback port in front of hubs A and B
    (cookie ``HUBSRV=hub1`` pins a client to A, ``hub2`` to B)."""

    def __init__(self, a: HubProcess, b: HubProcess, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HUB_PROXY_BIND": f"127.0.0.1:{self.port}",
                    "HUB_BACKEND_1": f"127.0.0.1:{a.port}", "HUB_BACKEND_2": f"127.0.0.1:{b.port}"}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proxy:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        self._fh = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([binary, "-f", str(REPO / "deploy" / "haproxy.cfg"), "-db"],
                                     env=self.env, stdout=self._fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("haproxy did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if hasattr(self, "_fh"):
            self._fh.close()
