"""Composition root: the hub plus its channel adapters. ``server.py`` and the tests use this."""

from __future__ import annotations

import dataclasses
from typing import Any

from assist.component import AssistComponent
from channels.webchat import WebchatChannel
from hub import __version__
from hub.app import Channel, create_app
from hub.clock import Clock
from hub.config import Settings
from hub.demo import seed_demo
from voice.calls import VoiceComponent
from voice.ivr.component import IvrComponent
from voice.webrtc import WebRtcComponent
from workflows.component import WorkflowsComponent


def components(settings: Settings) -> list[Channel]:
    """The components the settings turn on. They start in the order their declarations make (each
    says which ports it ``provides`` and ``uses``, hub/ports.py): this list's order does not
    matter. A component the settings turn off is not even imported."""
    channels: list[Channel] = []
    if settings.kb_enabled:
        from kb.component import KnowledgeBaseComponent

        channels.append(KnowledgeBaseComponent())
    channels.append(WebchatChannel(default_queue=settings.widget_default_queue))
    if settings.email_enabled:
        from channels.email import EmailChannel

        channels.append(EmailChannel())
    channels.append(IvrComponent())
    channels.append(VoiceComponent())  # SIP/RTP only when settings.voice_enabled
    channels.append(WebRtcComponent())  # the browser softphone, when voice_webrtc_enabled too
    channels.append(AssistComponent())  # suggestions, the widget bot
    channels.append(WorkflowsComponent())  # tickets, SLA, work orders, rules
    if settings.sms_enabled:
        from channels.sms import SmsChannel

        channels.append(SmsChannel())
    if settings.fax_enabled:
        from channels.fax import FaxChannel

        channels.append(FaxChannel())
    return channels


def build_app(settings: Settings, clock: Clock | None = None) -> Any:
    return create_app(settings, channels=components(settings), clock=clock,
                      seed_demo=seed_demo if settings.demo else None)


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """``/api/openapi.json`` of the app with every component turned on, built without starting it
    (no database, no sockets): what the web UI's API types are generated from (web/README.md)."""
    base = settings or Settings()
    every = dataclasses.replace(base, kb_enabled=True, email_enabled=True, sms_enabled=True,
                                fax_enabled=True, voice_enabled=True, voice_webrtc_enabled=True)
    app = build_app(every)
    doc: dict[str, Any] = app.other_asgi_app.state.api.openapi("Contact hub API", __version__)
    return doc
