"""Handing memory the process has freed back to the system.

CPython and the native libraries (ONNX Runtime, SQLite, zlib) allocate through glibc's malloc,
which keeps freed heap pages for reuse: after start-up work that is done once (migrations, demo
data, building the FAQ index with its document batches) the process stays that much larger for
its whole life. ``malloc_trim(0)`` returns those free pages; it changes nothing else."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)


def release_free_memory() -> bool:
    """Return the heap's free pages to the system (glibc only; elsewhere nothing happens)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
