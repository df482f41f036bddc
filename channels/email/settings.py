"""The email channel's settings section (keys ``email_*``, ``HUB_EMAIL_*``; docs/CONFIGURATION.md,
"Email channel")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.config import DEFAULT_ALLOWED_TYPES, Section, Settings, check_tls_files
from hub.errors import ConfigError

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
class EmailSettings(Section):
    prefix = "email_"

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 2525  # 0: no inbound SMTP listener
    # STARTTLS on the inbound listener (PEM files; both or neither); require_starttls refuses
    # mail on a connection that has not switched to TLS (530 5.7.0)
    tls_certfile: str = ""
    tls_keyfile: str = ""
    require_starttls: bool = False
    max_message_bytes: int = 25 * 1024 * 1024
    address: str = "support@localhost"
    display_name: str = "Support"
    accept_recipients: tuple[str, ...] = ()  # empty: the domain of email_address
    queue: str = ""  # empty: widget_default_queue
    attachment_types: tuple[str, ...] = DEFAULT_EMAIL_ATTACHMENT_TYPES
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = 30.0
    send_attempts: int = 5
    retry_base_s: float = 5.0
    # the authserv-ids of the relays whose Authentication-Results headers (SPF/DKIM/DMARC) the
    # desk shows (channels/email/authresults.py); empty: none is trusted, nothing is shown
    trusted_authserv_ids: tuple[str, ...] = ()
    imap_mailboxes: tuple[str, ...] = ()  # imap[s]://user:password@host:port/Folder[?seen=1]
    imap_poll_s: float = 60.0
    imap_timeout_s: float = 30.0
    # bulk sends and attachment safety (channels/email/bulk.py, safety.py)
    bulk_rate_per_s: float = 10.0  # default rate limit of a bulk job (mails per second)
    bulk_max_recipients: int = 50_000
    zip_max_ratio: float = 100.0  # uncompressed/compressed, per entry and for the archive
    zip_max_uncompressed_bytes: int = 200 * 1024 * 1024
    zip_max_entries: int = 10_000
    zip_max_depth: int = 2  # nested archives inspected this deep; deeper is quarantined
    image_max_pixels: int = 40_000_000
    # days after its conversation closed before a received mail's raw .eml file is deleted by
    # the daily retention run (hub/services/privacy.py); 0: keep forever
    raw_retention_days: float = 0.0

    @property
    def domain(self) -> str:
        """The domain of ``address``: our Message-IDs, the recipients accepted by default."""
        return self.address.rsplit("@", 1)[-1]

    def validate(self) -> None:
        for name in ("port", "smtp_port"):
            if not 0 <= getattr(self, name) < 65536:
                raise ConfigError(f"setting 'email_{name}' must be between 0 and 65535, "
                                  f"got {getattr(self, name)}")
        if self.max_message_bytes <= 0:
            raise ConfigError("setting 'email_max_message_bytes' must be positive")
        if self.send_attempts < 1:
            raise ConfigError("setting 'email_send_attempts' must be at least 1")
        if self.retry_base_s < 0 or self.smtp_timeout_s <= 0:
            raise ConfigError("settings 'email_retry_base_s' and 'email_smtp_timeout_s' must be positive")
        if self.imap_poll_s <= 0 or self.imap_timeout_s <= 0:
            raise ConfigError("settings 'email_imap_poll_s' and 'email_imap_timeout_s' must be positive")
        if (self.bulk_rate_per_s <= 0 or self.bulk_max_recipients < 1 or self.zip_max_ratio <= 1
                or self.zip_max_uncompressed_bytes <= 0 or self.zip_max_entries < 1
                or self.zip_max_depth < 0 or self.image_max_pixels <= 0):
            raise ConfigError("email bulk/attachment-safety limits must be positive "
                              "(email_zip_max_ratio above 1)")
        check_tls_files("email_tls_certfile", self.tls_certfile, "email_tls_keyfile", self.tls_keyfile)
        if self.require_starttls and not self.tls_certfile:
            raise ConfigError("setting 'email_require_starttls' needs 'email_tls_certfile' and "
                              "'email_tls_keyfile' (the certificate STARTTLS presents)")
        if self.raw_retention_days < 0:
            raise ConfigError("setting 'email_raw_retention_days' must be >= 0 (0: keep forever)")
        if self.enabled and "@" not in self.address:
            raise ConfigError(f"setting 'email_address' must be an email address, got {self.address!r}")


def raw_dir(settings: Settings) -> Path:
    """Where the raw inbound mail is kept (under the hub's ``data_dir``)."""
    return settings.data_dir / "email" / "raw"
