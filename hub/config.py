"""Typed configuration: defaults <- TOML file <- environment (``HUB_*``), read once at start.

Every setting is documented in ``docs/CONFIGURATION.md``. Domain code never reads ``os.environ``;
``load_settings`` is called by ``server.py`` and the result is passed down.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError

DEFAULT_ALLOWED_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
)


# Attachment types kept as they are when they arrive by email; any other part is stored as
# application/octet-stream (never dropped, never served as something a browser would run).
DEFAULT_EMAIL_ATTACHMENT_TYPES = (
    *DEFAULT_ALLOWED_TYPES, "text/csv", "text/calendar", "message/rfc822",
    "application/zip", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "image/tiff", "audio/mpeg", "audio/wav", "application/octet-stream",
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    web_dir: Path = Path("web/dist")
    secret_cookie_secure: bool = False
    session_ttl_s: int = 12 * 3600
    widget_session_ttl_s: int = 7 * 24 * 3600
    max_upload_bytes: int = 10 * 1024 * 1024
    allowed_upload_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    demo: bool = False
    widget_default_queue: str = "general"
    log_level: str = "info"
    wallboard_interval_s: float = 0.5
    login_max_failures: int = 10
    # email channel (docs/CONFIGURATION.md, "Email channel")
    email_enabled: bool = True
    email_host: str = "127.0.0.1"
    email_port: int = 2525  # 0: no inbound SMTP listener
    email_max_message_bytes: int = 25 * 1024 * 1024
    email_address: str = "support@localhost"
    email_display_name: str = "Support"
    email_accept_recipients: tuple[str, ...] = ()  # empty: the domain of email_address
    email_queue: str = ""  # empty: widget_default_queue
    email_attachment_types: tuple[str, ...] = DEFAULT_EMAIL_ATTACHMENT_TYPES
    email_smtp_host: str = "127.0.0.1"
    email_smtp_port: int = 25
    email_smtp_username: str = ""
    email_smtp_password: str = ""
    email_smtp_starttls: bool = False
    email_smtp_timeout_s: float = 30.0
    email_send_attempts: int = 5
    email_retry_base_s: float = 5.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def email_raw_dir(self) -> Path:
        return self.data_dir / "email" / "raw"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}


def _coerce(name: str, value: Any, source: str) -> Any:
    default = getattr(Settings, name, None)
    f = _FIELDS[name]
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError("expected true/false")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected an integer")
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(str(value))
        if kind.startswith("tuple"):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if isinstance(value, list | tuple):
                return tuple(str(v) for v in value)
            raise ValueError("expected a list")
        if kind == "str":
            if not isinstance(value, str | int | float):
                raise ValueError("expected a string")
            return str(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: setting {name!r} has an invalid value {value!r}: {err}") from err
    return value if default is None else value


def _validate(s: Settings) -> Settings:
    if not 0 < s.port < 65536:
        raise ConfigError(f"setting 'port' must be between 1 and 65535, got {s.port}")
    if s.max_upload_bytes <= 0:
        raise ConfigError("setting 'max_upload_bytes' must be positive")
    if s.session_ttl_s < 60:
        raise ConfigError("setting 'session_ttl_s' must be at least 60 seconds")
    if s.database_url and not s.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "setting 'database_url' must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    for name in ("email_port", "email_smtp_port"):
        if not 0 <= getattr(s, name) < 65536:
            raise ConfigError(f"setting {name!r} must be between 0 and 65535, got {getattr(s, name)}")
    if s.email_max_message_bytes <= 0:
        raise ConfigError("setting 'email_max_message_bytes' must be positive")
    if s.email_send_attempts < 1:
        raise ConfigError("setting 'email_send_attempts' must be at least 1")
    if s.email_retry_base_s < 0 or s.email_smtp_timeout_s <= 0:
        raise ConfigError("settings 'email_retry_base_s' and 'email_smtp_timeout_s' must be positive")
    if s.email_enabled and "@" not in s.email_address:
        raise ConfigError(f"setting 'email_address' must be an email address, got {s.email_address!r}")
    if s.log_level not in {"debug", "info", "warning", "error"}:
        raise ConfigError("setting 'log_level' must be one of debug, info, warning, error")
    return s


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Layer defaults <- TOML file <- ``HUB_*`` environment <- keyword overrides."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config_file or env.get("HUB_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as err:
            raise ConfigError(f"configuration file {path} does not exist") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"configuration file {path} is not valid TOML: {err}") from err
        section = data.get("hub", data)
        for key, value in section.items():
            if key not in _FIELDS:
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(_FIELDS))})")
            values[key] = _coerce(key, value, str(path))
    for name in _FIELDS:
        env_key = f"HUB_{name.upper()}"
        if env_key in env:
            values[name] = _coerce(name, env[env_key], f"environment {env_key}")
    for key, value in overrides.items():
        if key not in _FIELDS:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, value, "override")
    return _validate(Settings(**values))
