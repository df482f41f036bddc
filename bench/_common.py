"""Small helpers shared by the benches: process figures from /proc, the load average, percentiles."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (a hub may start helper processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU seconds of ``pid`` (and, with ``tree``, its live descendants)."""
    total = 0.0
    for p in [pid, *(_children(pid) if tree else [])]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def rss_mb(pid: int, field: str = "VmRSS", tree: bool = True) -> float:
    """Resident memory in MB (``VmHWM`` for the peak), summed over the process tree."""
    total = 0.0
    for p in [pid, *(_children(pid) if tree else [])]:
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(field + ":"):
                total += int(line.split()[1]) / 1024
    return total


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of an already sorted sequence; None when empty.
    ``inf`` entries (a reply that never came) count as the slowest."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def ms(value: float | None, digits: int = 2) -> float | None:
    """Seconds → rounded milliseconds for JSON (None for missing, None for infinite)."""
    if value is None or math.isinf(value):
        return None
    return round(value * 1000, digits)


def schedstat(pid: int, tid: int | None = None) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of a thread (the main thread by
    default). On a shared machine the waiting share shows how much the OS, not the code, held
    the thread back."""
    path = f"/proc/{pid}/task/{tid}/schedstat" if tid else f"/proc/{pid}/schedstat"
    try:
        run_ns, wait_ns, _ = Path(path).read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


def code_version() -> dict[str, object]:
    """The commit measured, and whether the working tree had uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head, "dirty": dirty}


async def wait_kb_ready(admin: Any, within_s: float) -> dict[str, Any]:
    """Wait (bounded) until the hub's KB index is ready; ``admin`` is a logged-in
    ``httpx.AsyncClient``. A hub with the KB off answers at once."""
    deadline = time.monotonic() + within_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = await admin.get("/api/kb/status")
        if r.status_code != 200:  # the KB is off: nothing to wait for
            return {"ready": False, "http": r.status_code}
        status = r.json()
        if status.get("ready") or status.get("error"):
            return status
        await asyncio.sleep(0.5)
    return {**status, "ready": False, "timed_out": True}
