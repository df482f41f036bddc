"""Media for calls: RTP endpoints, G.711, RFC 4733 DTMF, paced prompt playback, relay between two
legs and two-channel recording.

- :mod:`voice.media.rtp` – RTP packets and RFC 4733 telephone events as values.
- :mod:`voice.media.g711` – payload types, silence bytes, µ-law ↔ A-law byte tables, decoding.
- :mod:`voice.media.prompts` – WAV prompt files cut into 20 ms G.711 frames (cached).
- :mod:`voice.media.recorder` – a call recording: caller and "heard by the caller" channels on
  one timeline, written as a stereo WAV.
- :mod:`voice.media.leg` – one RTP leg (asyncio datagram endpoint): receive, DTMF, relay to a
  peer leg, play a prompt, per-leg PCM subscriptions (``MediaLeg.subscribe_pcm``).
- :mod:`voice.media.engine` – port allocation and the one 20 ms pacing task for all legs.

Own asyncio RTP rather than ``aiortp``: on this machine a raw asyncio loop carried 200 two-way
G.711 calls at about 28 % of a core against 53 % for aiortp (PEERS.md), and a call hub relays most
packets untouched, so the per-packet path here is a header rewrite and a ``sendto``.
"""

from voice.media.engine import MediaEngine
from voice.media.leg import MediaLeg
from voice.media.recorder import CallRecorder

__all__ = ["CallRecorder", "MediaEngine", "MediaLeg"]
