import pytest

from hub.acd import (
    AcdError,
    AgentConfig,
    Channel,
    ContactRequest,
    OverflowStep,
    OverflowTarget,
    QueueConfig,
)

from .helpers import build, contact, queue, ready


def world():
    acd = build(queue(members=("a", "b")), agents="ab")
    ready(acd, "a")
    acd.enqueue(contact("offered"), 1)  # -> a
    acd.enqueue(contact("waiting"), 2)
    return acd


def state(acd):
    return (
        acd.queue_snapshot("q", 10),
        acd.agent_snapshot("a"),
        acd.agent_snapshot("b"),
        acd.waiting_contacts("q"),
        [acd.contact_location(c) for c in ("offered", "waiting")],
        acd.next_deadline(),
    )


CASES = [
    ("offer_not_found", lambda acd: acd.accept("waiting", "a", 3)),
    ("offer_not_found", lambda acd: acd.accept("offered", "b", 3)),
    ("offer_not_found", lambda acd: acd.reject("waiting", "b", 3)),
    ("unknown_agent", lambda acd: acd.accept("offered", "zz", 3)),
    ("unknown_agent", lambda acd: acd.set_ready("zz", 3)),
    ("unknown_contact", lambda acd: acd.accept("nope", "a", 3)),
    ("unknown_contact", lambda acd: acd.release("nope", 3)),
    ("unknown_contact", lambda acd: acd.abandon("nope", 3)),
    ("unknown_queue", lambda acd: acd.enqueue(contact("n", queue="zz"), 3)),
    ("unknown_queue", lambda acd: acd.queue_snapshot("zz", 3)),
    ("unknown_queue", lambda acd: acd.remove_queue("zz")),
    ("invalid_state", lambda acd: acd.release("waiting", 3)),
    ("invalid_state", lambda acd: acd.transfer("waiting", 3, queue_id="q")),
    ("invalid_state", lambda acd: acd.enqueue(contact("waiting"), 3)),
    ("invalid_state", lambda acd: acd.end_wrapup("a", 3)),
    ("invalid_state", lambda acd: acd.remove_queue("q")),
    ("invalid_state", lambda acd: acd.remove_agent("a")),
]


@pytest.mark.parametrize(("code", "call"), CASES)
def test_bad_calls_raise_with_stable_code_and_change_nothing(code, call):
    acd = world()
    before = state(acd)
    with pytest.raises(AcdError) as info:
        call(acd)
    assert info.value.code == code
    assert state(acd) == before


def test_set_ready_of_logged_out_agent_is_invalid_state():
    acd = world()
    with pytest.raises(AcdError) as info:
        acd.set_ready("b", 3)
    assert info.value.code == "invalid_state"


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("unknown_queue", {"queue_id": "zz"}),
        ("unknown_agent", {"agent_id": "zz"}),
        ("invalid_state", {}),
    ],
)
def test_bad_transfer_of_assigned_contact_changes_nothing(code, target):
    acd = world()
    acd.accept("offered", "a", 3)
    before = state(acd)
    with pytest.raises(AcdError) as info:
        acd.transfer("offered", 4, **target)
    assert info.value.code == code
    assert state(acd) == before


def test_removing_idle_agent_and_empty_queue_works():
    acd = build(queue(qid="q9"), agents="x")
    acd.remove_agent("x")
    acd.remove_queue("q9")
    assert acd.agent_ids() == [] and acd.queue_ids() == []


@pytest.mark.parametrize(
    "factory",
    [
        lambda: QueueConfig(id="q", name="q", offer_timeout_s=0),
        lambda: QueueConfig(id="q", name="q", members=("a", "a")),
        lambda: QueueConfig(id="q", name="q", required_skills={"gas": -1}),
        lambda: OverflowStep(after_s=-1),
        lambda: OverflowTarget("queue"),
        lambda: OverflowTarget("teleport"),  # type: ignore[arg-type]
        lambda: AgentConfig(id="a", capacity={Channel.CHAT: -1}),
        lambda: ContactRequest(id="c", channel="pigeon", queue_id="q"),  # type: ignore[arg-type]
    ],
)
def test_invalid_configuration_is_rejected(factory):
    with pytest.raises(ValueError):
        factory()
