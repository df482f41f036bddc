"""Queue experience (VOICE-3): announcements, music on hold, periodic offers, max wait, leaving the
queue with a key, agent → IVR branch → back to a person with the original age."""

from __future__ import annotations

from tests.voice.ivr.helpers import Driver, flow, of_type, text
from voice.ivr.engine import QueueEntry
from voice.ivr.model import (
    AgentAnswered,
    CallerHungUp,
    CancelTimer,
    Dtmf,
    Enqueue,
    Hangup,
    LeaveQueue,
    Play,
    QueueLeft,
    QueueStatus,
    RecordVoicemail,
    RequestCallback,
    SessionState,
    StopPlay,
)

NODES = {
    "q": {"type": "queue", "queue_id": "billing", "priority": 5, "skills": {"billing": 50},
          "intro": text("All our agents are busy."),
          "music": [{"builtin": "moh"}],
          "announce": {"every_s": 30, "prompt": text(
              "You are number {position} in the queue. Expected wait {wait_min} minutes.")},
          "offer": {"every_s": 60, "first_after_s": 45,
                    "prompt": text("Press 1 for a callback, 2 to leave a voicemail.")},
          "keys": {"1": "cb", "2": "vm", "*": "menu"},
          "max_wait_s": 300, "overflow": "vm"},
    "cb": {"type": "callback", "queue_id": "callbacks"},
    "vm": {"type": "voicemail", "mailbox": "billing", "greeting": text("Leave a message.")},
    "menu": {"type": "menu", "prompt": text("Main menu"), "options": {"1": "q"}},
    "survey": {"type": "menu", "prompt": text("Rate us: 1 good, 2 bad"),
               "options": {"1": "thanks", "2": "thanks"}},
    "thanks": {"type": "hangup", "prompt": text("Thanks")},
}


def _queued(nodes: dict | None = None, **kw: object) -> Driver:
    d = Driver(flow(nodes or NODES, agent_entries=["survey"], return_key="0"),
               caller="+8613800001111", **kw)
    out = d.start()
    assert out[0] == Enqueue("billing", 5, {"billing": 50}, {}, None)
    assert d.session.state is SessionState.QUEUED
    assert d.texts(out) == ["All our agents are busy."]
    return d


def test_intro_then_music_on_hold_loops() -> None:
    d = _queued()
    out = d.finish_prompt()
    (moh,) = of_type(out, Play)
    assert moh.loop is True and moh.prompts[0].path == "builtin:moh"


def test_position_announced_every_n_seconds_and_music_resumes() -> None:
    d = _queued({**NODES, "q": {**NODES["q"], "offer": None}})
    d.finish_prompt()
    moh = d.playing
    d.send(QueueStatus(position=3, expected_wait_s=170))
    out = d.advance(30)
    assert out[0] == StopPlay(moh.play_id)
    assert d.texts(out) == ["You are number 3 in the queue. Expected wait 3 minutes."]
    out = d.finish_prompt()
    assert of_type(out, Play)[0].loop is True  # music again
    d.send(QueueStatus(position=1, expected_wait_s=20))
    out = d.advance(30)
    assert d.texts(out) == ["You are number 1 in the queue. Expected wait 1 minutes."]
    announce_times = [t.at - d.session.created_at for t in d.timers() if "announce" in t.timer_id]
    assert announce_times == [30, 60, 90]


def test_no_announcement_while_the_position_is_unknown() -> None:
    d = _queued()
    d.finish_prompt()
    out = d.advance(30)
    assert not of_type(out, Play) and not of_type(out, StopPlay)


def test_callback_offer_is_periodic_and_pressing_1_requests_a_callback() -> None:
    d = _queued()
    d.finish_prompt()
    out = d.advance(45)
    assert d.texts(out) == ["Press 1 for a callback, 2 to leave a voicemail."]
    d.finish_prompt()
    offers = [t.at - d.session.created_at for t in d.timers() if "offer" in t.timer_id]
    assert offers == [45, 105]
    out = d.send(Dtmf("1"))
    assert isinstance(out[0], StopPlay)  # the music stops first
    assert LeaveQueue("billing", "caller_choice") in out
    assert of_type(out, RequestCallback)[0].number == "+8613800001111"
    assert d.session.next_deadline() is None or all(
        "offer" not in tid and "announce" not in tid for tid in d.session._timers)


def test_announcement_and_offer_due_together_play_one_after_the_other() -> None:
    d = _queued()
    d.finish_prompt()
    d.send(QueueStatus(2, 60))
    d.advance(30)  # announcement
    d.finish_prompt()
    out = d.advance(30)  # 60 s: announcement; the offer at 45 s came first
    texts = d.texts(d.log[-12:])
    assert "Press 1 for a callback, 2 to leave a voicemail." in texts
    assert d.playing is not None and not d.playing.loop
    # neither cuts the other: no StopPlay of a non-music prompt
    stopped = {a.play_id for a in of_type(out, StopPlay)}
    spoken = {a.play_id for a in of_type(d.log, Play) if not a.loop}
    assert not (stopped & spoken)


