"""Pure parts of the SMS channel: segments, phone numbers, keywords, templates and CSV, the Kannel
parameters and DLR types, SMPP PDUs."""

from __future__ import annotations

import pytest

from channels.sms import segments
from channels.sms.bulk import parse_csv
from channels.sms.gateway import OutboundSms
from channels.sms.kannel import KannelGateway, dlr_status
from channels.sms.keywords import DEFAULT_KEYWORDS, KeywordRule, answer, match, normalise_keyword
from channels.sms.outbound import TokenBucket
from channels.sms.phone import InvalidPhoneNumber, normalise
from channels.sms.smpp_pdu import (
    Pdu,
    ShortMessage,
    concat_udh,
    gsm7_decode,
    gsm7_encode,
    parse_receipt,
)
from channels.sms.templates import placeholders, render
from channels.sms.texts import catalogue
from hub.errors import ValidationFailed


@pytest.mark.parametrize(("text", "encoding", "count", "remaining"), [
    ("", "gsm7", 0, 160),
    ("a" * 160, "gsm7", 1, 0),
    ("a" * 161, "gsm7", 2, 145),
    ("a" * 306, "gsm7", 2, 0),
    ("a" * 307, "gsm7", 3, 152),
    ("{" * 80, "gsm7", 1, 0),        # extension characters take two septets
    ("{" * 81, "gsm7", 2, 143),          # 76 in the first part (152 septets)
    ("中" * 70, "ucs2", 1, 0),
    ("中" * 71, "ucs2", 2, 63),
    ("中" * 134, "ucs2", 2, 0),
    ("a" * 159 + "é", "gsm7", 1, 0),  # é is in the GSM alphabet
    ("a" * 69 + "ą", "ucs2", 1, 0),   # ą is not: the whole text goes UCS-2
    ("😀" * 35, "ucs2", 1, 0),        # surrogate pairs count two
])
def test_segment_counts(text: str, encoding: str, count: int, remaining: int) -> None:
    info = segments.count(text)
    assert (info.encoding, info.segments, info.remaining) == (encoding, count, remaining)


def test_parts_never_split_an_escape_or_a_surrogate_pair() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = segments.split_parts(text)
    assert parts[0] == "a" * 152 and parts[1].startswith("€")
    emoji = "x" + "😀" * 40
    assert "".join(segments.split_parts(emoji)) == emoji
    assert all(sum(2 if ord(c) > 0xFFFF else 1 for c in p) <= 67 for p in segments.split_parts(emoji))


@pytest.mark.parametrize(("raw", "e164"), [
    ("13800138000", "+8613800138000"), ("138 0013 8000", "+8613800138000"),
    ("+86 138-0013-8000", "+8613800138000"), ("008613800138000", "+8613800138000"),
    ("+44 7911 123456", "+447911123456"), ("010 6552 9988", "+861065529988"),
])
def test_numbers_are_normalised_to_e164_with_the_default_country(raw: str, e164: str) -> None:
    assert normalise(raw, "CN") == e164


@pytest.mark.parametrize("raw", ["", "12345", "abc", "+1 555", "+86 138", "1" * 50])
def test_invalid_numbers_are_refused_with_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as err:
        normalise(raw, "CN")
    assert err.value.status == 422 and err.value.code == "invalid_phone_number"


def rules() -> dict[str, KeywordRule]:
    """The keywords of a new install with their shipped answers."""
    text = catalogue().defaults
    return {normalise_keyword(k): KeywordRule(normalise_keyword(k), a, text[lang][r], text[lang][f] if f else None)
            for k, a, r, f, lang in DEFAULT_KEYWORDS}


def test_keywords_match_the_whole_text_or_its_first_word() -> None:
    r = rules()
    assert match("bal", r).keyword == "BAL"  # type: ignore[union-attr]
    assert match(" Stop please ", r).action == "stop"  # type: ignore[union-attr]
    assert match("退订。", r).action == "stop"  # type: ignore[union-attr]
    assert match("ＢＡＬ", r).keyword == "BAL"  # type: ignore[union-attr]  (full-width)
    assert match("what is my bal", r) is None
    disabled = {"BAL": KeywordRule("BAL", "balance", "x", enabled=False)}
    assert match("BAL", disabled) is None


