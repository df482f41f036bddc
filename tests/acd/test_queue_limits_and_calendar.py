from datetime import UTC, date, datetime

import pytest

from hub.acd import (
    Calendar,
    Overflowed,
    OverflowTarget,
    QueueStateChanged,
)

from .helpers import build, contact, of_type, offers, queue, ready

SHANGHAI_WEEKDAYS = Calendar(
    tz="Asia/Shanghai",
    weekly={d: [("08:00", "12:00"), ("13:00", "18:00")] for d in range(5)},
    holidays=frozenset({date(2026, 10, 1)}),
    special={date(2026, 10, 10): [("09:00", "12:00")]},  # a Saturday with special hours
)


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_calendar_is_open_on_weekday_business_hours_in_its_time_zone():
    # Monday 2026-10-05 09:00 in Shanghai is 01:00 UTC
    assert SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 5, 1, 0))
    assert not SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 5, 4, 30))  # 12:30 lunch
    assert not SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 5, 10, 0))  # 18:00 closed (half-open)
    assert SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 5, 9, 59))


def test_calendar_holiday_is_closed_all_day():
    assert not SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 1, 2, 0))  # Thursday 10:00 local


def test_calendar_special_hours_override_the_weekly_schedule():
    assert SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 10, 2, 0))  # Saturday 10:00 local
    assert not SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 10, 5, 0))  # 13:00 local
    assert not SHANGHAI_WEEKDAYS.is_open(ts(2026, 10, 11, 2, 0))  # Sunday


def test_calendar_next_change_finds_lunch_break_and_skips_the_weekend():
    assert SHANGHAI_WEEKDAYS.next_change(ts(2026, 10, 5, 1, 0)) == ts(2026, 10, 5, 4, 0)
    assert SHANGHAI_WEEKDAYS.next_change(ts(2026, 10, 5, 4, 0)) == ts(2026, 10, 5, 5, 0)
    # Friday 18:00 local -> special Saturday 09:00 local
    assert SHANGHAI_WEEKDAYS.next_change(ts(2026, 10, 9, 10, 0)) == ts(2026, 10, 10, 1, 0)
    # Saturday 12:00 closes -> Monday 08:00 (00:00 UTC)
    assert SHANGHAI_WEEKDAYS.next_change(ts(2026, 10, 10, 4, 0)) == ts(2026, 10, 12, 0, 0)


def test_calendar_always_open_has_no_next_change():
    cal = Calendar(tz="UTC", weekly={d: [("00:00", "24:00")] for d in range(7)})
    assert cal.is_open(ts(2026, 1, 1, 23, 59))
    assert cal.next_change(ts(2026, 1, 1), horizon_days=10) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tz": "Mars/Olympus", "weekly": {}}, "time zone"),
        ({"tz": "UTC", "weekly": {0: [("9:00", "8:00")]}}, "ends before it starts"),
        ({"tz": "UTC", "weekly": {0: [("25:00", "26:00")]}}, "out of range"),
        ({"tz": "UTC", "weekly": {0: [("nine", "10:00")]}}, "not HH:MM"),
        ({"tz": "UTC", "weekly": {7: [("09:00", "10:00")]}}, "weekday"),
    ],
)
def test_calendar_rejects_bad_times_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Calendar(**kwargs)


def test_closed_queue_sends_new_contacts_to_closed_target():
    target = OverflowTarget("voicemail")
    acd = build(queue(members=("a",), calendar=SHANGHAI_WEEKDAYS, closed_target=target),
                agents="a")
    ready(acd, "a")
    out = acd.enqueue(contact("c1"), ts(2026, 10, 1, 2, 0))  # holiday
    assert out == [Overflowed("c1", "q", target, "closed")]
    assert acd.contact_location("c1") is None
    assert offers(acd.enqueue(contact("c2"), ts(2026, 10, 5, 2, 0))) == [("c2", "a")]


def test_closed_queue_without_target_rejects():
    acd = build(queue(calendar=SHANGHAI_WEEKDAYS), agents="a")
    out = acd.enqueue(contact("c1"), ts(2026, 10, 4, 2, 0))  # Sunday
    assert out == [Overflowed("c1", "q", OverflowTarget("reject"), "closed")]


