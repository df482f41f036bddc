from hub.acd import AgentConfig, OverflowStep

from .helpers import build, contact, offers, queue, ready


def test_agent_without_required_level_is_not_offered():
    acd = build(
        queue(required_skills={"gas": 3}),
        agents=[AgentConfig("a", skills={"gas": 2}), AgentConfig("b", skills={"gas": 3})],
    )
    ready(acd, "a", now=0)
    assert offers(acd.enqueue(contact("c1"), 1)) == []
    assert offers(ready(acd, "b", now=2)) == [("c1", "b")]


def test_contact_requirements_merge_with_the_queue_ones_higher_level_wins():
    acd = build(
        queue(required_skills={"gas": 1}),
        agents=[
            AgentConfig("a", skills={"gas": 5}),
            AgentConfig("b", skills={"gas": 2, "fr": 1}),
            AgentConfig("c", skills={"gas": 1, "fr": 3}),
        ],
    )
    ready(acd, "a", "b", "c")
    out = acd.enqueue(contact("c1", required_skills={"fr": 2, "gas": 1}), 1)
    assert offers(out) == [("c1", "c")]


def test_overflow_step_drops_a_skill_after_the_wait_and_tick_routes_the_contact():
    acd = build(
        queue(
            required_skills={"gas": 1},
            overflow_steps=(OverflowStep(after_s=30, relax_skills=frozenset({"fr"})),),
        ),
        agents=[AgentConfig("a", skills={"gas": 1, "en": 1})],
    )
    ready(acd, "a")
    assert offers(acd.enqueue(contact("c1", required_skills={"fr": 1}), 10)) == []
    assert acd.next_deadline() == 40
    assert acd.tick(39.9) == []
    assert offers(acd.tick(40)) == [("c1", "a")]


def test_overflow_step_lowers_levels_cumulatively():
    acd = build(
        queue(
            required_skills={"gas": 5},
            overflow_steps=(
                OverflowStep(after_s=10, level_delta=1),
                OverflowStep(after_s=20, level_delta=2),
            ),
        ),
        agents=[AgentConfig("a", skills={"gas": 2})],
    )
    ready(acd, "a")
    acd.enqueue(contact("c1"), 0)
    assert offers(acd.tick(10)) == []  # needs 4
    assert offers(acd.tick(20)) == [("c1", "a")]  # needs 5 - 3 = 2


def test_restored_contact_gets_the_relaxation_it_already_earned():
    acd = build(
        queue(overflow_steps=(OverflowStep(after_s=30, relax_skills=frozenset({"fr"})),)),
        agents=[AgentConfig("a", skills={})],
    )
    ready(acd, "a", now=100)
    out = acd.enqueue(contact("c1", required_skills={"fr": 1}, enqueued_at=50), 100)
    assert offers(out) == [("c1", "a")]


def test_agent_skill_update_makes_waiting_contact_servable():
    acd = build(queue(required_skills={"meter": 2}), agents=[AgentConfig("a", skills={})])
    ready(acd, "a")
    acd.enqueue(contact("c1"), 1)
    out = acd.configure_agent(AgentConfig("a", skills={"meter": 2}), now=2)
    assert offers(out) == [("c1", "a")]
