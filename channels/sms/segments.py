"""SMS segment arithmetic (GSM 03.38 / 3GPP TS 23.040): which alphabet a text needs and how many
parts it is sent in. Pure; the web UI has the same rules in ``web/src/pages/sms/segments.ts``
(``tests/browser/test_sms.py`` checks the counter the agent sees against ``count``).

- GSM-7: 160 septets in one SMS, 153 per part when concatenated (the 6-octet UDH takes 7
  septets); characters of the extension table (``^{}\\[~]|€`` and form feed) take two septets and
  a two-septet character is never split across parts.
- UCS-2: 70 UTF-16 code units in one SMS, 67 per part; a surrogate pair (an emoji) is never split.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

SINGLE = {"gsm7": 160, "ucs2": 70}
MULTI = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str        # "gsm7" | "ucs2"
    units: int           # septets (gsm7) or UTF-16 code units (ucs2)
    segments: int
    per_segment: int     # capacity of one part for this text (160/153 or 70/67)
    remaining: int       # units left in the last part before another part is needed

    def as_dict(self) -> dict[str, int | str]:
        return {"encoding": self.encoding, "units": self.units, "segments": self.segments,
                "per_segment": self.per_segment, "remaining": self.remaining}


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _units(text: str, encoding: str) -> list[int]:
    """The size of each character in units of the encoding."""
    if encoding == "gsm7":
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def split_parts(text: str, encoding: str | None = None) -> list[str]:
    """The text cut into the parts it is sent in (no character is split between parts)."""
    encoding = encoding or ("gsm7" if is_gsm7(text) else "ucs2")
    sizes = _units(text, encoding)
    if sum(sizes) <= SINGLE[encoding]:
        return [text] if text else []
    cap = MULTI[encoding]
    parts: list[str] = []
    start, used = 0, 0
    for i, size in enumerate(sizes):
        if used + size > cap:
            parts.append(text[start:i])
            start, used = i, 0
        used += size
    parts.append(text[start:])
    return parts


def count(text: str) -> SegmentInfo:
    encoding = "gsm7" if is_gsm7(text) else "ucs2"
    units = sum(_units(text, encoding))
    if units <= SINGLE[encoding]:
        return SegmentInfo(encoding, units, 1 if units else 0, SINGLE[encoding],
                           SINGLE[encoding] - units)
    parts = split_parts(text, encoding)
    last = sum(_units(parts[-1], encoding))
    return SegmentInfo(encoding, units, len(parts), MULTI[encoding], MULTI[encoding] - last)