def test_contacts_waiting_when_queue_closes_stay_and_tick_reports_the_change():
    start = ts(2026, 10, 5, 9, 0)  # 17:00 local
    acd = build(queue(members=("a",), calendar=SHANGHAI_WEEKDAYS), agents="a")
    acd.login("a", start)
    acd.enqueue(contact("c1"), start)
    assert acd.tick(start) == []
    assert acd.next_deadline() == ts(2026, 10, 5, 10, 0)
    out = acd.tick(ts(2026, 10, 5, 10, 0))
    assert out == [QueueStateChanged("q", False, ts(2026, 10, 5, 10, 0))]
    assert acd.contact_location("c1").state == "waiting"
    assert offers(acd.set_ready("a", ts(2026, 10, 5, 10, 1))) == [("c1", "a")]


def test_full_queue_overflows_new_contact_with_max_length():
    target = OverflowTarget("callback")
    acd = build(queue(max_length=2, overflow=target), agents="a")
    acd.enqueue(contact("c1"), 1)
    acd.enqueue(contact("c2"), 2)
    assert acd.enqueue(contact("c3"), 3) == [Overflowed("c3", "q", target, "max_length")]
    assert acd.queue_snapshot("q", 3).waiting == 2


def test_max_wait_overflows_to_another_queue_keeping_priority():
    acd = build(
        queue(members=("a",), max_wait_s=60, overflow=OverflowTarget("queue", "q2")),
        queue(members=("b",), qid="q2"),
        agents="ab",
    )
    acd.enqueue(contact("c1", priority=3), 0)
    assert acd.next_deadline() == 60
    out = acd.tick(60)
    assert out == [Overflowed("c1", "q", OverflowTarget("queue", "q2"), "max_wait")]
    loc = acd.contact_location("c1")
    assert (loc.queue_id, loc.state, loc.priority) == ("q2", "waiting", 3)
    assert offers(ready(acd, "b", now=61)) == [("c1", "b")]


def test_max_wait_while_ringing_overflows_when_the_offer_fails():
    acd = build(queue(members=("a",), max_wait_s=30, offer_timeout_s=20), agents="a")
    acd.login("a", 0)
    acd.enqueue(contact("c1"), 0)
    ready(acd, "a", now=15)  # rings until 35
    assert of_type(acd.tick(30), Overflowed) == []
    out = acd.tick(35)
    assert of_type(out, Overflowed) == [
        Overflowed("c1", "q", OverflowTarget("reject"), "max_wait")
    ]


def test_overflow_loop_between_queues_ends_in_reject():
    acd = build(
        queue(qid="q1", max_length=0, overflow=OverflowTarget("queue", "q2")),
        queue(qid="q2", max_length=0, overflow=OverflowTarget("queue", "q1")),
    )
    out = acd.enqueue(contact("c1", queue="q1"), 0)
    assert [d.target.kind for d in out] == ["queue", "reject"]
    assert acd.contact_location("c1") is None


def test_overflow_to_unknown_queue_becomes_reject():
    acd = build(queue(max_length=0, overflow=OverflowTarget("queue", "nowhere")))
    out = acd.enqueue(contact("c1"), 0)
    assert out == [Overflowed("c1", "q", OverflowTarget("reject"), "max_length")]


def test_queue_snapshot_reports_counts_and_longest_wait():
    acd = build(queue(), agents="abc")
    acd.enqueue(contact("v1"), 10)
    acd.enqueue(contact("x1", channel="chat"), 20)
    snap = acd.queue_snapshot("q", 50)
    assert snap.waiting == 2 and snap.longest_wait_s == 40
    assert snap.by_channel["voice"] == 1 and snap.by_channel["chat"] == 1


def test_calendar_follows_daylight_saving_time():
    berlin = Calendar(tz="Europe/Berlin", weekly={d: [("09:00", "17:00")] for d in range(5)})
    # Friday 27 March 2026 is still CET (UTC+1), Monday 30 March is CEST (UTC+2)
    assert not berlin.is_open(ts(2026, 3, 27, 7, 30))  # 08:30 local
    assert berlin.is_open(ts(2026, 3, 30, 7, 30))  # 09:30 local
    assert berlin.next_change(ts(2026, 3, 27, 17, 0)) == ts(2026, 3, 30, 7, 0)
