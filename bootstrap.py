"""Composition root: the hub plus its channel adapters. ``server.py`` and the tests use this."""

from __future__ import annotations

from typing import Any

from assist.component import AssistComponent
from channels.email import EmailChannel
from channels.fax import FaxChannel
from channels.sms import SmsChannel
from channels.webchat import WebchatChannel
from hub.app import create_app
from hub.clock import Clock
from hub.config import Settings
from hub.demo import seed_demo
from kb.component import KnowledgeBaseComponent
from voice.calls import VoiceComponent
from voice.ivr.component import IvrComponent
from voice.webrtc import WebRtcComponent
from workflows.component import WorkflowsComponent


def build_app(settings: Settings, clock: Clock | None = None) -> Any:
    channels: list[Any] = [WebchatChannel(default_queue=settings.widget_default_queue)]
    if settings.kb_enabled:  # first: others use services.extras["kb"] when they start
        channels.insert(0, KnowledgeBaseComponent())
    if settings.email_enabled:
        channels.append(EmailChannel())
    channels.append(IvrComponent())  # IVR flows for the call service (services.extras["ivr"])
    channels.append(VoiceComponent())  # SIP/RTP only when settings.voice_enabled
    channels.append(WebRtcComponent())  # after voice: the browser softphone (extras["softphone"])
    channels.append(AssistComponent())  # after kb: suggestions, the widget bot (extras["assist"])
    channels.append(WorkflowsComponent())  # tickets, SLA, work orders, rules (extras["workflows"])
    if settings.sms_enabled:  # after workflows: registers the SMS customer notification there
        channels.append(SmsChannel())
    if settings.fax_enabled:  # fax-to-email: hooks into the email ingestor (extras["fax_intake"])
        channels.append(FaxChannel())
    return create_app(settings, channels=channels, clock=clock,
                      seed_demo=seed_demo if settings.demo else None)
