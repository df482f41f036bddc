"""The IVR state machine, node type by node type (acceptance 5 of issue 3)."""

from __future__ import annotations

import pytest

from tests.voice.ivr.helpers import Driver, flow, of_type, text
from voice.ivr import Flow, FlowDefinition, IvrSession, SessionOver, UnknownNode
from voice.ivr.model import (
    CancelTimer,
    Dtmf,
    Hangup,
    LeaveQueue,
    Listen,
    Lookup,
    LookupResult,
    Play,
    Prompt,
    RecordingFinished,
    RecordVoicemail,
    RequestCallback,
    SessionState,
    SetVariable,
    SpeechResult,
    StartTimer,
    StopListen,
    StopPlay,
    StopRecording,
    Timeout,
    Transfer,
    TransferKind,
)

# --------------------------------------------------------------------------- play


def test_play_node_plays_its_prompts_then_follows_next() -> None:
    d = Driver(flow({"hello": {"type": "play", "prompts": text("Welcome to City Gas."),
                               "next": "bye"},
                     "bye": {"type": "hangup", "reason": "done"}}))
    first = d.start()
    assert d.texts(first) == ["Welcome to City Gas."]
    assert first[0].barge_in is True
    assert d.finish_prompt() == [Hangup("done")]
    assert d.session.state is SessionState.ENDED
    assert d.session.path == ["hello", "bye"]


def test_play_repeat_plays_the_prompt_that_many_times() -> None:
    d = Driver(flow({"p": {"type": "play", "prompts": text("Listen"), "repeat": 3}}))
    d.start()
    assert d.texts(d.finish_prompt()) == ["Listen"]
    assert d.texts(d.finish_prompt()) == ["Listen"]
    assert d.finish_prompt() == [Hangup("end_of_flow")]


def test_play_without_barge_in_ignores_keys() -> None:
    d = Driver(flow({"p": {"type": "play", "prompts": text("Legal notice"), "barge_in": False,
                           "next": "bye"}, "bye": {"type": "hangup"}}))
    start = d.start()
    assert start[0].barge_in is False
    assert d.send(Dtmf("5")) == []
    assert d.finish_prompt() == [Hangup("normal")]


def test_file_prompts_carry_the_converted_path_from_the_flow_store() -> None:
    definition = FlowDefinition.model_validate(flow({"p": {"type": "play", "prompts": [
        {"file": "welcome"}, {"text": "Static words"}, {"builtin": "moh"}]}}))
    f = Flow(definition, audio={"file:welcome": "/data/welcome.wav",
                                "tts::Static words": "/data/tts1.wav"})
    s = IvrSession(f, now=0)
    play = s.start(0)[0]
    assert isinstance(play, Play)
    assert play.prompts == (Prompt("file", "welcome", "/data/welcome.wav"),
                            Prompt("tts", "Static words", "/data/tts1.wav"),
                            Prompt("builtin", "moh", "builtin:moh"))


# --------------------------------------------------------------------------- barge-in


def test_barge_in_key_stops_the_prompt_as_the_very_first_action() -> None:
    d = Driver(flow({"m": {"type": "menu", "prompt": text("For billing press 1"),
                           "options": {"1": "billing"}},
                     "billing": {"type": "transfer", "kind": "queue", "target": "billing"}}))
    play = d.start()[0]
    actions = d.send(Dtmf("1"))
    assert actions[0] == StopPlay(play.play_id)
    assert isinstance(actions[-1], Transfer)


def test_digits_pressed_during_a_welcome_are_type_ahead_for_the_menu() -> None:
    d = Driver(flow({"w": {"type": "play", "prompts": text("Welcome"), "next": "m"},
                     "m": {"type": "menu", "prompt": text("Menu"), "options": {"2": "rep"}},
                     "rep": {"type": "hangup", "reason": "repairs"}}))
    play = d.start()[0]
    actions = d.send(Dtmf("2"))
    assert actions[0] == StopPlay(play.play_id)
    assert actions[-1] == Hangup("repairs")
    assert d.session.path == ["w", "m", "rep"]


# --------------------------------------------------------------------------- menu

MENU = {
    "m": {"type": "menu", "prompt": text("Press 1 for billing, 2 for repairs"),
          "options": {"1": "billing", "2": "repairs"},
          "invalid_prompt": text("That is not an option."),
          "timeout_prompt": text("I did not hear a choice."),
          "timeout_s": 5, "retries": 2, "default": "operator", "store": "choice"},
    "billing": {"type": "hangup", "reason": "billing"},
    "repairs": {"type": "hangup", "reason": "repairs"},
    "operator": {"type": "hangup", "reason": "operator"},
}


