from hub.acd import AgentState, AgentStateChanged, NoAnswer, OfferRevoked

from .helpers import build, contact, of_type, offers, queue, ready


def test_offer_expires_agent_set_not_ready_and_contact_offered_to_next_agent():
    acd = build(queue(members=("a", "b"), offer_timeout_s=20), agents="ab")
    ready(acd, "a", now=0)
    ready(acd, "b", now=1)
    out = acd.enqueue(contact("c1"), 5)
    assert out[0].expires_at == 25
    assert acd.next_deadline() == 25
    out = acd.tick(25)
    assert out[:3] == [
        OfferRevoked("c1", "a", "timeout"),
        NoAnswer("c1", "a"),
        AgentStateChanged("a", AgentState.NOT_READY, "no_answer", 25),
    ]
    assert offers(out) == [("c1", "b")]
    assert acd.agent_snapshot("a").reason == "no_answer"


def test_no_answer_puts_contact_back_at_the_head_with_its_enqueue_time():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a")
    acd.enqueue(contact("c1"), 1)
    acd.enqueue(contact("c2"), 2)
    acd.tick(21)
    waiting = acd.waiting_contacts("q")
    assert [w.contact_id for w in waiting] == ["c1", "c2"]
    assert waiting[0].enqueued_at == 1
    assert offers(ready(acd, "b", now=22)) == [("c1", "b")]
    assert acd.accept("c1", "b", 23)[0].waited_s == 22


def test_no_answer_keeps_agent_ready_when_queue_says_so():
    acd = build(queue(members=("a",), noanswer_sets_not_ready=False), agents="a")
    ready(acd, "a")
    acd.enqueue(contact("c1"), 0)
    out = acd.tick(20)
    assert of_type(out, AgentStateChanged) == []
    # a is the only member: after everyone was tried the contact rings a again
    assert offers(out) == [("c1", "a")]


def test_rejected_contact_goes_to_another_agent_not_the_rejecting_one():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a", now=0)
    ready(acd, "b", now=1)
    acd.enqueue(contact("c1"), 2)
    out = acd.reject("c1", "a", 3)
    assert OfferRevoked("c1", "a", "rejected") in out
    assert offers(out) == [("c1", "b")]


def test_rejecting_agent_is_skipped_until_all_others_tried():
    acd = build(queue(members=("a", "b", "c")), agents="abc")
    ready(acd, "a", now=0)
    ready(acd, "b", now=1)
    ready(acd, "c", now=2)
    acd.enqueue(contact("x"), 3)  # a
    acd.accept("x", "a", 3)
    acd.enqueue(contact("c1"), 4)  # b
    assert offers(acd.reject("c1", "b", 5)) == [("c1", "c")]
    assert offers(acd.reject("c1", "c", 6)) == []  # a busy; b and c tried
    out = acd.release("x", 7)
    assert offers(out) == [("c1", "a")]
    out = acd.reject("c1", "a", 8)  # all tried: start again
    assert offers(out) in ([("c1", "b")], [("c1", "c")], [("c1", "a")])
    assert offers(out) != []


def test_reject_with_other_idle_members_not_ready_waits_for_them():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a")
    acd.login("b", 0)
    acd.enqueue(contact("c1"), 1)
    assert offers(acd.reject("c1", "a", 2)) == []
    assert offers(acd.set_ready("b", 3)) == [("c1", "b")]


def test_wrapup_blocks_offers_until_timeout():
    acd = build(queue(members=("a",), wrapup_s=10), agents="a")
    ready(acd, "a")
    acd.enqueue(contact("c1"), 0)
    acd.accept("c1", "a", 0)
    acd.enqueue(contact("c2"), 1)
    out = acd.release("c1", 5)
    assert AgentStateChanged("a", AgentState.WRAP_UP, None, 5) in out
    assert offers(out) == []
    assert acd.next_deadline() == 15
    out = acd.tick(15)
    assert out[0] == AgentStateChanged("a", AgentState.READY, None, 15)
    assert offers(out) == [("c2", "a")]


def test_end_wrapup_early_makes_agent_ready():
    acd = build(queue(members=("a",), wrapup_s=60), agents="a")
    ready(acd, "a")
    acd.enqueue(contact("c1"), 0)
    acd.accept("c1", "a", 0)
    acd.release("c1", 5)
    acd.enqueue(contact("c2"), 6)
    assert offers(acd.end_wrapup("a", 7)) == [("c2", "a")]
    acd.accept("c2", "a", 8)
    assert acd.tick(65) == []  # the old wrap-up timer is dead


def test_not_ready_withdraws_pending_offers():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a", now=0)
    acd.enqueue(contact("c1"), 1)
    out = acd.set_not_ready("a", "lunch", 2)
    assert OfferRevoked("c1", "a", "withdrawn") in out
    assert acd.contact_location("c1").state == "waiting"
    assert offers(ready(acd, "b", now=3)) == [("c1", "b")]


def test_logout_withdraws_offers_and_keeps_assigned_contacts():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a")
    acd.enqueue(contact("x", channel="chat"), 1)
    acd.accept("x", "a", 1)
    acd.enqueue(contact("y", channel="chat"), 2)
    out = acd.logout("a", 3)
    assert OfferRevoked("y", "a", "withdrawn") in out
    assert acd.contact_location("x").state == "assigned"
    assert acd.agent_snapshot("a").state == "logged_out"
    assert acd.release("x", 4)[0].contact_id == "x"
