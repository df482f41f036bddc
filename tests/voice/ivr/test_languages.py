"""The IVR in Chinese and English (issue #17, "Speech"): the built-in prompts come from per-language
templates chosen by the call's language (the flow's, or the one an IVR entry sets), the call's
language is handed on (``SetVariable("language")``), and the speech menu matches Chinese keywords
in a recogniser's word-spaced output and in unsegmented text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.voice.ivr.helpers import Driver, flow, text
from voice.asr.base import join_cjk
from voice.asr.vosk import VoskRecognizer
from voice.ivr.engine import match_keywords
from voice.ivr.flow import SpeechMenuNode
from voice.ivr.model import Dtmf, Hangup, Listen, QueueStatus, SetVariable, SpeechResult


def queue_flow(**settings: Any) -> dict[str, Any]:
    return flow({
        "q": {"type": "queue", "queue_id": "general", "announce": {"every_s": 30}},
    }, **settings)


@pytest.mark.parametrize(("language", "expected"), [
    ("zh-CN", "您现在排在第 3 位。预计还需等待约 2 分钟。"),
    ("zh", "您现在排在第 3 位。预计还需等待约 2 分钟。"),
    ("en", "You are number 3 in the queue. Your expected wait is about 2 minutes."),
    (None, "You are number 3 in the queue. Your expected wait is about 2 minutes."),
])
def test_queue_announcement_speaks_the_flows_language(language: str | None, expected: str) -> None:
    d = Driver(queue_flow(**({"language": language} if language else {})))
    d.start()
    d.send(QueueStatus(3, 100.0))
    assert d.texts(d.advance(30)) == [expected]


def test_announcement_without_a_known_wait_drops_the_chinese_wait_sentence() -> None:
    d = Driver(queue_flow(language="zh-CN"))
    d.start()
    d.send(QueueStatus(2, None))
    assert d.texts(d.advance(30)) == ["您现在排在第 2 位。"]


def test_a_flows_own_announcement_is_kept_whatever_the_language() -> None:
    d = Driver(flow({"q": {"type": "queue", "queue_id": "general", "announce": {
        "every_s": 30, "prompt": text("请耐心等待，您排在第 {position} 位。")}}}, language="en"))
    d.start()
    d.send(QueueStatus(4, 60.0))
    assert d.texts(d.advance(30)) == ["请耐心等待，您排在第 4 位。"]


def test_callback_confirmation_follows_the_language_an_ivr_entry_chose() -> None:
    nodes = {
        "menu": {"type": "menu", "prompt": text("中文服务请按 1，For English press 9"),
                 "options": {"1": "cb", "9": "english"}},
        "english": {"type": "set", "variables": {"language": "en"}, "next": "cb"},
        "cb": {"type": "callback", "next": "bye"},
        "bye": {"type": "hangup"},
    }
    zh = Driver(flow(nodes, language="zh-CN"), caller="+8613800001111")
    assert SetVariable("language", "zh-CN") in zh.start()  # handed on to the conversation
    zh.send(Dtmf("1"))
    assert zh.texts() == ["好的，我们稍后会回电到 8 6 1 3 8 0 0 0 0 1 1 1 1，请保持电话畅通。"]

    en = Driver(flow(nodes, language="zh-CN"), caller="+8613800001111")
    en.start()
    out = en.send(Dtmf("9"))
    assert SetVariable("language", "en") in out
    assert en.texts() == ["Thank you. We will call you back at 8 6 1 3 8 0 0 0 0 1 1 1 1."]


# --------------------------------------------------------------------------- Chinese speech

BRANCHES = SpeechMenuNode.model_validate({"branches": [
    {"key": "billing", "keywords": ["燃气费", "缴费", "bill"], "next": "b"},
    {"key": "repairs", "keywords": ["漏气", "燃 气 表"], "next": "r"},
]})


@pytest.mark.parametrize(("heard", "branch"), [
    ("我 要 交 燃气 费", "billing"),          # vosk-cn: words separated by spaces
    ("我要交燃气费", "billing"),              # unsegmented: the keyword inside the string
    ("请问 怎么 缴费", "billing"),
    ("家里 好像 漏 气 了", "repairs"),        # a keyword split across recognised words
    ("燃气表不走了", "repairs"),              # a keyword written with spaces in the flow
    ("I want to pay my bill", "billing"),     # Latin script: whole words, as before
    ("billing address", None),                # "bill" is not a whole word here
    ("我想问一下营业时间", None),
])
def test_speech_keywords_match_chinese_with_or_without_spaces(heard: str, branch: str | None) -> None:
    found = match_keywords(heard, BRANCHES)
    assert (found.key if found is not None else None) == branch


def test_speech_menu_routes_a_mandarin_caller_by_what_vosk_heard() -> None:
    d = Driver(flow({
        "sm": {"type": "speech_menu", "prompt": text("请说出您要办理的事情。"), "language": "zh-CN",
               "branches": [{"key": "billing", "keywords": ["燃气费", "账单"], "next": "b"},
                            {"key": "repairs", "keywords": ["漏气"], "next": "r"}],
               "store": "topic", "default": "r"},
        "b": {"type": "hangup", "reason": "billing"},
        "r": {"type": "hangup", "reason": "repairs"},
    }, language="zh-CN"))
    d.start()
    listen = [a for a in d.finish_prompt() if isinstance(a, Listen)][0]
    assert listen.language == "zh-CN"
    out = d.send(SpeechResult("我 想 交 一下 燃气 费", 0.9, listen.listen_id))
    assert SetVariable("topic", "billing") in out and out[-1] == Hangup("billing")


class FakeKaldi:
    """What ``vosk.KaldiRecognizer`` answers for a Chinese model (words separated by spaces)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def FinalResult(self) -> str:  # noqa: N802 - vosk's name
        return json.dumps({"text": " ".join(self.words), "result": [
            {"word": w, "start": i * 0.3, "end": i * 0.3 + 0.25, "conf": 0.9}
            for i, w in enumerate(self.words)]}, ensure_ascii=False)


