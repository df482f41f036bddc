from hub.acd import AgentConfig

from .helpers import build, contact, offers, queue, ready


def test_vip_contact_is_served_before_earlier_normal_contacts():
    acd = build(queue(members=("a",)), agents="a")
    acd.login("a", 0)
    acd.enqueue(contact("n1"), 1)
    acd.enqueue(contact("n2"), 2)
    acd.enqueue(contact("vip", vip=True), 3)
    assert [w.contact_id for w in acd.waiting_contacts("q")] == ["vip", "n1", "n2"]
    assert offers(acd.set_ready("a", 4)) == [("vip", "a")]


def test_higher_priority_goes_first_then_enqueue_time():
    acd = build(queue(members=("a",), vip_priority_boost=10), agents="a")
    acd.login("a", 0)
    acd.enqueue(contact("p0"), 1)
    acd.enqueue(contact("p5", priority=5), 2)
    acd.enqueue(contact("p11", priority=11), 3)
    acd.enqueue(contact("vip", vip=True), 4)  # 0 + 10
    acd.enqueue(contact("p5b", priority=5), 5)
    order = [w.contact_id for w in acd.waiting_contacts("q")]
    assert order == ["p11", "vip", "p5", "p5b", "p0"]


def test_owner_agent_gets_the_contact_even_without_membership_or_skills():
    acd = build(
        queue(members=("a",), required_skills={"gas": 3}),
        agents=[AgentConfig("a", skills={"gas": 3}), AgentConfig("owner")],
    )
    ready(acd, "a", "owner")
    out = acd.enqueue(contact("c1", owner_agent_id="owner"), 1)
    assert offers(out) == [("c1", "owner")]


def test_contact_waits_for_busy_owner_then_goes_to_any_agent():
    acd = build(queue(members=("a", "owner"), owner_wait_s=30), agents=["a", "owner"])
    ready(acd, "a", "owner")
    acd.enqueue(contact("x"), 0)  # owner is longest idle? a ready first -> a
    acd.accept("x", "a", 0)
    acd.enqueue(contact("y"), 0.5)
    acd.accept("y", "owner", 0.5)
    acd.release("x", 1)  # a is free, owner busy
    out = acd.enqueue(contact("c1", owner_agent_id="owner"), 2)
    assert offers(out) == []
    loc = acd.contact_location("c1")
    assert loc.state == "held" and loc.agent_ids == ("owner",)
    assert acd.queue_snapshot("q", 3).waiting == 1
    assert acd.next_deadline() == 32
    assert offers(acd.tick(32)) == [("c1", "a")]


def test_held_contact_is_offered_to_owner_as_soon_as_they_free_up():
    acd = build(queue(members=("a", "owner")), agents=["a", "owner"])
    ready(acd, "owner")
    acd.enqueue(contact("x"), 0)
    acd.accept("x", "owner", 0)
    ready(acd, "a", now=1)
    acd.enqueue(contact("c1", owner_agent_id="owner"), 2)
    assert offers(acd.release("x", 5)) == [("c1", "owner")]


def test_owner_wins_over_last_agent():
    acd = build(queue(members=("a", "b", "c")), agents="abc")
    ready(acd, "a", "b", "c")
    out = acd.enqueue(contact("c1", owner_agent_id="c", last_agent_id="b"), 1)
    assert offers(out) == [("c1", "c")]


def test_sticky_routing_prefers_the_last_agent_and_waits_sticky_wait_s():
    acd = build(queue(members=("a", "b"), sticky_wait_s=15), agents="ab")
    ready(acd, "b")
    acd.enqueue(contact("x"), 0)
    acd.accept("x", "b", 0)
    ready(acd, "a", now=1)
    assert offers(acd.enqueue(contact("c1", last_agent_id="b"), 2)) == []
    assert acd.next_deadline() == 17
    assert offers(acd.tick(17)) == [("c1", "a")]


def test_logged_out_owner_is_ignored():
    acd = build(queue(members=("a",)), agents=["a", "owner"])
    ready(acd, "a")
    assert offers(acd.enqueue(contact("c1", owner_agent_id="owner"), 1)) == [("c1", "a")]


def test_restored_contacts_keep_their_place_after_a_restart():
    acd = build(queue(members=("a",)), agents="a")
    for i, cid in enumerate(["c1", "c2", "c3"]):
        acd.enqueue(contact(cid, priority=1 if cid == "c3" else 0), i)
    saved = acd.waiting_contacts("q")

    restarted = build(queue(members=("a",)), agents="a")
    restarted.enqueue(contact("new"), 50)
    for w in reversed(saved):  # restore order does not matter
        req = w.request
        restarted.enqueue(
            contact(req.id, priority=req.priority, enqueued_at=w.enqueued_at), 60
        )
    assert [w.contact_id for w in restarted.waiting_contacts("q")] == ["c3", "c1", "c2", "new"]
    assert restarted.contact_location("c1").enqueued_at == 0
    restarted.login("a", 61)
    restarted.set_ready("a", 61)
    assert restarted.accept("c3", "a", 62)[0].waited_s == 60
