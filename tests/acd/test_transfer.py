from hub.acd import AgentStateChanged, Released

from .helpers import build, contact, of_type, offers, queue, ready


def setup():
    acd = build(queue(members=("a", "b")), queue(qid="q2", members=("c",), owner_wait_s=30),
                agents="abcd")
    ready(acd, "a", now=0)
    acd.enqueue(contact("c1", priority=4), 1)
    acd.accept("c1", "a", 2)
    return acd


def test_transfer_to_queue_releases_agent_and_keeps_priority():
    acd = setup()
    ready(acd, "c", now=3)
    out = acd.transfer("c1", 10, queue_id="q2")
    assert of_type(out, Released)[0].agent_id == "a"
    assert offers(out) == [("c1", "c")]
    loc = acd.contact_location("c1")
    assert (loc.queue_id, loc.priority, loc.enqueued_at) == ("q2", 4, 10)
    assert acd.agent_snapshot("a").load["voice"] == 0


def test_transfer_has_no_wrap_up():
    acd = build(queue(members=("a", "b"), wrapup_s=30), agents="ab")
    ready(acd, "a")
    acd.enqueue(contact("c1"), 1)
    acd.accept("c1", "a", 1)
    out = acd.transfer("c1", 5, agent_id="b")
    assert of_type(out, AgentStateChanged) == []
    assert acd.agent_snapshot("a").state == "ready"


def test_transfer_to_busy_agent_waits_owner_wait_then_queue():
    acd = setup()
    ready(acd, "c", "d", now=3)
    acd.enqueue(contact("other", queue="q2"), 4)
    acd.accept("other", "c", 4)  # c busy
    out = acd.transfer("c1", 10, queue_id="q2", agent_id="c")
    assert offers(out) == []
    assert acd.contact_location("c1").state == "held"
    assert acd.next_deadline() <= 40
    out = acd.tick(40)
    assert offers(out) == []  # d is not a member of q2: waits in q2 for a member
    assert acd.contact_location("c1").state == "waiting"
    assert offers(acd.release("other", 41)) == [("c1", "c")]


def test_transfer_to_free_agent_offers_directly():
    acd = setup()
    ready(acd, "d", now=3)
    out = acd.transfer("c1", 10, agent_id="d")
    assert offers(out) == [("c1", "d")]


def test_transferring_agent_is_not_offered_the_contact_back_while_others_can_take_it():
    acd = setup()
    acd.login("b", 3)  # b logged in but not ready
    out = acd.transfer("c1", 10, queue_id="q")
    assert offers(out) == []
    assert offers(acd.set_ready("b", 11)) == [("c1", "b")]
