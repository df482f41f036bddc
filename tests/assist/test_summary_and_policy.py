"""Extractive summaries, the bot's decision rule and its calibration (pure)."""

from __future__ import annotations

import json

import pytest

from assist.bot import CALIBRATION_FILE, Answer, BotPolicy, HandOver, wants_person
from assist.faq import FaqHit, hit_from_kb
from assist.summary import as_text, summarise


def msg(sender: str, body: str) -> dict[str, str]:
    return {"sender": sender, "body": body, "kind": "message"}


def test_summary_keeps_the_central_sentences_in_order() -> None:
    conv = [
        msg("customer", "Hello."),
        msg("customer", "My gas meter shows error E4 since yesterday. The meter display is blank."),
        msg("agent", "Thanks. Can you give me your account number?"),
        msg("customer", "Sure, it is GC-100231."),
        msg("agent", "I have booked a meter check for tomorrow morning."),
        msg("customer", "Thank you!"),
    ]
    picked = summarise(conv, 3)
    text = as_text(picked)
    assert len(picked) == 3
    assert "Hello" not in text and "Thank you" not in text
    assert "E4" in text and "GC-100231" in text
    assert [s.index for s in picked] == sorted(s.index for s in picked)


def test_summary_works_for_chinese() -> None:
    conv = [
        msg("customer", "你好。"),
        msg("customer", "我家燃气表显示错误代码，燃气表屏幕不亮了。我的户号是GC-200876。"),
        msg("agent", "好的，我帮您预约燃气表检修。"),
        msg("customer", "谢谢。"),
    ]
    text = as_text(summarise(conv, 2))
    assert "燃气表" in text and "你好" not in text and "谢谢" not in text


def test_summary_of_an_empty_conversation_is_empty() -> None:
    assert summarise([]) == []
    assert summarise([{"sender": "agent", "body": "note", "kind": "note"}]) == []


def hit(aid: str, score: float, mode: str = "hybrid", confidence: float | None = None) -> FaqHit:
    return FaqHit(aid, f"q {aid}", f"answer {aid}", "", score,
                  score if confidence is None else confidence, mode=mode)


def test_policy_answers_only_above_the_threshold_with_a_lead() -> None:
    p = BotPolicy(threshold=0.7, margin=0.05)
    assert isinstance(p.decide("how do I pay", [hit("a", 0.8), hit("b", 0.6)]), Answer)
    assert p.decide("how do I pay", [hit("a", 0.65), hit("b", 0.3)]) == HandOver("low_confidence")
    assert p.decide("how do I pay", [hit("a", 0.8), hit("b", 0.78)]) == HandOver("low_confidence")
    assert p.decide("how do I pay", []) == HandOver("low_confidence")


def test_policy_hands_over_when_asked_even_with_a_perfect_answer() -> None:
    p = BotPolicy(threshold=0.7, margin=0.0)
    for text in ("talk to a person", "Can I speak with a human?", "agent", "转人工", "我要人工客服"):
        assert wants_person(text), text
        assert p.decide(text, [hit("a", 0.99)]) == HandOver("customer_request")
    for text in ("my agent number is 5", "how do I read my meter", "person of interest"):
        assert not wants_person(text), text


def test_lexical_hits_need_full_word_coverage() -> None:
    p = BotPolicy(threshold=0.7, margin=0.0)
    assert isinstance(p.decide("燃气泄漏怎么办", [hit("a", 5.0, "lexical", 1.0),
                                              hit("b", 2.0, "lexical", 0.3)]), Answer)
    assert p.decide("燃气表坏了", [hit("a", 5.0, "lexical", 0.5)]) == HandOver("low_confidence")


def test_the_calibrated_threshold_is_used_and_documented() -> None:
    data = json.loads(CALIBRATION_FILE.read_text())
    p = BotPolicy.calibrated()
    assert p.threshold == data["threshold"] and p.margin == data["margin"]
    assert data["calibration"]["precision"] >= data["target_precision"]
    assert 0.3 < p.threshold < 1.0


def test_kb_hits_are_read_by_name() -> None:
    h = hit_from_kb({"article_id": "x", "question": "Q", "answer_text": "A",
                     "answer_html": "<p>A</p>", "score": 0.81, "confidence": 0.81,
                     "margin": 0.2, "mode": "hybrid", "category": "Meters"})
    assert (h.article_id, h.answer, h.margin, h.category) == ("x", "A", 0.2, "Meters")
    h = hit_from_kb({"id": "y", "question": "Q", "answer_html": "<p>A &amp; B</p>",
                     "status": "published", "score": 0})
    assert h.article_id == "y" and h.answer == "A & B"


def test_settings_override_the_calibrated_thresholds_only_when_set() -> None:
    from assist.settings import AssistSettings
    from bootstrap import load_settings
    from hub.errors import ConfigError

    calibrated = BotPolicy.calibrated()
    unset = load_settings(environ={"HUB_KB_BOT_MIN_SCORE": ""})
    assert unset.section(AssistSettings).bot_min_score is None
    assert unset.section(AssistSettings).bot_min_margin is None
    assert BotPolicy.from_settings(unset) == calibrated
    st = load_settings(environ={"HUB_KB_BOT_MIN_SCORE": "0.9"})
    p = BotPolicy.from_settings(st)
    assert (p.threshold, p.margin) == (0.9, calibrated.margin)
    assert "kb_bot_min_score" in p.source and "kb_bot_min_margin" not in p.source
    # the override decides: a hit the calibrated rule answers is handed over at 0.9
    top = [hit("a", 0.85), hit("b", 0.5)]
    assert isinstance(calibrated.decide("how do I pay", top), Answer)
    assert p.decide("how do I pay", top) == HandOver("low_confidence")
    p = BotPolicy.from_settings(load_settings(kb_bot_min_margin=0.2))
    assert (p.threshold, p.margin) == (calibrated.threshold, 0.2)
    with pytest.raises(ConfigError, match="kb_bot_min_score"):
        load_settings(environ={"HUB_KB_BOT_MIN_SCORE": "1.5"})
