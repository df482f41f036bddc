"""SLA arithmetic without the hub: policy matching and deadlines on a calendar with a weekend and
a holiday, the paused resolution clock."""

from __future__ import annotations

from datetime import date, datetime

from hub.acd import Calendar
from tests.workflows.conftest import SHANGHAI
from workflows import sla

CAL = Calendar(tz="Asia/Shanghai", weekly={d: [("09:00", "17:00")] for d in range(5)},
               holidays=frozenset({date(2027, 2, 1)}))
H = 3600.0


def at(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2027, month, day, hour, minute, tzinfo=SHANGHAI).timestamp()


def policy(**kw) -> sla.Policy:  # type: ignore[no-untyped-def]
    base = {"id": "p", "name": "p", "ticket_type": None, "priority": None, "vip": None,
            "first_response_s": 4 * H, "resolution_s": 16 * H, "reminder_lead_s": 1 * H,
            "calendar_id": None, "escalate_to": []}
    return sla.Policy(**{**base, **kw})


def test_most_specific_policy_wins():
    anyp = policy(id="any", name="any")
    complaint = policy(id="c", name="c", ticket_type="complaint")
    urgent_complaint = policy(id="uc", name="uc", ticket_type="complaint", priority="urgent")
    vip = policy(id="v", name="v", vip=True)
    ps = [anyp, complaint, urgent_complaint, vip]
    assert sla.match_policy(ps, "complaint", "urgent", False).id == "uc"
    assert sla.match_policy(ps, "complaint", "low", False).id == "c"
    assert sla.match_policy(ps, "inquiry", "low", True).id == "v"
    assert sla.match_policy(ps, "inquiry", "low", False).id == "any"
    assert sla.match_policy([complaint], "inquiry", "low", False) is None


def test_deadlines_skip_weekend_and_holiday():
    d = sla.first_response(CAL, policy(), at(1, 29, 15))  # Friday 15:00
    assert d.due == at(2, 2, 11)  # Tuesday 11:00 (Monday is a holiday)
    assert d.remind_at == at(2, 2, 10)
    r = sla.resolution(CAL, policy(), at(1, 29, 15), 0)
    assert r.due == at(2, 3, 15) and r.remind_at == at(2, 3, 14)


def test_paused_clock_keeps_what_was_used():
    # 5 business hours used before the pause; resumed Thursday 09:00 -> 11 h left
    r = sla.resolution(CAL, policy(), at(2, 4, 9), 5 * H)
    assert r.due == at(2, 5, 12)
    assert sla.business_between(CAL, at(1, 29, 15), at(2, 2, 12)) == 5 * H


def test_no_calendar_is_round_the_clock_and_no_reminder_when_lead_is_too_long():
    d = sla.first_response(None, policy(reminder_lead_s=5 * H), 1000.0)
    assert d.due == 1000.0 + 4 * H and d.remind_at is None
