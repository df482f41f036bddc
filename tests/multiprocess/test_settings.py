"""``redis_url`` turns several-process mode on; it is refused without PostgreSQL."""

from __future__ import annotations

import pytest

from bootstrap import load_settings
from hub.errors import ConfigError

PG = "postgresql+asyncpg://hub@127.0.0.1:5432/hub"


def test_redis_url_needs_a_redis_scheme_and_postgresql() -> None:
    assert load_settings(environ={}).redis_url == ""  # make run: one process, no Redis
    s = load_settings(environ={"HUB_REDIS_URL": "redis://127.0.0.1:6379/0", "HUB_DATABASE_URL": PG})
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError, match="redis://"):
        load_settings(environ={"HUB_REDIS_URL": "http://127.0.0.1:6379", "HUB_DATABASE_URL": PG})
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_settings(environ={"HUB_REDIS_URL": "redis://127.0.0.1:6379/0"})
