"""The call service's event types (stored in the hub's event log with these strings)."""

from __future__ import annotations

from enum import StrEnum

from hub.events import register_event_types


class VoiceEventType(StrEnum):
    # transcripts.py (VOICE-6): a final transcript segment of one call leg (assist suggests FAQ
    # answers from the caller's; it names the string, components do not import one another)
    TRANSCRIPT_SEGMENT = "transcript.segment"
    # recordings.py (VOICE-5): a recording downloaded, old recordings purged (both in the audit trail)
    RECORDING_DOWNLOADED = "voice.recording_downloaded"
    RECORDINGS_PURGED = "voice.recordings_purged"
    # call_records.py: call records exported as CSV/XLSX (who, format, rows, filters; audit trail)
    CALLS_EXPORTED = "voice.calls_exported"


register_event_types(VoiceEventType,
                     audit=(VoiceEventType.RECORDING_DOWNLOADED, VoiceEventType.RECORDINGS_PURGED,
                            VoiceEventType.CALLS_EXPORTED))
