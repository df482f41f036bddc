"""Phone numbers as E.164 (``+8613800138000``), parsed with a configured default country.

``phonenumbers`` (Google's libphonenumber data) decides validity, so a number that cannot exist
(wrong length for its country, unassigned prefix) is refused with a clear message."""

from __future__ import annotations

from hub.errors import ValidationFailed


class InvalidPhoneNumber(ValidationFailed):
    code = "invalid_phone_number"
    title = "Invalid phone number"


def normalise(raw: str | None, default_country: str) -> str:
    """The number in E.164, or ``InvalidPhoneNumber`` saying why not."""
    try:
        import phonenumbers
    except ImportError as err:  # pragma: no cover - an installation problem
        raise RuntimeError("the SMS channel needs phonenumbers: pip install phonenumbers") from err
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("the phone number is empty", details={"number": raw})
    if len(text) > 40:
        raise InvalidPhoneNumber("the phone number is too long", details={"number": text[:40]})
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_country.upper() or None)
    except phonenumbers.NumberParseException as err:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number: {err._msg}",
                                 details={"number": text}) from err
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{text!r} is not a valid phone number"
                                 + (f" for region {default_country}" if not text.startswith("+") else ""),
                                 details={"number": text})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_forms(e164: str) -> list[str]:
    """Other ways the same number may be stored in a contact record (national digits)."""
    try:
        import phonenumbers

        parsed = phonenumbers.parse(e164, None)
    except Exception:  # noqa: BLE001 - only a lookup aid
        return []
    national = str(parsed.national_number)
    return [national, "0" + national]
