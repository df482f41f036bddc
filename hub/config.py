"""Typed configuration: defaults <- TOML file <- environment (``HUB_*``), read once at start.

Every setting is documented in ``docs/CONFIGURATION.md``. Domain code never reads ``os.environ``;
``load_settings`` is called by ``server.py`` (through ``bootstrap.load_settings``) and the result
is passed down.

``Settings`` holds the hub's own settings. Each component declares its section in its own package
(``channels/email/settings.py``: ``EmailSettings``), a frozen dataclass subclassing ``Section``
that validates itself; the composition root passes the section classes to ``load_settings`` (the
hub imports no component), and a component reads its section with ``settings.section(EmailSettings)``.
A section's field ``port`` with ``prefix = "email_"`` is the flat key ``email_port``: the TOML key,
the keyword override, and (upper-cased) the environment variable ``HUB_EMAIL_PORT``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from hub.errors import ConfigError
from hub.origins import parse_origins
from hub.services.language import LANGUAGES

DEFAULT_ALLOWED_TYPES = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
)

DEMO_LOCALES = ("zh-CN", "en")  # the languages of the demo data (setting ``demo_locale``)


@dataclass(frozen=True)
class Section:
    """A component's settings section: subclass it as a frozen dataclass whose fields all have
    defaults, set ``prefix`` (``"email_"``), and check values in ``validate``. A field's flat key is
    ``prefix + name`` unless its metadata names another (``field(metadata={"key": "..."})``, for
    keys older than the section). ``demo_defaults`` (field name -> value) replace the defaults while
    demo data is on (``demo``), for the keys no file, environment variable or override sets."""

    prefix: ClassVar[str] = ""
    demo_defaults: ClassVar[Mapping[str, Any]] = {}

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the flat key of a bad value."""

    @classmethod
    def keys(cls) -> dict[str, dataclasses.Field[Any]]:
        """Flat key -> field."""
        return {f.metadata.get("key", cls.prefix + f.name): f for f in dataclasses.fields(cls)}


