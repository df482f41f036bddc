import math

import pytest

from hub.acd import (
    agents_required,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)


def erlang_c_closed_form(a: float, n: int) -> float:
    """The textbook formula with factorials, independent of the iterative one."""
    top = a**n / math.factorial(n) * n / (n - a)
    bottom = sum(a**k / math.factorial(k) for k in range(n)) + top
    return top / bottom


def test_textbook_value_10_erlangs_11_agents():
    assert erlang_c(10, 11) == pytest.approx(0.6821, abs=5e-5)


@pytest.mark.parametrize(("a", "n"), [(1, 2), (2.5, 3), (7, 10), (9, 10), (10, 11), (20, 25),
                                      (45.5, 50), (99, 110)])
def test_iterative_erlang_c_matches_closed_form(a, n):
    assert erlang_c(a, n) == pytest.approx(erlang_c_closed_form(a, n), rel=1e-10)


def test_erlang_b_textbook_value():
    assert erlang_b(10, 10) == pytest.approx(0.2146, abs=5e-5)


def test_erlang_c_is_stable_for_large_systems():
    p = erlang_c(950, 1000)
    assert 0 < p < 1
    assert erlang_c(0, 5) == 0.0
    assert erlang_c(12, 10) == 1.0


def test_asa_and_service_level_classic_call_centre_example():
    # 100 calls per half hour, 180 s AHT -> 10 Erlang; 11 agents
    rate = 100 / 1800
    assert average_speed_of_answer(rate, 180, 11) == pytest.approx(0.6821 * 180 / 1, rel=1e-3)
    sl = service_level(rate, 180, 11, 20)
    assert sl == pytest.approx(1 - 0.6821 * math.exp(-1 * 20 / 180), abs=1e-4)
    assert service_level(rate, 180, 14, 20) > 0.8 > service_level(rate, 180, 12, 20)


def test_agents_required_for_80_20():
    rate = 100 / 1800
    n = agents_required(rate, 180, target_s=20, target_sl=0.8)
    assert service_level(rate, 180, n, 20) >= 0.8
    assert service_level(rate, 180, n - 1, 20) < 0.8
    assert n == 14  # SL(13) = 0.7956, SL(14) = 0.8884


def test_agents_required_honours_max_occupancy():
    rate = 100 / 1800
    assert agents_required(rate, 180, 20, 0.5, max_occupancy=0.5) >= 20
    assert agents_required(0, 180, 20, 0.8) == 0


def test_unstable_queue_has_infinite_asa_and_zero_service_level():
    assert average_speed_of_answer(1, 10, 10) == math.inf
    assert service_level(1, 10, 10, 20) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_c(-1, 3),
        lambda: erlang_c(1, -3),
        lambda: erlang_c(1, 2.5),
        lambda: erlang_c(float("nan"), 3),
        lambda: average_speed_of_answer(1, 0, 3),
        lambda: service_level(1, 10, 3, -1),
        lambda: agents_required(1, 10, 20, 1.5),
        lambda: agents_required(1, 10, 20, 0.8, max_occupancy=0),
    ],
)
def test_invalid_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
