"""The email channel (EMAIL-1): SMTP in (aiosmtpd), threading, sanitised HTML, replies out.

The channel is ``channels.email.adapter.EmailChannel``; its settings section is
``channels.email.settings.EmailSettings``. This package imports nothing, so the composition root
reads the section without loading the channel (or its optional libraries) while it is off."""
