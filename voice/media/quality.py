"""Receive quality of one RTP leg (RFC 3550 section 6.4.1 and appendix A.1/A.8): packets expected
and lost from the extended highest sequence number, and the interarrival jitter.

Pure arithmetic on the header fields the receive path already unpacked, called once per packet
(a handful of integer and float operations: no allocation). A new SSRC starts a new source; the
counts of the sources before it are kept, so a re-INVITE to another sender does not reset the
call's totals. Duplicates count as received, so ``lost`` is clamped at zero as RFC 3550 allows.
"""

from __future__ import annotations

__all__ = ["RxQuality"]

_WRAP = 1 << 32
_HALF = 1 << 31


class RxQuality:
    __slots__ = ("rate", "ssrc", "base_seq", "max_seq", "cycles", "received", "transit", "jitter",
                 "_prior_expected", "_prior_received")

    def __init__(self, rate: int = 8000) -> None:
        self.rate = rate  # RTP clock of the audio (G.711: 8000 Hz)
        self.ssrc: int | None = None
        self.base_seq = self.max_seq = self.cycles = self.received = 0
        self.transit: float | None = None
        self.jitter = 0.0  # in timestamp units, as RFC 3550 A.8 keeps it
        self._prior_expected = self._prior_received = 0

    def packet(self, ssrc: int, seq: int, ts: int, now: float, audio: bool = True) -> None:
        """One received packet: ``now`` in seconds; ``audio`` False for RFC 4733 events, which
        share the sequence space but repeat one timestamp (no jitter sample)."""
        if ssrc != self.ssrc:
            if self.ssrc is not None:
                self._prior_expected += self._expected()
                self._prior_received += self.received
            self.ssrc, self.base_seq, self.max_seq, self.cycles, self.received = ssrc, seq, seq, 0, 1
            self.transit = now * self.rate - ts if audio else None
            return
        self.received += 1
        if (seq - self.max_seq) & 0xFFFF < 0x8000:  # in order (a late packet is only counted)
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
        if audio:
            transit = now * self.rate - ts
            last = self.transit
            self.transit = transit
            if last is not None:
                d = transit - last
                if d > _HALF:
                    d -= _WRAP
                elif d < -_HALF:
                    d += _WRAP
                if d < 0:
                    d = -d
                self.jitter += (d - self.jitter) / 16

    def _expected(self) -> int:
        return self.cycles + self.max_seq - self.base_seq + 1 if self.ssrc is not None else 0

    @property
    def expected(self) -> int:
        return self._prior_expected + self._expected()

    @property
    def lost(self) -> int:
        return max(0, self.expected - self._prior_received - self.received)

    def public(self) -> dict[str, float | int]:
        expected = self.expected
        lost = self.lost
        return {"packets": self._prior_received + self.received, "expected": expected, "lost": lost,
                "loss_pct": round(100.0 * lost / expected, 2) if expected else 0.0,
                "jitter_ms": round(1000.0 * self.jitter / self.rate, 2)}
