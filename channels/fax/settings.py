"""The fax channel's settings section (keys ``fax_*``, ``HUB_FAX_*``; docs/CONFIGURATION.md,
"Fax channel")."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Section
from hub.errors import ConfigError


@dataclass(frozen=True)
class FaxSettings(Section):
    prefix = "fax_"

    enabled: bool = True
    inbound_secret: str = ""  # HMAC key of the provider webhook; empty: webhook off
    email_senders: tuple[str, ...] = ()  # fax-to-email gateway addresses: their mail becomes fax
    queue: str = ""  # empty: widget_default_queue
    number: str = ""  # our fax number (the sender of outbound faxes)
    default_country: str = "CN"
    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 100
    max_page_pixels: int = 40_000_000
    max_total_pixels: int = 400_000_000
    ocr: bool = True
    ocr_languages: str = "chi_sim+eng"
    ocr_timeout_s: float = 120.0
    tesseract: str = "tesseract"
    ghostscript: str = "gs"
    font_path: str = ""  # font for text faxes; empty: a CJK font found on the system
    compression: str = "g4"  # g3 | g32d | g4
    gateway: str = "none"  # none | hylafax | email
    hylafax_host: str = "127.0.0.1"
    hylafax_port: int = 4559
    hylafax_user: str = "contact-hub"
    hylafax_password: str = ""
    email_gateway_domain: str = ""  # email-to-fax: mail to <number>@<this domain>
    send_attempts: int = 3
    retry_base_s: float = 60.0
    poll_s: float = 10.0
    send_concurrency: int = 4
    bulk_max_recipients: int = 5000

    def validate(self) -> None:
        if self.gateway not in {"none", "hylafax", "email"}:
            raise ConfigError(f"setting 'fax_gateway' must be none, hylafax or email, got {self.gateway!r}")
        if self.gateway == "email" and not self.email_gateway_domain:
            raise ConfigError("fax_gateway = email needs 'fax_email_gateway_domain'")
        if self.compression not in {"g3", "g32d", "g4"}:
            raise ConfigError(f"setting 'fax_compression' must be g3, g32d or g4, got {self.compression!r}")
        if min(self.max_bytes, self.max_pages, self.max_page_pixels, self.max_total_pixels,
               self.send_attempts, self.send_concurrency) < 1 or self.poll_s <= 0 or self.retry_base_s < 0:
            raise ConfigError("the fax limits, 'fax_send_attempts', 'fax_send_concurrency' and "
                              "'fax_poll_s' must be positive")
