"""Voice (VOICE-1..8): SIP, RTP, IVR, recording, ASR and TTS. Talks to the hub through its
services and events like every channel (docs/ARCHITECTURE.md)."""
