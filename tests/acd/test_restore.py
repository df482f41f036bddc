"""Restoring assigned contacts after a restart keeps capacity honest."""

from hub.acd import Acd, AgentConfig, Channel, ContactRequest, Offer, QueueConfig


def test_restored_assignment_counts_against_capacity_and_can_be_released():
    acd = Acd(seed=1)
    acd.configure_queue(QueueConfig(id="q", name="q", members=("a",)))
    acd.configure_agent(AgentConfig(id="a", capacity={Channel.CHAT: 1}))
    acd.login("a", 0)
    acd.restore_assigned(ContactRequest(id="c1", channel=Channel.CHAT, queue_id="q",
                                        enqueued_at=-5), "a", 0)
    acd.set_ready("a", 0)
    out = acd.enqueue(ContactRequest(id="c2", channel=Channel.CHAT, queue_id="q"), 1)
    assert not any(isinstance(d, Offer) for d in out)
    assert acd.agent_snapshot("a").assigned == ("c1",)
    out = acd.release("c1", 2)
    assert any(isinstance(d, Offer) and d.contact_id == "c2" for d in out)
