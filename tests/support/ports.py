"""Free loopback ports for servers under test (hubs, PostgreSQL, Kannel, relays, SIP peers).

A port is chosen before the server binds it, so two test processes (pytest-xdist workers) must
not choose from the same ports: each process takes its ports from a block of its own, below the
kernel's ephemeral range (32768+, where ``bind(("127.0.0.1", 0))`` and outgoing connections take
theirs), four apart (sipp and RTP peers also use the next ports up: RTCP, video), going round the
block so a port comes back only after ~1000 others."""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading

_FIRST, _BLOCK, _STRIDE = 10_000, 4_000, 4  # blocks 10000-13999, 14000-17999, …: five processes
#: ports Chromium refuses to open a page on (net::ERR_UNSAFE_PORT) in the blocks above: a hub there
#: would fail a browser test at its first page
_BROWSER_UNSAFE = frozenset({10080})
_lock = threading.Lock()
_next: itertools.cycle[int] | None = None


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … under pytest-xdist
    return int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0


def _candidates() -> itertools.cycle[int]:
    global _next
    if _next is None:
        index = _worker_index()
        if _FIRST + (index + 1) * _BLOCK > 32_768:  # more workers than blocks: the kernel chooses
            return itertools.cycle([0])
        ports = [p for p in range(_FIRST + index * _BLOCK, _FIRST + (index + 1) * _BLOCK, _STRIDE)
                 if p not in _BROWSER_UNSAFE]
        start = random.randrange(len(ports))  # a new run does not begin on the last run's ports
        _next = itertools.cycle(ports[start:] + ports[:start])
    return _next


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port nothing listens on now (TCP, or UDP with ``socket.SOCK_DGRAM``)."""
    with _lock:
        candidates = _candidates()
        for _ in range(_BLOCK // _STRIDE):
            port = next(candidates)
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(s.getsockname()[1])
    raise RuntimeError("no free loopback port in this test process's block")


def free_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)
