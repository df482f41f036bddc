from hub.acd import AgentConfig, Channel, OfferRevoked, Strategy

from .helpers import build, contact, of_type, offers, queue, ready, serve


def test_longest_idle_offers_to_the_agent_idle_the_longest():
    acd = build(queue(strategy=Strategy.LONGEST_IDLE), agents="abc")
    ready(acd, "b", now=1)
    ready(acd, "a", now=2)
    ready(acd, "c", now=3)
    assert offers(acd.enqueue(contact("c1"), 10)) == [("c1", "b")]


def test_longest_idle_counts_idle_from_the_end_of_the_last_contact():
    acd = build(queue(strategy=Strategy.LONGEST_IDLE), agents="ab")
    ready(acd, "a", now=0)
    ready(acd, "b", now=1)
    acd.enqueue(contact("c1"), 2)  # -> a
    serve(acd, "c1", "a", 2, 3)  # a idle since 3, b since 1
    assert offers(acd.enqueue(contact("c2"), 4)) == [("c2", "b")]


def test_longest_idle_prefers_agents_without_load():
    acd = build(queue(strategy=Strategy.LONGEST_IDLE), agents="ab")
    ready(acd, "a", now=0)
    ready(acd, "b", now=5)
    acd.enqueue(contact("x1", channel=Channel.CHAT), 6)  # a (longest idle) takes a chat
    acd.accept("x1", "a", 6)
    assert offers(acd.enqueue(contact("x2", channel=Channel.CHAT), 7)) == [("x2", "b")]


def test_round_robin_rotates_the_start_position():
    acd = build(queue(strategy=Strategy.ROUND_ROBIN), agents="abc")
    ready(acd, "a", "b", "c")
    got = []
    for i in range(6):
        (cid, aid), = offers(acd.enqueue(contact(f"c{i}"), i + 1))
        got.append(aid)
        serve(acd, cid, aid, i + 1, i + 1.5)
    assert got == ["a", "b", "c", "a", "b", "c"]


def test_ring_all_offers_every_free_agent_and_first_accept_wins():
    acd = build(queue(strategy=Strategy.RING_ALL), agents="abc")
    ready(acd, "a", "b", "c")
    out = acd.enqueue(contact("c1"), 1)
    assert sorted(offers(out)) == [("c1", "a"), ("c1", "b"), ("c1", "c")]
    res = acd.accept("c1", "b", 2)
    assert res[0].agent_id == "b"
    revoked = of_type(res, OfferRevoked)
    assert sorted((r.agent_id, r.reason) for r in revoked) == [
        ("a", "accepted_elsewhere"),
        ("c", "accepted_elsewhere"),
    ]
    assert acd.agent_snapshot("a").offers == ()


def test_least_talk_time_picks_the_agent_with_least_handling_today():
    acd = build(queue(strategy=Strategy.LEAST_TALK_TIME), agents="ab")
    ready(acd, "a", now=0)
    acd.enqueue(contact("c1"), 1)
    serve(acd, "c1", "a", 1, 100)  # a talked 99 s
    ready(acd, "b", now=200)  # b idle for less time but no talk time
    acd.enqueue(contact("c2"), 201)
    serve(acd, "c2", "b", 201, 211)  # b talked 10 s, idle since 211 (a since 100)
    assert offers(acd.enqueue(contact("c3"), 300)) == [("c3", "b")]


def test_reset_daily_stats_clears_talk_time_and_handled_counts():
    acd = build(queue(strategy=Strategy.FEWEST_CONTACTS), agents="ab")
    ready(acd, "a", "b")
    acd.enqueue(contact("c1"), 1)
    serve(acd, "c1", "a", 1, 5)
    assert acd.agent_snapshot("a").contacts_handled == 1
    assert acd.agent_snapshot("a").talk_time_s == 4
    acd.reset_daily_stats()
    assert acd.agent_snapshot("a").contacts_handled == 0
    assert acd.agent_snapshot("a").talk_time_s == 0


def test_fewest_contacts_prefers_fewer_handled_over_longer_idle():
    acd = build(queue(strategy=Strategy.FEWEST_CONTACTS), agents="ab")
    ready(acd, "a", "b")
    acd.enqueue(contact("c1"), 1)
    serve(acd, "c1", "a", 1, 2)
    acd.enqueue(contact("c2"), 3)
    serve(acd, "c2", "b", 3, 4)
    acd.enqueue(contact("c3"), 5)
    serve(acd, "c3", "a", 5, 6)
    acd.enqueue(contact("c4"), 7)
    serve(acd, "c4", "b", 7, 8)
    acd.enqueue(contact("c5"), 9)
    serve(acd, "c5", "a", 9, 10)  # a: 3 handled, idle since 10; b: 2 handled, idle since 8
    acd.set_not_ready("b", "break", 11)
    acd.set_ready("b", 12)  # b idle since 12 now, a since 10 -> longest idle would pick a
    assert offers(acd.enqueue(contact("c6"), 13)) == [("c6", "b")]


def test_linear_always_hunts_from_the_top_of_the_member_list():
    acd = build(queue(members=("c", "a", "b"), strategy=Strategy.LINEAR), agents="abc")
    ready(acd, "a", "b", "c")
    for i in range(3):
        (cid, aid), = offers(acd.enqueue(contact(f"x{i}"), i + 1))
        assert aid == "c"
        serve(acd, cid, aid, i + 1, i + 1.5)


def test_random_is_reproducible_with_the_same_seed():
    def run(seed):
        acd = build(queue(members=tuple("abcdef"), strategy=Strategy.RANDOM),
                    agents="abcdef", seed=seed)
        ready(acd, *"abcdef")
        got = []
        for i in range(12):
            (cid, aid), = offers(acd.enqueue(contact(f"c{i}"), i + 1))
            got.append(aid)
            serve(acd, cid, aid, i + 1, i + 1.5)
        return got

    assert run(7) == run(7)
    assert len(set(run(7))) > 1
    assert run(7) != run(8) or run(7) != run(9)


def test_skills_best_match_picks_the_highest_level_sum():
    acd = build(
        queue(strategy=Strategy.SKILLS_BEST_MATCH, required_skills={"gas": 1, "en": 1}),
        agents=[
            AgentConfig("a", skills={"gas": 2, "en": 2}),
            AgentConfig("b", skills={"gas": 5, "en": 3}),
            AgentConfig("c", skills={"gas": 1, "en": 1, "fr": 9}),
        ],
    )
    ready(acd, "a", "b", "c")
    assert offers(acd.enqueue(contact("c1"), 1)) == [("c1", "b")]


def test_skills_best_match_ties_are_broken_by_longest_idle():
    acd = build(
        queue(strategy=Strategy.SKILLS_BEST_MATCH, required_skills={"gas": 1}),
        agents=[AgentConfig("a", skills={"gas": 3}), AgentConfig("b", skills={"gas": 3})],
    )
    ready(acd, "b", now=0)
    ready(acd, "a", now=1)
    assert offers(acd.enqueue(contact("c1"), 2)) == [("c1", "b")]
