"""HTML sanitising for inbound mail, done before anything is stored or shown to an agent.

Allowed: nh3's default formatting tags (no script, style, iframe, object, form, input, button,
link, meta, base) and their safe attributes; every ``on*`` handler and ``style`` attribute is
removed (CSS ``url()`` could load remote content). Links keep http/https/mailto only and get
``rel="noopener noreferrer"``. Images: ``cid:`` references become the URL of the stored
attachment, ``data:image/*`` stays, and remote images (http/https) are replaced by a local
placeholder; their URLs are kept (``SanitisedHtml.remote_images``) so the agent UI can load them
after the agent consents. Pure function, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PLACEHOLDER = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='120' "
               "height='24'%3E%3Crect width='120' height='24' fill='%23eee'/%3E%3Ctext x='6' "
               "y='16' font-size='11' fill='%23666'%3Eremote image blocked%3C/text%3E%3C/svg%3E")
_SAFE_DATA_IMAGES = ("data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp")
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "form", "textarea",
                      "select", "button", "noscript", "template", "svg", "math"}


@dataclass
class SanitisedHtml:
    html: str
    remote_images: list[str] = field(default_factory=list)


def sanitise_html(html: str, cid_urls: Mapping[str, str] | None = None,
                  allow_remote: bool = False) -> SanitisedHtml:
    """Sanitise an email's HTML body. ``cid_urls`` maps Content-IDs (without <>) to local URLs;
    ``allow_remote`` (the agent consented) keeps remote images instead of the placeholder."""
    import nh3

    cid_urls = {k.strip("<>").lower(): v for k, v in (cid_urls or {}).items()}
    remote: list[str] = []

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        low = value.strip().lower()
        if tag == "img" and attr == "src":
            if low.startswith("cid:"):
                return cid_urls.get(low[4:].strip("<>"), PLACEHOLDER)
            if low.startswith(("http:", "https:", "//")):
                if len(remote) < 200:
                    remote.append(value.strip())
                return value if allow_remote and not low.startswith("//") else PLACEHOLDER
            if low.startswith(_SAFE_DATA_IMAGES) or value == PLACEHOLDER:
                return value
            if low.startswith("/api/attachments/"):
                return value
            return None
        if attr in ("href", "src", "cite", "srcset", "longdesc", "usemap"):
            if tag == "a" and attr == "href" and low.startswith(("http:", "https:", "mailto:", "#")):
                return value
            return None
        return value

    tags = set(nh3.ALLOWED_TAGS) - _DROP_WITH_CONTENT - {"map", "area"}
    attributes = {tag: {a for a in attrs if not a.startswith("on") and a not in ("style", "srcset")}
                  for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in tags}
    cleaned = nh3.clean(
        html, tags=tags, clean_content_tags=_DROP_WITH_CONTENT, attributes=attributes,
        attribute_filter=attribute_filter, url_schemes={"http", "https", "mailto", "data", "cid"},
        link_rel="noopener noreferrer", strip_comments=True)
    return SanitisedHtml(cleaned, remote)