def test_vosk_chinese_results_read_as_written_and_keep_their_words() -> None:
    rec = VoskRecognizer(FakeKaldi(["我", "要", "交", "燃气", "费"]), 8000, (8000, None))
    result = rec.flush()
    assert result.text == "我要交燃气费"
    assert [w.text for w in result.words] == ["我", "要", "交", "燃气", "费"]
    assert join_cjk("表 显示 E1 故障 了") == "表显示 E1 故障了"
    assert join_cjk("가스 요금 문의") == "가스 요금 문의"  # Korean keeps its spaces


@pytest.mark.parametrize(("language", "invalid", "no_input"), [
    ("zh-CN", "对不起，您的输入有误。", "对不起，没有听到您的选择。"),
    (None, "Sorry, that is not one of the choices.", "Sorry, I did not hear your choice."),
])
def test_a_menu_without_its_own_retry_prompts_says_the_built_in_ones(
        language: str | None, invalid: str, no_input: str) -> None:
    d = Driver(flow({
        "m": {"type": "menu", "prompt": text("菜单 / menu"), "options": {"1": "bye"}, "timeout_s": 5,
              "retries": 2, "default": "bye"},
        "bye": {"type": "hangup"},
    }, **({"language": language} if language else {})))
    d.start()
    assert d.texts(d.send(Dtmf("7"))) == [f"{invalid} | 菜单 / menu"]
    d.finish_prompt()
    assert d.texts(d.advance(5)) == [f"{no_input} | 菜单 / menu"]


def test_an_empty_retry_prompt_stays_silent() -> None:
    d = Driver(flow({
        "m": {"type": "menu", "prompt": text("菜单"), "options": {"1": "bye"}, "invalid_prompt": [],
              "default": "bye"},
        "bye": {"type": "hangup"},
    }, language="zh-CN"))
    d.start()
    assert d.texts(d.send(Dtmf("7"))) == ["菜单"]


def test_digit_entry_and_speech_menu_retries_speak_the_call_language() -> None:
    d = Driver(flow({
        "acct": {"type": "collect", "prompt": text("请输入户号，按井号键结束。"), "min_digits": 4,
                 "store": "account", "retries": 2, "next": "sm", "on_failure": "bye"},
        "sm": {"type": "speech_menu", "prompt": text("请说出您的问题。"), "retries": 1,
               "branches": [{"key": "b", "keywords": ["账单"], "next": "bye"}], "default": "bye"},
        "bye": {"type": "hangup"},
    }, language="zh-CN"))
    d.start()
    d.send(Dtmf("1"))
    assert d.texts(d.send(Dtmf("#"))) == ["对不起，您输入的号码有误。 | 请输入户号，按井号键结束。"]
    d.finish_prompt()
    assert d.texts(d.advance(6)) == ["对不起，没有收到您的输入。 | 请输入户号，按井号键结束。"]
    for key in "1234#":
        d.send(Dtmf(key))
    listen = [a for a in d.finish_prompt() if isinstance(a, Listen)][0]
    out = d.send(SpeechResult("我 想 问 营业 时间", 0.9, listen.listen_id))
    assert d.texts(out) == ["对不起，我没有听清楚。 | 请说出您的问题。"]
