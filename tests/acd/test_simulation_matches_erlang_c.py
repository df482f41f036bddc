"""The real ACD driven by a discrete-event simulation behaves like an M/M/N queue."""

import pytest

from hub.acd import average_speed_of_answer, erlang_c, simulate

AGENTS = 10
AHT = 60.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("occupancy", "duration_s"),
    [(0.7, 600_000.0), (0.8, 600_000.0), (0.9, 1_000_000.0)],
)
def test_simulated_wait_probability_and_asa_match_erlang_c(occupancy, duration_s):
    rate = occupancy * AGENTS / AHT
    expected_pw = erlang_c(rate * AHT, AGENTS)
    expected_asa = average_speed_of_answer(rate, AHT, AGENTS)
    # several independent seeds pooled: not one lucky run
    runs = [simulate(rate, AHT, AGENTS, duration_s, seed=seed, warmup_s=3_000.0)
            for seed in (11, 12, 13)]
    answered = sum(r.answered for r in runs)
    pw = sum(r.prob_wait * r.answered for r in runs) / answered
    asa = sum(r.asa_s * r.answered for r in runs) / answered
    assert abs(pw - expected_pw) < 0.02, (pw, expected_pw)
    assert abs(asa - expected_asa) / expected_asa < 0.10, (asa, expected_asa)
    assert sum(r.occupancy for r in runs) / 3 == pytest.approx(occupancy, abs=0.02)


def test_simulation_is_reproducible():
    a = simulate(0.1, 60, 8, 5_000, seed=3)
    b = simulate(0.1, 60, 8, 5_000, seed=3)
    assert a == b
    assert a.answered > 0