def test_menu_choice_goes_to_the_option_and_stores_it() -> None:
    d = Driver(flow(MENU))
    d.start()
    d.finish_prompt()
    actions = d.send(Dtmf("2"))
    assert isinstance(actions[0], CancelTimer)
    assert SetVariable("choice", "2") in actions
    assert actions[-1] == Hangup("repairs")


def test_menu_timeout_starts_after_the_prompt_and_reprompts() -> None:
    d = Driver(flow(MENU))
    d.start()
    assert d.session.next_deadline() is None  # no timer while the prompt plays
    after = d.finish_prompt()
    assert after == [StartTimer(after[0].timer_id, d.now + 5)]
    assert d.advance(4.9) == []
    out = d.advance(0.2)
    assert d.texts(out) == ["I did not hear a choice. | Press 1 for billing, 2 for repairs"]


def test_menu_invalid_keys_retry_then_default() -> None:
    d = Driver(flow(MENU))
    d.start()
    assert d.texts(d.send(Dtmf("9"))) == [
        "That is not an option. | Press 1 for billing, 2 for repairs"]
    assert d.texts(d.send(Dtmf("8"))) == [
        "That is not an option. | Press 1 for billing, 2 for repairs"]
    actions = d.send(Dtmf("7"))
    assert actions[-1] == Hangup("operator")


def test_menu_mixed_timeouts_and_invalid_keys_share_the_retry_budget() -> None:
    d = Driver(flow(MENU))
    d.start()
    d.finish_prompt()
    d.advance(5)  # timeout 1
    d.send(Dtmf("9"))  # invalid 2
    d.finish_prompt()
    out = d.advance(5)  # third failure: default
    assert out[-1] == Hangup("operator")


def test_menu_without_default_hangs_up_after_retries() -> None:
    nodes = {**MENU, "m": {**MENU["m"], "default": None, "retries": 0}}
    d = Driver(flow(nodes))
    d.start()
    assert d.send(Dtmf("9"))[-1] == Hangup("no_valid_input")


# --------------------------------------------------------------------------- collect

COLLECT = {
    "acct": {"type": "collect", "prompt": text("Enter your account number then hash"),
             "min_digits": 4, "max_digits": 8, "terminator": "#", "timeout_s": 6,
             "inter_digit_timeout_s": 3, "pattern": r"[1-9]\d+", "store": "account",
             "invalid_prompt": text("That number is not valid."),
             "timeout_prompt": text("I did not get a number."),
             "retries": 1, "next": "ok", "on_failure": "fail"},
    "ok": {"type": "hangup", "reason": "ok"},
    "fail": {"type": "hangup", "reason": "fail"},
}


def _keys(d: Driver, digits: str) -> list:
    out = []
    for ch in digits:
        out += d.send(Dtmf(ch))
    return out


def test_collect_terminator_ends_entry_and_stores_the_digits() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    out = _keys(d, "12345#")
    assert SetVariable("account", "12345") in out
    assert out[-1] == Hangup("ok")


def test_collect_stops_at_max_digits_without_a_terminator() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    out = _keys(d, "12345678")
    assert SetVariable("account", "12345678") in out


def test_collect_inter_digit_timeout_finishes_a_long_enough_entry() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    d.finish_prompt()
    _keys(d, "4321")
    assert d.advance(2.9) == []
    out = d.advance(0.2)
    assert SetVariable("account", "4321") in out


def test_collect_too_few_digits_and_pattern_mismatch_are_invalid_then_failure() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    out = _keys(d, "12#")
    assert d.texts(out) == ["That number is not valid. | Enter your account number then hash"]
    out = _keys(d, "01234#")  # leading zero fails the pattern; retries exhausted
    assert out[-1] == Hangup("fail")
    assert "account" not in d.variables()


def test_collect_first_digit_timeout_counts_after_the_prompt() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    d.finish_prompt()
    out = d.advance(6)
    assert d.texts(out) == ["I did not get a number. | Enter your account number then hash"]
    d.finish_prompt()
    assert d.advance(6)[-1] == Hangup("fail")


