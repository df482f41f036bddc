"""Composition root: the hub plus its channel adapters. ``server.py`` and the tests use this."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from assist.component import AssistComponent
from assist.settings import AssistSettings
from channels.email.settings import EmailSettings
from channels.fax.settings import FaxSettings
from channels.sms.settings import SmsSettings
from channels.webchat import WebchatChannel
from hub import __version__, config
from hub.app import Channel, create_app
from hub.clock import Clock
from hub.config import Section, Settings
from hub.demo import seed_demo
from kb.settings import KbSettings
from voice.calls import VoiceComponent
from voice.calls.settings import VoiceSettings
from voice.ivr.component import IvrComponent
from voice.ivr.settings import IvrSettings, TtsSettings
from voice.webrtc import WebRtcComponent
from voice.webrtc.settings import WebRtcSettings
from workflows.component import WorkflowsComponent
from workflows.settings import WorkflowsSettings

# The components' settings sections (each declared and validated in its component's
# ``settings.py``; docs/CONFIGURATION.md). A section module imports only the hub's public modules,
# so a component the settings turn off is still not imported.
SECTIONS: tuple[type[Section], ...] = (EmailSettings, SmsSettings, FaxSettings, KbSettings, AssistSettings,
                                       VoiceSettings, WebRtcSettings, IvrSettings, TtsSettings,
                                       WorkflowsSettings)


def load_settings(config_file: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """``hub.config.load_settings`` with every component's section: flat keys (``email_port``)
    from the TOML file, ``HUB_*`` environment and keyword overrides."""
    return config.load_settings(config_file, environ, sections=SECTIONS, **overrides)


def components(settings: Settings) -> list[Channel]:
    """The components the settings turn on. They start in the order their declarations make (each
    says which ports it ``provides`` and ``uses``, hub/ports.py): this list's order does not
    matter. A component the settings turn off is not even imported."""
    channels: list[Channel] = []
    kb = settings.section(KbSettings)
    if kb.enabled:
        from kb.component import KnowledgeBaseComponent

        channels.append(KnowledgeBaseComponent())
    channels.append(WebchatChannel(default_queue=settings.widget_default_queue))
    if settings.section(EmailSettings).enabled:
        from channels.email.adapter import EmailChannel

        channels.append(EmailChannel())
    channels.append(IvrComponent())
    channels.append(VoiceComponent())  # SIP/RTP only when settings.voice_enabled
    channels.append(WebRtcComponent())  # the browser softphone, when voice_webrtc_enabled too
    # suggestions, the widget bot; the KB's model for category suggestions while the KB is off
    channels.append(AssistComponent(model_dir=kb.model_dir, multilingual=kb.model_multilingual))
    channels.append(WorkflowsComponent())  # tickets, SLA, work orders, rules
    if settings.section(SmsSettings).enabled:
        from channels.sms.adapter import SmsChannel

        channels.append(SmsChannel())
    if settings.section(FaxSettings).enabled:
        from channels.fax.adapter import FaxChannel

        channels.append(FaxChannel())
    return channels


def build_app(settings: Settings, clock: Clock | None = None) -> Any:
    return create_app(settings, channels=components(settings), clock=clock,
                      seed_demo=seed_demo if settings.demo else None)


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """``/api/openapi.json`` of the app with every component turned on, built without starting it
    (no database, no sockets): what the web UI's API types are generated from (web/README.md)."""
    base = settings or Settings()
    every = base.with_sections(dataclasses.replace(base.section(KbSettings), enabled=True),
                               dataclasses.replace(base.section(EmailSettings), enabled=True),
                               dataclasses.replace(base.section(SmsSettings), enabled=True),
                               dataclasses.replace(base.section(FaxSettings), enabled=True),
                               dataclasses.replace(base.section(VoiceSettings), enabled=True),
                               dataclasses.replace(base.section(WebRtcSettings), enabled=True))
    app = build_app(every)
    doc: dict[str, Any] = app.other_asgi_app.state.api.openapi("Contact hub API", __version__)
    return doc
