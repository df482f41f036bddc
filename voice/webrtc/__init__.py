"""The browser softphone (VOICE-4) and supervisor monitoring (SUP-1) over WebRTC (aiortc).

:class:`~voice.webrtc.component.WebRtcComponent` plugs it in; aiortc is only imported when the
component starts with ``voice_enabled`` and ``voice_webrtc_enabled`` on.
"""

from voice.webrtc.component import WebRtcComponent

__all__ = ["WebRtcComponent"]
