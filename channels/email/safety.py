"""Attachment safety for inbound mail: zip bombs and decompression-bomb images.

``inspect_part`` looks at one attachment's bytes *without* trusting what it declares and without
decoding more than the limits allow, and returns why it is dangerous (or None):

* **Zip archives** (recognised by their ``PK`` signature, whatever the declared type, so office
  documents are checked too): more than ``max_entries`` entries; a declared uncompressed total
  above ``max_uncompressed``; an entry (over 1 MiB) or the whole archive with a
  compression ratio above ``max_ratio``; then every entry is actually decompressed in 64 KiB
  steps, stopping as soon as it produces more than it declared or the running total passes
  ``max_uncompressed`` (headers can lie). Archives inside the archive are inspected the same way
  within the same budget, ``max_depth`` levels deep; deeper nesting, encrypted entries and entries
  the zip reader cannot decompress are dangerous too (they cannot be checked).
* **Images**: Pillow reads only the header (``Image.open`` decodes no pixel data); more than
  ``max_pixels`` pixels, or Pillow's own ``DecompressionBombError``/``Warning``, is dangerous.

The decision (see ``ingest.py``): a dangerous attachment is *kept, quarantined* — stored as
``application/octet-stream`` so nothing displays it inline, never linked into the HTML
(``cid:`` references show the placeholder), listed to the agent with the reason. The mail itself
is accepted (250): refusing it would make the sender's server retry and then bounce a mail that is
otherwise legitimate, and the agent can still see that something was sent. Pure functions, no I/O
besides reading the given bytes; run them in a worker thread (decompression is CPU work)."""

from __future__ import annotations

import io
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

CHUNK = 64 * 1024
_SMALL = 1024 * 1024  # entries below this are too small for a meaningful ratio check
_NESTED = (".zip", ".jar", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".epub")


@dataclass(frozen=True)
class Limits:
    max_ratio: float = 100.0
    max_uncompressed: int = 200 * 1024 * 1024
    max_entries: int = 10_000
    max_depth: int = 2
    max_pixels: int = 40_000_000


