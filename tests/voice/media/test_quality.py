"""Receive quality arithmetic (RFC 3550 A.1 loss, A.8 jitter) on hand-made packet sequences."""

from __future__ import annotations

from voice.media.quality import RxQuality


def feed(q: RxQuality, packets: list[tuple[int, int, float]], ssrc: int = 7) -> None:
    for seq, ts, now in packets:
        q.packet(ssrc, seq, ts, now)


def test_steady_stream_has_no_loss_and_no_jitter():
    q = RxQuality()
    feed(q, [(100 + i, 160 * i, 10 + 0.02 * i) for i in range(50)])
    assert q.public() == {"packets": 50, "expected": 50, "lost": 0, "loss_pct": 0.0, "jitter_ms": 0.0}


def test_gaps_count_as_lost_across_the_sequence_wrap_and_late_packets_are_not():
    q = RxQuality()
    seqs = [65530, 65531, 65533, 65535, 0, 1, 4, 3, 5]  # 65532, 65534, 2 never come; 3 comes late
    feed(q, [(s, 160 * i, 0.02 * i) for i, s in enumerate(seqs)])
    assert q.expected == 65536 + 5 - 65530 + 1 and q.lost == 3
    assert q.public()["loss_pct"] == round(100 * 3 / 12, 2)


def test_jitter_follows_the_rfc_3550_estimator():
    q = RxQuality()
    # every other packet arrives 10 ms late: |D| = 80 timestamp units for each pair after the first
    feed(q, [(i, 160 * i, 0.02 * i + (0.01 if i % 2 else 0.0)) for i in range(400)])
    assert abs(q.jitter - 80) < 0.5 and abs(q.public()["jitter_ms"] - 10.0) < 0.1


def test_events_share_the_sequence_space_without_jitter_samples_and_a_new_ssrc_keeps_totals():
    q = RxQuality()
    q.packet(1, 10, 0, 0.0)
    q.packet(1, 11, 0, 0.5, audio=False)  # an RFC 4733 event: same timestamp, half a second later
    q.packet(1, 12, 160, 0.02)
    assert q.lost == 0 and q.jitter == 0.0
    feed(q, [(500, 0, 1.0), (502, 320, 1.04)], ssrc=2)  # a re-INVITE to another sender, one lost
    assert q.public()["packets"] == 5 and q.expected == 6 and q.lost == 1
