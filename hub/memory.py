"""Handing memory the process has freed back to the system.

CPython and the native libraries (ONNX Runtime, SQLite, zlib) allocate through glibc's malloc,
which keeps freed heap pages for reuse: after start-up work that is done once (migrations, demo
data, building the FAQ index with its document batches) the process stays that much larger for
its whole life. ``malloc_trim(0)`` returns those free pages; a fixed mmap threshold keeps large
buffers out of the heap in the first place. Neither changes anything else."""

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


#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: allocations from this size on get their own mapping, returned to the system when freed
MMAP_THRESHOLD = 1024 * 1024


def keep_large_buffers_unretained() -> bool:
    """Fix glibc's mmap threshold at 1 MiB instead of letting it float: by default, freeing one
    large buffer raises the threshold (up to 32 MiB), and later large buffers (the embedding
    batches of an index build, big request bodies) come from the heap, where their pages stay
    after they are freed. Fixed, each buffer from 1 MiB on is its own mapping and goes back to
    the system when freed. (Not lower: a socket read asks for 256 KiB, and at the default 128 KiB
    every read would be a mapping made and unmade.) glibc only; elsewhere nothing happens.
    Measured on make run's hub after the start-up (re)index of the demo FAQ: 330-339 MB
    resident, 346-385 MB without (the same pages were freed but kept until a malloc_trim)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD))
