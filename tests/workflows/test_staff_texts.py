"""The staff texts' codes (workflows/staff_texts.py) and the web UI's catalogues that say them
(web/src/i18n/locales/<locale>/staff.json): every code the hub writes has words in both languages,
with the same placeholders, and the English catalogue says exactly what the hub stores as the
English fallback (so an older client and the UI agree)."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest

from tests.support.hub import REPO
from workflows.staff_texts import ENGLISH, ENGLISH_PARAMS, StaffText, history_text, staff_text

LOCALES = REPO / "web" / "src" / "i18n" / "locales"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _names(body: str) -> set[str]:
    return {n for _, n, _, _ in string.Formatter().parse(body) if n}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_every_code_has_words_with_the_same_placeholders(locale: str) -> None:
    words = _flat(json.loads((LOCALES / locale / "staff.json").read_text(encoding="utf-8")))
    for key, english in ENGLISH.items():
        assert key in words, f"{locale}: no words for {key}"
        assert _names(words[key]) == _names(english), key
    for param, codes in ENGLISH_PARAMS.items():
        for code, english in codes.items():
            if param == "phone":
                continue  # the empty phone number: staff.noPhone
            assert _names(words[f"{param}.{code}"]) == _names(english)
    if locale == "en":
        assert {k: words[k] for k in ENGLISH} == ENGLISH


def test_the_english_fallback_names_the_codes_in_words() -> None:
    text = staff_text("notify.callback_manual", phone="", note="about No hot water", reason="open_failed",
                      detail="503 busy")
    assert text.english("title") == "Callback due: no phone number"
    assert text.english("body") == "about No hot water\nPlace it by hand: opening it failed (503 busy)."
    assert staff_text("history.sla_reminder", which="resolution", due=1800000000.4).english() == \
        "resolution due at 1800000000"
    outcome = [{"channel": "conversation", "status": "sent", "detail": ""},
               {"channel": "email", "status": "skipped", "detail": "the contact has no email address"}]
    assert staff_text("history.customer_notified", results=outcome).english() == \
        "conversation: sent; email: skipped (the contact has no email address)"
    with pytest.raises(KeyError):
        staff_text("notify.no_such_thing")


def test_a_history_line_keeps_a_persons_words_and_the_hubs_code() -> None:
    assert history_text("needs the pipe crew", {"x": 1}, None) == {"body": "needs the pipe crew", "data": {"x": 1}}
    line = history_text(None, {"which": "start"}, StaffText("history.wo_reminder_start"))
    assert line == {"body": "planned start is now and the crew has not departed",
                    "data": {"which": "start", "text": {"code": "history.wo_reminder_start", "params": {}}}}