S = TypeVar("S", bound=Section)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file in data_dir
    # several hub processes (docs/SCALING.md): Redis for Socket.IO rooms and routing commands;
    # empty: one process (needs database_url on PostgreSQL when set)
    redis_url: str = ""
    web_dir: Path = Path("web/dist")
    # HTTPS served by the hub itself (PEM files; both or neither): without a reverse proxy that
    # ends TLS. Set secret_cookie_secure too (HSTS, cookies only over HTTPS)
    tls_certfile: str = ""
    tls_keyfile: str = ""
    # addresses of reverse proxies whose X-Forwarded-For/-Proto the hub believes (uvicorn's
    # forwarded_allow_ips: comma-separated IPs or networks, "*" any): the client IP of rate limits,
    # sessions and the audit log, and whether the request came over HTTPS
    forwarded_allow_ips: str = "127.0.0.1"
    secret_cookie_secure: bool = False
    # origins besides the hub's own (the Host a request is sent to) whose pages may use a staff
    # session: e.g. the public https origin when a proxy rewrites Host (hub/api/csrf.py)
    trusted_origins: str = ""
    # the sites that embed the chat widget (its /widget socket); empty: any (it has its own token)
    widget_origins: str = ""
    session_ttl_s: int = 12 * 3600
    # rate limits (hub/ratelimit.py), per minute on average, bursts of half a minute's worth; 0
    # turns one off. Per client IP: logins, new chats and offline messages; per chat: the
    # customer's messages
    rate_login_per_min: float = 120  # a centre's agents share an office IP at shift start
    rate_widget_sessions_per_min: float = 60  # customers share addresses too (mobile carrier NAT)
    rate_widget_offline_per_min: float = 5
    rate_widget_messages_per_min: float = 60
    widget_session_ttl_s: int = 7 * 24 * 3600
    # a chat customer proving the contact they claimed (hub/services/identity.py): how long a
    # one-time code works, how many wrong codes a chat may enter in all, and how many codes a chat
    # (and a claimed contact) may be sent per minute (bursts of one)
    identity_code_ttl_s: float = 600
    identity_code_max_attempts: int = 5
    rate_identity_codes_per_min: float = 1
    max_upload_bytes: int = 10 * 1024 * 1024
    allowed_upload_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    demo: bool = False
    # the demo's language (with ``demo`` on): "zh-CN" a Chinese gas utility's centre (queues, FAQ,
    # IVR in Mandarin, Chinese names), "en" the English demo
    demo_locale: str = "zh-CN"
    # the language of customer-facing texts when a conversation's own is not known (zh-CN, en;
    # hub/services/texts.py)
    default_language: str = "zh-CN"
    widget_default_queue: str = "general"
    log_level: str = "info"
    # check each JSON answer against the response model its operation declares (a misfit is a 500
    # response_mismatch): on in the tests, off in production (the models describe, never filter)
    api_check_responses: bool = False
    wallboard_interval_s: float = 0.5
    # an agent whose last desk (browser tab) is gone this long is set not ready with the reason
    # "disconnected" and their open offers go to other agents (hub/realtime.py); 0: never
    agent_disconnect_grace_s: float = 20.0
    # permessage-deflate on the Socket.IO WebSockets: off, as in Socket.IO's own server (its
    # perMessageDeflate defaults to false). Chat frames are a few hundred bytes; compressing
    # them cost the hub 21.4 vs 13.5 ms of CPU per new chat (the compressor set up per
    # connection) and a deflate per frame pushed (bench/chat.py, docs/SCALING.md)
    ws_per_message_deflate: bool = False
    login_max_failures: int = 10
    # scrypt cost of new password hashes (hub/security.py): 2^17 is OWASP's recommendation; lower
    # only for test suites (every login hashes once). Older hashes are re-hashed at login.
    password_scrypt_n: int = 2**17
    # durable scheduler (docs/CONFIGURATION.md, "Timers")
    scheduler_poll_interval_s: float = 1.0
    scheduler_lease_s: float = 120.0
    scheduler_handler_timeout_s: float = 60.0
    scheduler_max_attempts: int = 5
    scheduler_retry_base_s: float = 10.0
    clock_start: str = ""  # ISO 8601 instant the hub's clock starts at (training/tests); empty: real time
    # agent replies sent out by SMS/fax/email: recovered on start within this window (hub/services/outbound_replies.py)
    outbound_reply_window_s: float = 24 * 3600.0
    # durable event consumers (hub/events.py) that run in this process: "*" all, "none", or names
    event_consumers: str = "*"
    # retention (hub/services/privacy.py; docs/SECURITY.md): days after a conversation closed
    # before its content (messages, attachments, raw email, transcripts, recordings), its message
    # texts, or its files (not recordings) are erased by the daily run; 0: keep forever
    retention_conversations_days: float = 0.0
    retention_messages_days: float = 0.0
    retention_attachments_days: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    # the components' sections that were loaded (``section`` gives one, or its defaults)
    sections: Mapping[type[Section], Section] = field(default_factory=dict)

    def section(self, kind: type[S]) -> S:
        """The component's section ``kind``: as loaded, or its defaults when it was not loaded."""
        found = self.sections.get(kind)
        return found if isinstance(found, kind) else kind()

    def with_sections(self, *sections: Section) -> Settings:
        """These settings with ``sections`` in place of the loaded ones of their classes."""
        return dataclasses.replace(self, sections={**self.sections, **{type(x): x for x in sections}})

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def clock_start_epoch(self) -> float:
        return datetime.fromisoformat(self.clock_start).timestamp()

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name not in {"extra", "sections"}}