def test_collect_digits_typed_over_the_prompt_are_kept() -> None:
    d = Driver(flow(COLLECT))
    play = d.start()[0]
    out = d.send(Dtmf("9"))
    assert out[0] == StopPlay(play.play_id)
    out = _keys(d, "876#")
    assert SetVariable("account", "9876") in out


def test_collect_star_is_not_part_of_the_number() -> None:
    d = Driver(flow(COLLECT))
    d.start()
    out = _keys(d, "12*34#")
    assert SetVariable("account", "1234") in out


def test_collect_empty_entry_allowed_when_min_digits_is_zero() -> None:
    nodes = {**COLLECT, "acct": {**COLLECT["acct"], "min_digits": 0, "pattern": None}}
    d = Driver(flow(nodes))
    d.start()
    out = d.send(Dtmf("#"))
    assert SetVariable("account", "") in out


# --------------------------------------------------------------------------- lookup + condition


def test_lookup_result_is_stored_and_drives_a_condition() -> None:
    d = Driver(flow({
        "look": {"type": "lookup", "name": "balance", "args": {"account": "{account}"},
                 "store": "bal", "next": "check", "on_error": "sorry"},
        "check": {"type": "condition", "rules": [
            {"when": [{"type": "var", "var": "bal.amount", "op": "gt", "value": 0}],
             "next": "owe"}], "default": "fine"},
        "owe": {"type": "play", "prompts": text("You owe {bal.amount} yuan.")},
        "fine": {"type": "hangup", "reason": "fine"},
        "sorry": {"type": "hangup", "reason": "sorry"},
    }), caller="+8613800001111", variables={"account": "GC-100231"})
    out = d.start()
    assert out[0] == Lookup("balance", {"account": "GC-100231", "caller": "+8613800001111"})
    assert isinstance(out[1], StartTimer)
    out = d.send(LookupResult("balance", {"amount": 42.5}))
    assert d.texts(out) == ["You owe 42.5 yuan."]


def test_lookup_error_and_timeout_go_to_on_error() -> None:
    nodes = {"look": {"type": "lookup", "name": "orders", "store": "o", "timeout_s": 2,
                      "next": "ok", "on_error": "sorry"},
             "ok": {"type": "hangup", "reason": "ok"},
             "sorry": {"type": "hangup", "reason": "sorry"}}
    d = Driver(flow(nodes))
    d.start()
    assert d.send(LookupResult("other-hook", 1)) == []  # not ours: ignored
    assert d.send(LookupResult("orders", error="backend down"))[-1] == Hangup("sorry")
    d2 = Driver(flow(nodes))
    d2.start()
    assert d2.advance(2)[-1] == Hangup("sorry")


@pytest.mark.parametrize(("caller", "vip", "expected"), [
    ("+8613800001111", False, "mobile"),
    ("+862155550000", False, "shanghai"),
    ("+15550100", True, "vip"),
    ("+15550100", False, "other"),
])
def test_condition_on_caller_number_and_vip(caller: str, vip: bool, expected: str) -> None:
    d = Driver(flow({
        "c": {"type": "condition", "rules": [
            {"when": [{"type": "vip"}], "next": "vip"},
            {"when": [{"type": "caller", "patterns": ["+861[3-9]*"]}], "next": "mobile"},
            {"when": [{"type": "caller", "patterns": [r"re:\+8621\d+"]}], "next": "shanghai"}],
              "default": "other"},
        "vip": {"type": "hangup", "reason": "vip"},
        "mobile": {"type": "hangup", "reason": "mobile"},
        "shanghai": {"type": "hangup", "reason": "shanghai"},
        "other": {"type": "hangup", "reason": "other"},
    }), caller=caller, vip=vip)
    assert d.start() == [Hangup(expected)]


def test_set_and_goto_nodes() -> None:
    d = Driver(flow({
        "s": {"type": "set", "variables": {"lang": "en", "copy": "{caller}", "n": 3},
              "next": "g"},
        "g": {"type": "goto", "target": "say"},
        "say": {"type": "play", "prompts": text("Language {lang}, caller {copy}")},
    }), caller="+100")
    out = d.start()
    assert out[:3] == [SetVariable("lang", "en"), SetVariable("copy", "+100"), SetVariable("n", 3)]
    assert d.texts(out) == ["Language en, caller +100"]


def test_a_loop_without_input_is_cut_at_runtime() -> None:
    # validation refuses this flow; an unvalidated one still cannot spin the event loop
    d = Driver(flow({"a": {"type": "goto", "target": "b"}, "b": {"type": "goto", "target": "a"}}))
    assert d.start() == [Hangup("flow_loop")]


