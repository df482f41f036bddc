"""Uploads of recipient lists: one multipart form with a file and a few text fields.

:func:`read_form_file` reads ``multipart/form-data`` with one ``file`` field and a few text fields
(415 when it is not multipart, 413 when the file is too large, 422 when the form is broken). The
CSV inside is read by :func:`hub.services.csv_recipients.read_csv`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from hub.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_CSV_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class FormFile:
    data: bytes
    filename: str
    fields: dict[str, str]


async def read_form_file(request: Request, *, fields: Sequence[str], max_bytes: int = MAX_CSV_BYTES,
                         what: str = "CSV file") -> FormFile:
    """The ``file`` part and the named text ``fields`` of a multipart upload."""
    limit_text = f"{max_bytes // 1024 // 1024} MiB" if max_bytes >= 1024 * 1024 else f"{max_bytes // 1024} KiB"
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"upload the {what} as multipart/form-data with a 'file' field")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
        raise PayloadTooLarge(f"the {what} is larger than {limit_text}")
    try:
        form = await request.form(max_files=1, max_fields=max(10, len(fields) + 2),
                                  max_part_size=max_bytes + 1)
    except Exception as err:  # noqa: BLE001 - multipart parser errors are the client's
        raise ValidationFailed(f"could not read the upload: {err}") from err
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationFailed(f"the form needs a 'file' field with the {what}")
        data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PayloadTooLarge(f"the {what} is larger than {limit_text}")
        values = {name: str(form.get(name) or "").strip() for name in fields}
        return FormFile(data, upload.filename or "", values)
    finally:
        await form.close()