def test_unknown_keys_in_the_queue_change_nothing() -> None:
    d = _queued()
    d.finish_prompt()
    assert d.send(Dtmf("7")) == []
    assert d.session.state is SessionState.QUEUED


def test_leave_queue_key_goes_to_voicemail() -> None:
    d = _queued()
    d.finish_prompt()
    out = d.send(Dtmf("2"))
    assert isinstance(out[0], StopPlay)
    assert LeaveQueue("billing", "caller_choice") in out
    assert d.texts(out) == ["Leave a message."]
    out = d.finish_prompt()
    assert of_type(out, RecordVoicemail)[0].mailbox == "billing"


def test_max_wait_overflows_to_the_next_node() -> None:
    d = _queued()
    d.finish_prompt()
    d.advance(299)
    assert d.session.state is SessionState.QUEUED
    out = d.advance(1.5)
    assert LeaveQueue("billing", "max_wait") in out
    assert d.texts(out)[-1] == "Leave a message."


def test_acd_overflow_event_follows_the_overflow_node() -> None:
    d = _queued()
    out = d.send(QueueLeft("closed"))
    assert not of_type(out, LeaveQueue)  # the ACD already took it out
    assert d.texts(out) == ["Leave a message."]


def test_agent_answer_stops_all_queue_audio_and_timers() -> None:
    d = _queued()
    d.finish_prompt()
    out = d.send(AgentAnswered("agent-1"))
    assert isinstance(out[0], StopPlay)
    assert len(of_type(out, CancelTimer)) == 3  # announce, offer, max wait
    assert d.session.state is SessionState.CONNECTED
    assert d.session.next_deadline() is None
    assert d.send(Dtmf("1")) == []  # talking to the agent: keys are not the IVR's


def test_agent_sends_caller_to_a_branch_and_the_caller_comes_back_with_original_age() -> None:
    d = _queued()
    enqueued_at = d.now
    d.finish_prompt()
    d.advance(100)
    d.send(AgentAnswered("agent-1"))
    d.advance(200)
    out = d._apply(d.session.enter("survey", d.now))
    assert d.texts(out) == ["Rate us: 1 good, 2 bad"]
    assert d.session.state is SessionState.RUNNING
    out = d.send(Dtmf("0"))  # back to a person
    assert isinstance(out[0], StopPlay)
    enq = of_type(out, Enqueue)[0]
    assert (enq.queue_id, enq.priority, enq.skills, enq.enqueued_at) == \
        ("billing", 5, {"billing": 50}, enqueued_at)
    assert d.session.state is SessionState.QUEUED
    # the queue experience runs again for the re-queued caller
    d.finish_prompt()
    d.send(QueueStatus(1, 10))
    assert d.texts(d.advance(30)) == ["You are number 1 in the queue. Expected wait 1 minutes."]


def test_return_key_only_works_in_a_branch_the_agent_chose() -> None:
    d = Driver(flow(NODES, start="menu", return_key="0"))
    d.start()
    out = d.send(Dtmf("0"))
    assert not of_type(out, Enqueue)  # an ordinary invalid menu key


def test_agent_can_move_a_waiting_caller_to_a_branch() -> None:
    d = _queued()
    d.finish_prompt()
    out = d._apply(d.session.enter("survey", d.now))
    assert out[0].__class__ is StopPlay
    assert LeaveQueue("billing", "agent_branch") in out


def test_enter_with_an_explicit_return_queue() -> None:
    d = Driver(flow(NODES, start="menu"))
    d.start()
    out = d._apply(d.session.enter("survey", d.now,
                                   return_to=QueueEntry(None, "general", 2, {}, 123.0)))
    assert d.texts(out) == ["Rate us: 1 good, 2 bad"]
    out = d.send(Dtmf("0"))
    assert of_type(out, Enqueue)[0] == Enqueue("general", 2, {}, {"returned_to_person": True}, 123.0)


def test_caller_hanging_up_in_the_queue_is_an_abandon() -> None:
    d = _queued()
    d.finish_prompt()
    out = d.send(CallerHungUp())
    assert LeaveQueue("billing", "abandoned") in out
    assert d.session.state is SessionState.ENDED
    assert d.hangup() is None  # the caller left; nothing to hang up


def test_max_wait_without_overflow_hangs_up() -> None:
    nodes = {"q": {"type": "queue", "queue_id": "general", "max_wait_s": 10}}
    d = Driver(flow(nodes))
    d.start()
    out = d.advance(10)
    assert out[-1] == Hangup("max_wait")


def test_an_unknown_expected_wait_is_left_out_of_the_announcement() -> None:
    d = _queued({**NODES, "q": {**NODES["q"], "offer": None}})
    d.finish_prompt()
    d.send(QueueStatus(position=4, expected_wait_s=None))
    assert d.texts(d.advance(30)) == ["You are number 4 in the queue."]