# --------------------------------------------------------------------------- voicemail / callback / transfer / hangup


def test_voicemail_greeting_record_end_key_and_thanks() -> None:
    d = Driver(flow({"vm": {"type": "voicemail", "mailbox": "billing",
                            "greeting": text("Leave a message after the tone."), "max_s": 60,
                            "thanks": text("Thank you, goodbye.")}}))
    d.start()
    out = d.finish_prompt()
    assert isinstance(out[0], RecordVoicemail) and out[0].mailbox == "billing"
    assert out[0].max_s == 60
    assert d.session.state is SessionState.RECORDING
    assert d.send(Dtmf("#")) == [StopRecording("billing")]
    out = d.send(RecordingFinished(12.3, "rec-1"))
    assert SetVariable("voicemail_s", 12.3) in out
    assert d.texts(out) == ["Thank you, goodbye."]
    assert d.finish_prompt() == [Hangup("voicemail_left")]


def test_voicemail_key_skips_the_greeting_and_the_engine_stops_a_runaway_recording() -> None:
    d = Driver(flow({"vm": {"type": "voicemail", "mailbox": "general", "max_s": 30,
                            "greeting": text("Please speak after the tone.")}}))
    play = d.start()[0]
    out = d.send(Dtmf("5"))
    assert out[0] == StopPlay(play.play_id)
    assert isinstance(out[1], RecordVoicemail)
    out = d.advance(36)  # the driver never reported the end
    assert out[0] == StopRecording("general")
    assert out[-1] == Hangup("voicemail_left")


def test_callback_uses_the_callers_number_and_confirms_it() -> None:
    d = Driver(flow({"cb": {"type": "callback", "queue_id": "callbacks"}}), caller="+86 138-0000")
    out = d.start()
    req = of_type(out, RequestCallback)[0]
    assert req.number == "+861380000" and req.queue_id == "callbacks"
    assert d.texts(out) == ["Thank you. We will call you back at 8 6 1 3 8 0 0 0 0."]
    assert d.finish_prompt() == [Hangup("callback_requested")]


def test_callback_with_an_entered_number_and_anonymous_caller_failure() -> None:
    nodes = {
        "num": {"type": "collect", "prompt": text("Enter the number"), "store": "cbnum",
                "min_digits": 5, "max_digits": 12, "next": "cb"},
        "cb": {"type": "callback", "number_var": "cbnum", "on_failure": "sorry"},
        "sorry": {"type": "hangup", "reason": "no_number"},
    }
    d = Driver(flow(nodes), caller="anonymous")
    d.start()
    out = _keys(d, "5550100#")
    assert of_type(out, RequestCallback)[0].number == "5550100"
    d2 = Driver(flow({"cb": {"type": "callback", "on_failure": "sorry"},
                      "sorry": {"type": "hangup", "reason": "no_number"}}), caller="anonymous")
    out = d2.start()
    assert not of_type(out, RequestCallback)
    assert out[-1] == Hangup("no_number")


@pytest.mark.parametrize("kind", ["queue", "agent", "external"])
def test_transfer_plays_its_prompt_then_hands_over(kind: str) -> None:
    d = Driver(flow({"t": {"type": "transfer", "kind": kind, "target": "+8610{ext}",
                           "prompt": text("Transferring you now.")}}), variables={"ext": "777"})
    d.start()
    out = d.finish_prompt()
    assert out[-1] == Transfer(TransferKind(kind), "+8610777", {"ext": "777"})
    assert d.session.state is SessionState.TRANSFERRED
    assert d.send(Dtmf("1")) == []  # over


def test_hangup_plays_goodbye_without_barge_in() -> None:
    d = Driver(flow({"h": {"type": "hangup", "prompt": text("Goodbye"), "reason": "closed"}}))
    out = d.start()
    assert out[0].barge_in is False
    assert d.send(Dtmf("1")) == []
    assert d.finish_prompt() == [Hangup("closed")]


# --------------------------------------------------------------------------- speech menu

