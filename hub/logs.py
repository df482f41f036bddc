"""The server process's logging (``server.py``): no secret and no mail session in the logs
(issue #16, item 11; docs/SECURITY.md, "Logs").

* :class:`RedactSecrets` rewrites query values that are credentials (``token=``, ``key=``,
  ``password=``, ``sig=``, Socket.IO's ``sid=`` …) and SMS text (``text=``, in Kannel's ``get-url``
  and ``sendsms``) to ``***`` in every record: on the access logger itself (so whatever handler is
  added later sees the redacted line) and on every handler (so records of other libraries, such as
  httpx's request lines, are redacted too).
* Mail sessions are not logged below WARNING: aiosmtpd (``mail.log``) logs every SMTP command line
  — addresses, ``AUTH`` blobs — at INFO, aioimaplib untagged server lines; only ``log_level =
  "debug"`` shows them (debug logs may then hold personal data). httpx's request lines (the SMS
  gateway's URL carries the recipient and the text) are likewise WARNING and above unless debugging.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

#: query parameters whose values never reach a log (case-insensitive; names containing
#: token/key/secret/password/auth/signature, and these exact names)
_SECRET_NAME = r"[\w.-]*(?:token|key|secret|passw(?:or)?d|pwd|auth|signature)[\w.-]*|pass|sig|sid|code|otp|text"
_QUERY_SECRET = re.compile(rf"(?i)(?<![\w.-])((?:{_SECRET_NAME})=)[^&;#\s\"'<>]*")

#: loggers that would log mail sessions (or outbound request URLs) at INFO
QUIET_LOGGERS = ("mail.log", "aioimaplib", "httpx", "httpcore")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``***``."""
    return _QUERY_SECRET.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Redacts secret query values in a record's message and arguments (keeps the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._arg(v) for k, v in record.args.items()}
        return True

    @staticmethod
    def _arg(value: Any) -> Any:
        if value is None or isinstance(value, int | float):
            return value
        text = str(value)  # an httpx.URL, say: kept as it is unless it holds a secret
        cleaned = redact(text)
        return value if cleaned == text and not isinstance(value, str) else cleaned


def logging_config(level: str, stream: str | None = None) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of the server: the root logger (to stderr) and uvicorn's
    loggers (its own formats and streams), every handler and the access logger behind
    :class:`RedactSecrets`, the mail libraries quiet below WARNING unless ``level`` is debug.
    ``stream`` (``ext://…``) sends every handler there instead."""
    from uvicorn.config import LOGGING_CONFIG

    cfg: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    cfg["filters"] = {"redact_secrets": {"()": RedactSecrets}}
    cfg["formatters"]["plain"] = {"format": LOG_FORMAT}
    cfg["handlers"]["root"] = {"class": "logging.StreamHandler", "formatter": "plain",
                               "stream": "ext://sys.stderr"}
    for handler in cfg["handlers"].values():
        handler["filters"] = ["redact_secrets"]
        if stream is not None:
            handler["stream"] = stream
    cfg["loggers"]["uvicorn.access"]["filters"] = ["redact_secrets"]
    quiet = "DEBUG" if level.lower() == "debug" else "WARNING"
    for name in QUIET_LOGGERS:
        cfg["loggers"][name] = {"level": quiet}
    cfg["root"] = {"handlers": ["root"], "level": level.upper()}
    return cfg
