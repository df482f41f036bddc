from hub.acd import AgentConfig, Channel

from .helpers import build, contact, offers, queue, ready


def chat(cid):
    return contact(cid, channel=Channel.CHAT)


def test_agent_handles_up_to_three_chats_and_stays_ready():
    acd = build(queue(members=("a",)), agents="a")
    ready(acd, "a")
    for i in range(4):
        acd.enqueue(chat(f"x{i}"), i)
    snap = acd.agent_snapshot("a")
    assert snap.load[Channel.CHAT] == 3 and snap.state == "ready"
    assert [w.contact_id for w in acd.waiting_contacts("q") if w.state == "waiting"] == ["x3"]
    for i in range(3):
        acd.accept(f"x{i}", "a", 5)
    assert offers(acd.release("x1", 6)) == [("x3", "a")]


def test_voice_call_blocks_offers_of_other_channels():
    acd = build(queue(members=("a",)), agents="a")
    ready(acd, "a")
    acd.enqueue(contact("v1"), 1)
    acd.accept("v1", "a", 1)
    assert offers(acd.enqueue(chat("x1"), 2)) == []
    assert offers(acd.release("v1", 3)) == [("x1", "a")]


def test_voice_block_can_be_disabled_per_agent():
    acd = build(queue(members=("a",)),
                agents=[AgentConfig("a", voice_blocks_other_channels=False)])
    ready(acd, "a")
    acd.enqueue(contact("v1"), 1)
    assert offers(acd.enqueue(chat("x1"), 2)) == [("x1", "a")]


def test_chats_in_progress_do_not_block_a_voice_call():
    acd = build(queue(members=("a",)), agents="a")
    ready(acd, "a")
    acd.enqueue(chat("x1"), 1)
    assert offers(acd.enqueue(contact("v1"), 2)) == [("v1", "a")]


def test_zero_capacity_channel_is_never_offered():
    acd = build(queue(members=("a",)),
                agents=[AgentConfig("a", capacity={Channel.VOICE: 1})])
    ready(acd, "a")
    assert offers(acd.enqueue(contact("e1", channel=Channel.EMAIL), 1)) == []


def test_offers_count_against_capacity():
    acd = build(queue(members=("a",)), agents=[AgentConfig("a", capacity={Channel.EMAIL: 2})])
    ready(acd, "a")
    out = []
    for i in range(3):
        out += acd.enqueue(contact(f"e{i}", channel=Channel.EMAIL), i)
    assert offers(out) == [("e0", "a"), ("e1", "a")]


def test_a_consultation_occupies_the_voice_slot_until_it_is_vacated():
    from hub.acd.invariants import check_invariants

    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a", "b")
    assert acd.occupy("a", "consult-1", Channel.VOICE, 1) == []
    snap = acd.agent_snapshot("a")
    assert snap.busy and snap.occupied == ("consult-1",) and snap.state == "ready"
    assert offers(acd.enqueue(contact("v1"), 2)) == [("v1", "b")]  # not the consulted agent
    assert offers(acd.enqueue(contact("v2"), 3)) == []  # b is full too: v2 waits
    assert offers(acd.enqueue(chat("x1"), 4)) == []  # a consult call blocks chats as a call does
    check_invariants(acd)
    out = acd.vacate("a", "consult-1", 5)
    assert offers(out) == [("v2", "a")]  # free again: the waiting call is offered at once
    assert acd.agent_snapshot("a").occupied == ()
    assert acd.vacate("a", "consult-1", 6) == []  # twice is harmless
    check_invariants(acd)


def test_an_occupied_voice_slot_leaves_chats_open_when_voice_does_not_block():
    acd = build(queue(members=("a",)), agents=[AgentConfig("a", voice_blocks_other_channels=False)])
    ready(acd, "a")
    acd.occupy("a", "consult-1", Channel.VOICE, 1)
    assert offers(acd.enqueue(contact("v1"), 2)) == []
    assert offers(acd.enqueue(chat("x1"), 3)) == [("x1", "a")]
    acd.set_not_ready("a", "break", 4)
    assert offers(acd.vacate("a", "consult-1", 5)) == []  # not ready: nothing is offered
