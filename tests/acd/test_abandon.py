from hub.acd import Abandoned, OfferRevoked, Strategy

from .helpers import build, contact, offers, queue, ready


def test_abandon_while_waiting_removes_the_contact():
    acd = build(queue(), agents="a")
    acd.enqueue(contact("c1"), 5)
    assert acd.abandon("c1", 12) == [Abandoned("c1", "q", 7)]
    assert acd.contact_location("c1") is None
    assert acd.queue_snapshot("q", 12).waiting == 0


def test_abandon_while_ringing_revokes_offers_and_frees_agents():
    acd = build(queue(strategy=Strategy.RING_ALL), agents="ab")
    ready(acd, "a", "b")
    acd.enqueue(contact("c1"), 1)
    acd.enqueue(contact("c2"), 2)
    out = acd.abandon("c1", 3)
    assert out[0] == Abandoned("c1", "q", 2)
    assert {(d.agent_id, d.reason) for d in out if isinstance(d, OfferRevoked)} == {
        ("a", "abandoned"),
        ("b", "abandoned"),
    }
    assert sorted(offers(out)) == [("c2", "a"), ("c2", "b")]


def test_abandoned_contact_timers_are_dead():
    acd = build(queue(max_wait_s=10), agents="a")
    acd.enqueue(contact("c1"), 0)
    acd.abandon("c1", 1)
    assert acd.next_deadline() is None
    assert acd.tick(100) == []


def test_abandon_held_contact():
    acd = build(queue(members=("a",)), agents=["a", "o"])
    ready(acd, "a")
    acd.login("o", 0)
    acd.enqueue(contact("c1", owner_agent_id="o"), 1)
    assert acd.contact_location("c1").state == "held"
    acd.abandon("c1", 2)
    assert acd.agent_snapshot("o").held == ()
