"""Composition root: the hub plus its channel adapters. ``server.py`` and the tests use this."""

from __future__ import annotations

from typing import Any

from channels.email import EmailChannel
from channels.webchat import WebchatChannel
from hub.app import create_app
from hub.clock import Clock
from hub.config import Settings
from hub.demo import seed_demo


def build_app(settings: Settings, clock: Clock | None = None) -> Any:
    channels: list[Any] = [WebchatChannel(default_queue=settings.widget_default_queue)]
    if settings.email_enabled:
        channels.append(EmailChannel())
    return create_app(settings, channels=channels, clock=clock,
                      seed_demo=seed_demo if settings.demo else None)
