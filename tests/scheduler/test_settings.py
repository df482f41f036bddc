"""Scheduler settings: read from the environment, checked at start, handed to the service."""

from __future__ import annotations

import pytest

from bootstrap import load_settings
from hub.errors import ConfigError


def test_scheduler_settings_come_from_the_environment() -> None:
    s = load_settings(environ={"HUB_SCHEDULER_POLL_INTERVAL_S": "0.25", "HUB_SCHEDULER_LEASE_S": "30",
                               "HUB_SCHEDULER_HANDLER_TIMEOUT_S": "10", "HUB_SCHEDULER_MAX_ATTEMPTS": "3"})
    assert (s.scheduler_poll_interval_s, s.scheduler_lease_s, s.scheduler_handler_timeout_s,
            s.scheduler_max_attempts) == (0.25, 30.0, 10.0, 3)


@pytest.mark.parametrize("env, message", [
    ({"HUB_SCHEDULER_POLL_INTERVAL_S": "0"}, "scheduler_poll_interval_s"),
    ({"HUB_SCHEDULER_LEASE_S": "30", "HUB_SCHEDULER_HANDLER_TIMEOUT_S": "60"}, "scheduler_lease_s"),
    ({"HUB_SCHEDULER_MAX_ATTEMPTS": "0"}, "scheduler_max_attempts"),
    ({"HUB_SCHEDULER_LEASE_S": "soon"}, "HUB_SCHEDULER_LEASE_S"),
])
def test_bad_scheduler_settings_stop_the_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_clock_start_needs_an_iso_time_with_an_offset() -> None:
    s = load_settings(environ={"HUB_CLOCK_START": "2026-05-08T16:55:00+02:00"})
    assert s.clock_start_epoch == 1778252100.0
    with pytest.raises(ConfigError, match="clock_start"):
        load_settings(environ={"HUB_CLOCK_START": "friday"})
    with pytest.raises(ConfigError, match="UTC offset"):
        load_settings(environ={"HUB_CLOCK_START": "2026-05-08T16:55:00"})