SPEECH = {
    "sm": {"type": "speech_menu", "prompt": text("Please say what you are calling about."),
           "branches": [{"key": "billing", "keywords": ["bill", "payment", "账单"], "next": "b"},
                        {"key": "leak", "keywords": ["leak", "smell gas"], "next": "l"}],
           "hook": "faq", "min_confidence": 0.5, "options": {"0": "op"},
           "no_match_prompt": text("Sorry, I did not understand."), "timeout_s": 6,
           "retries": 1, "after_answer": "anything_else", "default": "op", "store": "topic"},
    "b": {"type": "hangup", "reason": "billing"},
    "l": {"type": "hangup", "reason": "leak"},
    "op": {"type": "hangup", "reason": "operator"},
    "anything_else": {"type": "hangup", "reason": "answered"},
}


def test_speech_menu_listens_after_the_prompt_and_matches_a_keyword() -> None:
    d = Driver(flow(SPEECH))
    d.start()
    out = d.finish_prompt()
    listen = of_type(out, Listen)[0]
    assert set(listen.phrases) >= {"bill", "leak", "smell gas"}
    out = d.send(SpeechResult("I think I can smell gas in the kitchen", 0.9, listen.listen_id))
    assert out[0] == StopListen(listen.listen_id)
    assert SetVariable("topic", "leak") in out
    assert out[-1] == Hangup("leak")


def test_speech_menu_matches_chinese_keywords_as_substrings() -> None:
    d = Driver(flow(SPEECH))
    d.start()
    d.finish_prompt()
    assert d.send(SpeechResult("我想查一下账单", 0.8))[-1] == Hangup("billing")


def test_speech_menu_asks_the_faq_hook_and_speaks_its_answer() -> None:
    d = Driver(flow(SPEECH))
    d.start()
    d.finish_prompt()
    out = d.send(SpeechResult("what are your opening hours", 0.9))
    assert of_type(out, Lookup) == [Lookup("faq", {"text": "what are your opening hours",
                                                   "branches": ["billing", "leak"],
                                                   "language": None})]
    out = d.send(LookupResult("faq", {"answer": "We are open 8 to 8.", "confidence": 0.8}))
    assert d.texts(out) == ["We are open 8 to 8."]
    assert d.finish_prompt()[-1] == Hangup("answered")


def test_speech_menu_hook_branch_low_confidence_and_silence() -> None:
    d = Driver(flow(SPEECH))
    d.start()
    d.finish_prompt()
    d.send(SpeechResult("my meter reading is wrong", 0.9))
    assert d.send(LookupResult("faq", {"branch": "billing", "confidence": 0.9}))[-1] == \
        Hangup("billing")

    d = Driver(flow(SPEECH))
    d.start()
    d.finish_prompt()
    out = d.send(SpeechResult("bill", 0.2))  # too unsure: retry
    assert d.texts(out) == ["Sorry, I did not understand. | Please say what you are calling about."]
    d.finish_prompt()
    out = d.advance(6)  # silence: second failure → default
    assert out[-1] == Hangup("operator")


def test_speech_menu_accepts_dtmf_options() -> None:
    d = Driver(flow(SPEECH))
    play = d.start()[0]
    out = d.send(Dtmf("0"))
    assert out[0] == StopPlay(play.play_id)
    assert out[-1] == Hangup("operator")


# --------------------------------------------------------------------------- session lifecycle


def test_hangup_while_in_a_menu_cancels_timers_and_ignores_later_events() -> None:
    d = Driver(flow(MENU))
    d.start()
    d.finish_prompt()
    timer = d.timers()[-1]
    from voice.ivr.model import CallerHungUp
    out = d.send(CallerHungUp())
    assert out == [CancelTimer(timer.timer_id)]
    assert d.session.finished
    assert d.send(Timeout(timer.timer_id)) == []
    assert d.session.next_deadline() is None


def test_stale_prompt_finished_and_unknown_timer_are_ignored() -> None:
    d = Driver(flow(MENU))
    play = d.start()[0]
    d.send(Dtmf("9"))  # re-prompt: a new play id
    from voice.ivr.model import PromptFinished
    assert d.send(PromptFinished(play.play_id)) == []
    assert d.send(Timeout("nope")) == []


def test_start_twice_and_enter_unknown_node_raise() -> None:
    s = IvrSession(flow(MENU), now=0)
    s.start(0)
    with pytest.raises(SessionOver):
        s.start(1)
    with pytest.raises(UnknownNode):
        s.enter("nowhere", 1)


def test_leave_queue_not_emitted_outside_a_queue() -> None:
    d = Driver(flow(MENU))
    d.start()
    assert not of_type(d.log, LeaveQueue)