def _coerce(name: str, f: dataclasses.Field[Any], value: Any, source: str) -> Any:
    """``value`` (from a TOML file, the environment or an override) as the type of field ``f``,
    whose flat key is ``name``."""
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
        if kind == "float | None":  # optional: empty (or "none") leaves it unset
            if value is None or str(value).strip().lower() in {"", "none"}:
                return None
            if isinstance(value, bool):
                raise ValueError("expected a number")
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
    raise TypeError(f"setting {name!r}: no parser for the type {kind!r}")


def _validate(s: Settings) -> Settings:
    if not 0 < s.port < 65536:
        raise ConfigError(f"setting 'port' must be between 1 and 65535, got {s.port}")
    if s.max_upload_bytes <= 0:
        raise ConfigError("setting 'max_upload_bytes' must be positive")
    if s.session_ttl_s < 60:
        raise ConfigError("setting 'session_ttl_s' must be at least 60 seconds")
    for name in ("trusted_origins", "widget_origins"):
        try:
            parse_origins(getattr(s, name))
        except ValueError as err:
            raise ConfigError(f"setting '{name}': {err}") from None
    if s.database_url and not s.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "setting 'database_url' must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://")):
        raise ConfigError("setting 'redis_url' must start with redis:// or rediss:// (or be empty)")
    if s.redis_url and not s.effective_database_url.startswith("postgresql"):
        raise ConfigError("setting 'redis_url' (several hub processes) needs 'database_url' on "
                          "PostgreSQL")
    if s.scheduler_poll_interval_s <= 0 or s.scheduler_handler_timeout_s <= 0:
        raise ConfigError("settings 'scheduler_poll_interval_s' and 'scheduler_handler_timeout_s' "
                          "must be positive")
    if s.scheduler_lease_s <= s.scheduler_handler_timeout_s:
        raise ConfigError("setting 'scheduler_lease_s' must be longer than 'scheduler_handler_timeout_s'")
    if s.clock_start:
        try:
            start = datetime.fromisoformat(s.clock_start)
        except ValueError as err:
            raise ConfigError(f"setting 'clock_start' must be an ISO 8601 time, got {s.clock_start!r}") from err
        if start.tzinfo is None:
            raise ConfigError("setting 'clock_start' needs a UTC offset (e.g. 2026-05-08T16:55:00+02:00)")
    if not re.fullmatch(r"\*|none|[a-z0-9_.:-]+(,[a-z0-9_.:-]+)*", s.event_consumers.replace(" ", "")):
        raise ConfigError("setting 'event_consumers' must be *, none or a comma-separated list of "
                          f"consumer names, got {s.event_consumers!r}")
    if s.identity_code_ttl_s < 30 or s.identity_code_max_attempts < 1:
        raise ConfigError("setting 'identity_code_ttl_s' must be at least 30 and "
                          "'identity_code_max_attempts' at least 1")
    if s.outbound_reply_window_s < 0:
        raise ConfigError("setting 'outbound_reply_window_s' must be at least 0")
    if s.scheduler_max_attempts < 1 or s.scheduler_retry_base_s < 0:
        raise ConfigError("setting 'scheduler_max_attempts' must be at least 1 and "
                          "'scheduler_retry_base_s' at least 0")
    n = s.password_scrypt_n
    if n < 2**10 or n > 2**20 or n & (n - 1):
        raise ConfigError("setting 'password_scrypt_n' must be a power of two between 1024 and "
                          f"1048576 (default 131072), got {n}")
    check_tls_files("tls_certfile", s.tls_certfile, "tls_keyfile", s.tls_keyfile)
    if not s.forwarded_allow_ips.strip():
        raise ConfigError("setting 'forwarded_allow_ips' must name at least one address (127.0.0.1 "
                          "by default; * trusts every client's X-Forwarded-For)")
    if s.demo_locale not in DEMO_LOCALES:
        raise ConfigError(f"setting 'demo_locale' must be one of {', '.join(DEMO_LOCALES)}, "
                          f"got {s.demo_locale!r}")
    for name in ("retention_conversations_days", "retention_messages_days", "retention_attachments_days"):
        if getattr(s, name) < 0:
            raise ConfigError(f"setting '{name}' must be >= 0 (0: keep forever)")
    if s.default_language not in LANGUAGES:
        raise ConfigError(f"setting 'default_language' must be one of {', '.join(LANGUAGES)}, "
                          f"got {s.default_language!r}")
    if s.log_level not in {"debug", "info", "warning", "error"}:
        raise ConfigError("setting 'log_level' must be one of debug, info, warning, error")
    return s


