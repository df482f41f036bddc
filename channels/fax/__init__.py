"""The fax channel (FAX-1): inbound by webhook and fax-to-email, page images and OCR, outbound,
bulk and fax-on-demand. See ``channels/fax/README.md``.

The channel is ``channels.fax.adapter.FaxChannel``; its settings section is
``channels.fax.settings.FaxSettings``. This package imports nothing, so the composition root
reads the section without loading the channel (or its optional libraries) while it is off."""
