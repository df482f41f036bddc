"""The pure parts of the customer-facing texts (issue #17): the script-based language guess, the
language tags a widget or a browser sends, the template checks, and the shipped catalogues (every
key in every language, only declared placeholders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import assist.texts
import channels.email.texts
import channels.sms.texts
import channels.webchat.texts
import voice.calls.texts
import workflows.texts
from hub.errors import ValidationFailed
from hub.services.language import LANGUAGES, detect_language, normalise_language
from hub.services.texts import TextCatalogue, TextKey, check_body, placeholders_of

CATALOGUES = (assist.texts, channels.webchat.texts, channels.email.texts, channels.sms.texts, workflows.texts,
              voice.calls.texts)


@pytest.mark.parametrize(("text", "expected"), [
    ("你好，我家燃气表坏了", "zh-CN"),
    ("燃气泄漏怎么办？", "zh-CN"),
    ("How do I read my gas meter?", "en"),
    ("ＨＥＬＬＯ", "en"),  # full-width Latin letters
    ("Café crème", "en"),
    # mixed: the script with more weight wins
    ("我的 meter 坏了", "zh-CN"),
    ("我的燃气表 E3 错误", "zh-CN"),
    ("My account 12345 at 北京路", "en"),
    ("Hi 你好", "zh-CN"),  # a tie goes to Chinese
    ("I live at 北京路 5号", "en"),
    # nothing to go by: no guess
    ("12345", None),
    ("+86 138 0000 1111", None),
    ("😀👍", None),
    ("？！。", None),
    ("", None),
    (None, None),
    ("   ", None),
    ("GC-100231 😀", "en"),  # an account number's letters are Latin
])
def test_the_language_is_guessed_from_the_script(text: str | None, expected: str | None) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(("tag", "expected"), [
    ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans", "zh-CN"), ("zh-Hans-CN", "zh-CN"), ("zh_CN", "zh-CN"),
    ("ZH-cn", "zh-CN"), ("en", "en"), ("en-US", "en"), ("en-GB", "en"),
    ("zh-TW", "zh-CN"), ("zh-Hant", "zh-CN"), ("fr-FR", None), ("", None), (None, None), ("zhx", None),
])
def test_language_tags_are_normalised_to_the_shipped_languages(tag: str | None, expected: str | None) -> None:
    assert normalise_language(tag) == expected


def test_placeholders_are_plain_names_and_literal_braces_are_doubled() -> None:
    assert placeholders_of("{agent_name} joined, {agent_name}! {{literal}}") == ["agent_name"]
    for bad in ("{0}", "{a.b}", "{a[0]}", "{a!r}", "{a:>5}", "{a", "a}"):
        with pytest.raises(ValidationFailed) as err:
            placeholders_of(bad)
        assert err.value.code == "invalid_template" and err.value.status == 422


def test_a_body_may_name_only_its_keys_placeholders() -> None:
    key = TextKey("widget.status.assigned", ("agent_name",))
    check_body(key, "客服{agent_name}已接入")
    with pytest.raises(ValidationFailed) as err:
        check_body(key, "{agent} joined")
    assert err.value.code == "unknown_placeholder"
    assert err.value.details == {"placeholder": "agent", "allowed": ["agent_name"]}
    with pytest.raises(ValidationFailed) as err:
        check_body(key, "  ")
    assert err.value.code == "empty_text"


@pytest.mark.parametrize("module", CATALOGUES, ids=lambda m: m.__name__)
def test_every_shipped_text_exists_in_every_language_with_declared_placeholders(module) -> None:  # type: ignore[no-untyped-def]
    cat = module.catalogue()
    for lang in LANGUAGES:
        assert set(cat.defaults[lang]) == {k.key for k in cat.keys}
        for key in cat.keys:
            assert cat.defaults[lang][key.key].strip()
    # the Chinese texts are Chinese and the English ones English (a placeholder-only text aside)
    for key in cat.keys:
        zh, en = cat.defaults["zh-CN"][key.key], cat.defaults["en"][key.key]
        assert detect_language(zh) == "zh-CN", (key.key, zh)
        assert detect_language(en) == "en", (key.key, en)


def test_a_catalogue_missing_a_key_or_using_an_unknown_placeholder_does_not_load(tmp_path: Path) -> None:
    keys = (TextKey("a.one", ("name",)),)
    (tmp_path / "en.json").write_text(json.dumps({"a.one": "Hi {name}"}))
    (tmp_path / "zh-CN.json").write_text(json.dumps({}))
    with pytest.raises(ValueError, match="missing keys"):
        TextCatalogue.load("x", tmp_path, keys)
    (tmp_path / "zh-CN.json").write_text(json.dumps({"a.one": "你好{who}"}))
    with pytest.raises(ValueError, match="who"):
        TextCatalogue.load("x", tmp_path, keys)
    (tmp_path / "zh-CN.json").write_text(json.dumps({"a.one": "你好，{name}"}))
    assert TextCatalogue.load("x", tmp_path, keys).defaults["zh-CN"]["a.one"] == "你好，{name}"


@pytest.mark.parametrize("locale", LANGUAGES)
def test_the_admin_page_describes_every_text_and_area(locale: str) -> None:
    """web/src/pages/admin/TextsPage.vue shows ``templates.keys.<key>`` and ``templates.owners.<owner>``."""
    page = json.loads((Path(__file__).parents[1] / "web/src/i18n/locales" / locale / "templates.json")
                      .read_text(encoding="utf-8"))

    def described(key: str) -> bool:
        node = page["keys"]
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return isinstance(node, str) and bool(node.strip())

    for module in CATALOGUES:
        cat = module.catalogue()
        assert cat.owner in page["owners"]
        assert [k.key for k in cat.keys if not described(k.key)] == []