class Dangerous(Exception):
    """Why an attachment is dangerous: in English (``str``), and as a stable ``code`` with its
    ``params`` (names, numbers, byte counts) that the agent's UI says in the agent's language
    (catalogue ``email.quarantine.<code>``)."""

    def __init__(self, message: str, code: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class Reason(str):
    """The English reason an attachment is quarantined, with its ``code`` and ``params``."""

    code: str
    params: dict[str, Any]

    def __new__(cls, text: str, code: str, params: dict[str, Any]) -> Reason:
        out = super().__new__(cls, text)
        out.code, out.params = code, params
        return out

    def public(self) -> dict[str, Any]:
        return {"reason": str(self)[:500], "code": self.code, "params": self.params}


def _mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MiB" if n >= 1024 * 1024 else f"{n:,.0f} bytes"


def is_zip(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06")


class _ZipBudget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total = 0
        self.entries = 0


def _check_zip(data: bytes, budget: _ZipBudget, depth: int, label: str) -> None:
    lim = budget.limits
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError) as err:
        if depth == 0:
            return  # not a readable archive: opaque bytes, nothing will unpack it for the agent
        raise Dangerous(f"{label} holds an archive that cannot be read ({err})", "archive_unreadable",
                        name=label, error=str(err)) from err
    budget.entries += len(infos)
    if budget.entries > lim.max_entries:
        raise Dangerous(f"{label} has more than {lim.max_entries:,} entries", "too_many_entries",
                        name=label, max=lim.max_entries)
    declared = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos)
    if declared > _SMALL and declared / max(compressed, 1) > lim.max_ratio:
        raise Dangerous(f"{label} would unpack {_mib(compressed)} into {_mib(declared)}, a "
                        f"compression ratio of {declared / max(compressed, 1):,.0f}:1 (more than "
                        f"{lim.max_ratio:g}:1): a zip bomb", "zip_bomb_archive", name=label,
                        compressed=compressed, declared=declared,
                        ratio=round(declared / max(compressed, 1)), max_ratio=lim.max_ratio)
    if budget.total + declared > lim.max_uncompressed:
        raise Dangerous(f"{label} would unpack to {_mib(budget.total + declared)} "
                        f"(more than {_mib(lim.max_uncompressed)})", "too_large", name=label,
                        size=budget.total + declared, max=lim.max_uncompressed)
    for info in infos:
        if info.is_dir():
            continue
        name = f"{label}/{info.filename}"
        if info.file_size > _SMALL and info.file_size / max(info.compress_size, 1) > lim.max_ratio:
            raise Dangerous(f"{name} has a compression ratio of "
                            f"{info.file_size / max(info.compress_size, 1):,.0f}:1 "
                            f"(more than {lim.max_ratio:g}:1): a zip bomb", "zip_bomb_entry", name=name,
                            ratio=round(info.file_size / max(info.compress_size, 1)), max_ratio=lim.max_ratio)
        if info.flag_bits & 0x1:
            raise Dangerous(f"{name} is encrypted and cannot be inspected", "encrypted", name=name)
        nested = info.filename.lower().endswith(_NESTED)
        inner = bytearray()
        produced = 0
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    produced += len(chunk)
                    budget.total += len(chunk)
                    if produced > info.file_size:
                        raise Dangerous(f"{name} unpacks to more than the {info.file_size:,} bytes it "
                                        "declares (a forged archive)", "forged_size", name=name,
                                        declared=info.file_size)
                    if budget.total > lim.max_uncompressed:
                        raise Dangerous(f"{label} unpacks to more than {_mib(lim.max_uncompressed)}",
                                        "too_large", name=label, size=budget.total, max=lim.max_uncompressed)
                    if nested or (produced == len(chunk) and is_zip(chunk)):
                        nested = True
                        inner += chunk
        except Dangerous:
            raise
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError,
                OSError, EOFError) as err:
            raise Dangerous(f"{name} cannot be unpacked for inspection ({err})", "unpack_failed",
                            name=name, error=str(err)) from err
        if nested and is_zip(bytes(inner[:4])):
            if depth + 1 > lim.max_depth:
                raise Dangerous(f"{name} is an archive nested more than {lim.max_depth} levels deep",
                                "nested_too_deep", name=name, max=lim.max_depth)
            _check_zip(bytes(inner), budget, depth + 1, name)


def _check_image(data: bytes, limits: Limits) -> None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise Dangerous(f"the image is a decompression bomb ({err})", "image_bomb", error=str(err)) from err
    except Exception:  # noqa: BLE001 - not an image Pillow knows: nothing would decode it inline
        return
    if width * height > limits.max_pixels:
        raise Dangerous(f"the image is {width:,} × {height:,} pixels "
                        f"(more than {limits.max_pixels:,}): decoding it could exhaust memory",
                        "image_too_large", width=width, height=height, max=limits.max_pixels)


_IMAGE_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


def needs_inspection(data: bytes, content_type: str) -> bool:
    """Whether ``inspect_part`` has anything to check (an archive or an image): the rest is safe
    without the work (and the worker thread) of an inspection."""
    return is_zip(data) or content_type.startswith("image/") or data[:4].startswith(_IMAGE_MAGIC)


def inspect_part(data: bytes, filename: str, content_type: str, limits: Limits) -> Reason | None:
    """Why this attachment is dangerous (English, with its code and parameters), or None when it
    is safe to offer."""
    try:
        if is_zip(data):
            _check_zip(data, _ZipBudget(limits), 0, filename or "the archive")
        elif content_type.startswith("image/") or data[:4].startswith(_IMAGE_MAGIC):
            _check_image(data, limits)
    except Dangerous as why:
        return Reason(str(why), why.code, why.params)
    except RecursionError:
        name = filename or "the attachment"
        return Reason(f"{name} is nested too deeply to inspect", "recursion", {"name": name})
    return None
