"""The browser softphone's settings section (keys ``voice_webrtc_*``, ``HUB_VOICE_WEBRTC_*``;
docs/CONFIGURATION.md, "Voice: browser softphone")."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config import Section
from hub.errors import ConfigError


@dataclass(frozen=True)
class WebRtcSettings(Section):
    prefix = "voice_webrtc_"

    enabled: bool = True  # only with voice_enabled
    ice_servers: tuple[str, ...] = ()  # stun:/turn: URLs given to aiortc and the browsers
    lease_s: float = 60.0  # a desk softphone is online this long after its last renewal
    reconnect_s: float = 20.0  # a call whose softphone page went away waits this long for it

    def validate(self) -> None:
        if self.lease_s < 5 or self.reconnect_s < 0:
            raise ConfigError("settings 'voice_webrtc_lease_s' (at least 5 seconds) and "
                              "'voice_webrtc_reconnect_s' (at least 0) are out of range")
