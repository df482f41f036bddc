"""The SMS channel (SMS-1): Kannel and SMPP gateways, threading by phone number, keywords,
bulk and scheduled sends, delivery reports. See ``channels/sms/README.md``."""

from channels.sms.adapter import SmsChannel

__all__ = ["SmsChannel"]
