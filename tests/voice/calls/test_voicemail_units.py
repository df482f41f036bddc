"""The pure parts of voicemail: silence and speech bookkeeping on a given clock, the timeline kept
across RTP gaps, the node's new fields (validation, passed to the driver by the engine)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from voice.calls.voicemail import VoicemailRecording, beep_pcm
from voice.ivr import IvrSession
from voice.ivr.flow import Flow, VoicemailNode
from voice.ivr.model import RecordVoicemail


def recording(silence_s: float = 2.0, max_s: float = 30.0) -> VoicemailRecording:
    action = RecordVoicemail("general", max_s, silence_s=silence_s)
    rec = VoicemailRecording("vm1", SimpleNamespace(id="c1"), action, threshold=300.0)  # type: ignore[arg-type]
    rec.started_at = 100.0
    return rec


def tone(n: int = 160, amp: int = 3000) -> np.ndarray:
    return (amp * np.sin(np.arange(n) * 2 * np.pi * 440 / 8000)).astype(np.int16)


def test_silence_after_speech_ends_the_message_and_quiet_frames_are_not_speech() -> None:
    rec = recording(silence_s=2.0)
    ts = 0
    for i in range(100):  # 2 s of speech
        rec.add(tone(), ts, 100.0 + i * 0.02)
        ts += 160
    for i in range(50):  # 1 s of line noise under the threshold
        rec.add(tone(amp=50), ts, 102.0 + i * 0.02)
        ts += 160
    assert rec.speech_s == pytest.approx(2.0, abs=0.05)
    assert rec.duration_s == pytest.approx(3.0)
    assert rec.due(103.5) is None  # 1.52 s since the last speech
    assert rec.due(104.1) == "silence"


def test_no_rtp_at_all_counts_as_silence_and_max_length_wins() -> None:
    assert recording(silence_s=1.5).due(101.6) == "silence"
    assert recording(silence_s=0).due(129.9) is None  # 0: silence never ends it
    assert recording(silence_s=0, max_s=30).due(130.0) == "max_length"


def test_rtp_timestamp_gaps_become_silence_on_the_timeline() -> None:
    rec = recording()
    rec.add(tone(), 1000, 100.0)
    rec.add(tone(), 1000 + 160 + 800, 100.2)  # 100 ms suppressed
    assert rec.samples == 160 + 800 + 160
    pcm = rec.pcm()
    assert not pcm[160:960].any() and pcm[960:].any()
    rec.add(tone(), 10**9, 100.3)  # a new stream: no huge block of silence
    assert rec.samples == 160 + 800 + 160 + 160


def test_beep_is_short_and_loud() -> None:
    pcm = np.frombuffer(beep_pcm(), dtype="<i2")
    assert len(pcm) == 3200 and np.abs(pcm).max() > 10000


def test_voicemail_node_fields_are_validated_and_reach_the_driver() -> None:
    with pytest.raises(ValidationError, match="not an email address"):
        VoicemailNode(mailbox="general", notify_email=["nobody"])
    with pytest.raises(ValidationError, match="not a phone number"):
        VoicemailNode(mailbox="general", notify_sms=["call me"])
    flow = Flow.of({"name": "vm", "start": "vm", "nodes": {"vm": {
        "type": "voicemail", "mailbox": "billing", "queue_id": "general", "beep": False, "silence_s": 3,
        "notify_email": ["team@example.com "], "notify_sms": ["+86 138-0013-8000"]}}})
    out = IvrSession(flow, caller="+4930123", called="7100", now=0.0).start(0.0)
    (rec,) = [a for a in out if isinstance(a, RecordVoicemail)]
    assert (rec.mailbox, rec.queue_id, rec.beep, rec.silence_s) == ("billing", "general", False, 3.0)
    assert rec.notify_email == ("team@example.com",) and rec.notify_sms == ("+8613800138000",)