def test_keyword_answers_fill_the_balance_or_fall_back() -> None:
    bal = rules()["BAL"]
    assert answer(bal, phone="+86", name="Li", balance="¥1.00", no_account="-") == "Your gas account balance is ¥1.00."
    assert "No gas account is registered for +86" in answer(bal, phone="+86", name=None, balance=None,
                                                            no_account="-")
    assert answer(rules()["余额"], phone="+86", name=None, balance="¥2.00",
                  no_account="-") == "您的燃气账户余额为 ¥2.00。"
    # a balance keyword without a fallback of its own answers with the text in the customer's language
    bare = KeywordRule("BALANCE", "balance", "{balance}")
    assert answer(bare, phone="+86", name=None, balance=None, no_account="未找到与 {phone} 关联的燃气账户。") \
        == "未找到与 +86 关联的燃气账户。"


def test_templates_and_csv() -> None:
    assert placeholders("Dear {name}, {amount} due; {name}") == ["name", "amount"]
    assert render("Hi {name}", {"name": "王芳"}) == "Hi 王芳"
    with pytest.raises(ValidationFailed):
        placeholders("broken {")
    with pytest.raises(ValidationFailed):
        placeholders("{a.b}")
    rows = parse_csv("\ufeffPhone;Name\n138 0013 8000;王芳\n\n13900139000;Li\n".encode())
    assert rows == [{"phone": "138 0013 8000", "name": "王芳"}, {"phone": "13900139000", "name": "Li"}]
    gbk = parse_csv("手机号,姓名\n13800138000,王芳\n".encode("gb18030"))
    assert gbk[0]["phone"] == "13800138000" and gbk[0]["姓名"] == "王芳"
    with pytest.raises(ValidationFailed, match="phone"):
        parse_csv(b"name,amount\nLi,3\n")
    with pytest.raises(ValidationFailed):
        parse_csv(b"")


def test_kannel_parameters_and_dlr_types() -> None:
    gw = KannelGateway("http://k/cgi-bin/sendsms", "u", "p", "http://hub:8080/", "t&k", smsc="mt")
    p = gw.params(OutboundSms("id1", "+8613800138000", "95007", "中文", "ucs2"))
    assert (p["coding"], p["charset"], p["smsc"], p["dlr-mask"]) == ("2", "UTF-8", "mt", "31")
    assert p["dlr-url"] == "http://hub:8080/api/sms/kannel/dlr?token=t%26k&id=id1&type=%d"
    assert gw.params(OutboundSms("i", "+1", "9", "hi", "gsm7"))["coding"] == "0"
    assert [dlr_status(k) for k in (1, 2, 4, 8, 16, 9)] == ["delivered", "failed", None, "sent", "failed",
                                                             "delivered"]


def test_token_bucket_limits_the_rate() -> None:
    bucket = TokenBucket(10)
    waits = [bucket.delay() for _ in range(30)]
    assert waits[:10] == [0.0] * 10  # a one-second burst
    assert waits[-1] == pytest.approx(2.0, abs=0.2)  # then 10 per second


def test_smpp_pdus_round_trip_and_reject_truncation() -> None:
    sm = ShortMessage.make("95007", "+8613800138000", concat_udh(7, 2, 1) + "你好".encode("utf-16-be"),
                           data_coding=8, esm_class=0x40, registered_delivery=1)
    pdu = Pdu(0x00000004, 0, 42, bytes(sm))
    again = Pdu.parse(bytes(pdu))
    assert again == pdu and "SUBMIT_SM" in repr(again)
    parsed = ShortMessage.parse(again.body)
    assert (parsed.destination, parsed.dest_ton, parsed.data_coding) == ("8613800138000", 1, 8)
    assert parsed.split_udh() == ((7, 2, 1), "你好".encode("utf-16-be"))
    with pytest.raises(ValueError, match="command_length"):
        Pdu.parse(bytes(pdu)[:-1])
    with pytest.raises(ValueError, match="truncated|terminated"):
        ShortMessage.parse(again.body[:20])
    assert gsm7_decode(gsm7_encode("Ünìcode? {ok} £5 €\n")) == "Ünìcode? {ok} £5 €\n"


def test_gsm7_encode_refuses_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError):
        gsm7_encode("ą")


def test_receipts_give_the_smsc_id_and_state() -> None:
    sm = ShortMessage("8613800138000", "95007",
                      b"id:M1 sub:001 dlvrd:000 submit date:2611231200 done date:2611231201 stat:UNDELIV err:001",
                      esm_class=0x04)
    assert parse_receipt(sm)[:2] == ("M1", "failed")
    with pytest.raises(ValueError):
        parse_receipt(ShortMessage("1", "2", b"garbage", esm_class=0x04))
