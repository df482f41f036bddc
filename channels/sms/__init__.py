"""The SMS channel (SMS-1): Kannel and SMPP gateways, threading by phone number, keywords,
bulk and scheduled sends, delivery reports. See ``channels/sms/README.md``.

The channel is ``channels.sms.adapter.SmsChannel``; its settings section is
``channels.sms.settings.SmsSettings``. This package imports nothing, so the composition root
reads the section without loading the channel (or its optional libraries) while it is off."""
