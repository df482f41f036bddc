"""The SMS channel's settings section (keys ``sms_*``, ``HUB_SMS_*``; docs/CONFIGURATION.md,
"SMS channel")."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Section
from hub.errors import ConfigError


@dataclass(frozen=True)
class SmsSettings(Section):
    prefix = "sms_"

    enabled: bool = True
    gateway: str = "kannel"  # kannel | smpp
    number: str = "95007"  # our short code / long number (the sender of what we send)
    default_country: str = "CN"  # region for numbers written without +country code
    queue: str = ""  # empty: widget_default_queue
    inbound_token: str = ""  # shared secret in Kannel's get-url/dlr-url; empty: inbound off
    public_url: str = ""  # how Kannel reaches the hub (dlr-url); empty: http://host:port
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = ""
    kannel_password: str = ""
    kannel_smsc: str = ""  # smsc-id to route through; empty: Kannel's routing
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = ""
    smpp_password: str = ""
    smpp_system_type: str = ""
    rate_per_s: float = 50.0  # outbound messages per second, all kinds together
    send_concurrency: int = 8
    send_attempts: int = 5
    retry_base_s: float = 5.0
    gateway_timeout_s: float = 10.0
    max_segments: int = 10
    bulk_max_recipients: int = 50_000
    balance_field: str = "balance"  # contact custom field the BAL keyword answers with

    def validate(self) -> None:
        if self.gateway not in {"kannel", "smpp"}:
            raise ConfigError(f"setting 'sms_gateway' must be kannel or smpp, got {self.gateway!r}")
        if self.rate_per_s <= 0 or self.send_concurrency < 1 or self.send_attempts < 1:
            raise ConfigError("settings 'sms_rate_per_s', 'sms_send_concurrency' and 'sms_send_attempts' "
                              "must be positive")
        if self.retry_base_s < 0 or self.gateway_timeout_s <= 0 or not 1 <= self.max_segments <= 255:
            raise ConfigError("settings 'sms_retry_base_s' >= 0, 'sms_gateway_timeout_s' > 0 and "
                              "'sms_max_segments' 1..255 are required")