def server_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server's TLS context with this certificate (chain) and key: TLS 1.2 or later, Python's
    current cipher choice, no client certificates."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def check_tls_files(cert_key: str, certfile: str, key_key: str, keyfile: str) -> None:
    """A certificate (chain) and its private key, named by settings ``cert_key`` and ``key_key``:
    both or neither, and they must load as a pair (``ConfigError`` naming the setting otherwise)."""
    if not certfile and not keyfile:
        return
    if not certfile or not keyfile:
        raise ConfigError(f"settings '{cert_key}' and '{key_key}' go together: set both or neither")
    for key, path in ((cert_key, certfile), (key_key, keyfile)):
        if not Path(path).is_file():
            raise ConfigError(f"setting '{key}': the file {path} does not exist")
    try:
        server_tls_context(certfile, keyfile)
    except (ssl.SSLError, OSError) as err:
        raise ConfigError(f"settings '{cert_key}' and '{key_key}': cannot use {certfile} with "
                          f"{keyfile} as a certificate and its key ({err})") from err


def enabled_consumers(s: Settings) -> frozenset[str] | None:
    """The durable event consumers this process runs (``None``: all of them)."""
    v = s.event_consumers.replace(" ", "")
    if v == "*":
        return None
    return frozenset() if v == "none" else frozenset(v.split(","))


def _known(sections: Iterable[type[Section]]) -> dict[str, tuple[type[Section] | None, dataclasses.Field[Any]]]:
    """Flat key -> (its section, or None for the hub's own, and the field)."""
    known: dict[str, tuple[type[Section] | None, dataclasses.Field[Any]]] = {
        k: (None, f) for k, f in _FIELDS.items()}
    for kind in sections:
        for key, f in kind.keys().items():
            if key in known:
                raise TypeError(f"setting {key!r} of {kind.__qualname__} is declared twice")
            known[key] = (kind, f)
    return known


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    sections: Iterable[type[Section]] = (),
    **overrides: Any,
) -> Settings:
    """Layer defaults <- TOML file <- ``HUB_*`` environment <- keyword overrides, for the hub's own
    settings and the ``sections`` of the components (flat keys: ``email_port``)."""
    known = _known(sections)
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
        table = data.get("hub", data)
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
            values[key] = _coerce(key, known[key][1], value, str(path))
    for key, (_, f) in known.items():
        env_key = f"HUB_{key.upper()}"
        if env_key in env:
            values[key] = _coerce(key, f, env[env_key], f"environment {env_key}")
    for key, value in overrides.items():
        if key not in known:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(key, known[key][1], value, "override")
    if values.get("demo", _FIELDS["demo"].default):
        for demo_kind in sections:
            for key, f in demo_kind.keys().items():
                if key not in values and f.name in demo_kind.demo_defaults:
                    values[key] = _coerce(key, f, demo_kind.demo_defaults[f.name], "demo default")
    per_section: dict[type[Section] | None, dict[str, Any]] = {}
    for key, value in values.items():
        kind, f = known[key]
        per_section.setdefault(kind, {})[f.name] = value
    loaded: dict[type[Section], Section] = {}
    for kind in sections:
        loaded[kind] = kind(**per_section.get(kind, {}))
    settings = _validate(Settings(**per_section.get(None, {}), sections=loaded))
    for section in loaded.values():
        section.validate()
    return settings
