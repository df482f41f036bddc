"""The fax channel (FAX-1): inbound by webhook and fax-to-email, page images and OCR, outbound,
bulk and fax-on-demand. See ``channels/fax/README.md``."""

from channels.fax.adapter import FaxChannel

__all__ = ["FaxChannel"]
