"""The email channel (EMAIL-1): SMTP in (aiosmtpd), threading, sanitised HTML, replies out."""

from channels.email.adapter import EmailChannel

__all__ = ["EmailChannel"]
