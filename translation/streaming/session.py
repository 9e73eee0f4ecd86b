"""One live session's state: ingest → utterances, and results back in `seq` order.

Synchronous and free of I/O, so the consumer stays a thin async shell and this is testable on
its own. All of it runs on the event loop: it must stay cheap (a 20 ms frame costs a resample
and at most one VAD window).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from django.conf import settings

from translation.audio.pcm import AudioFormatError, PcmStream
from translation.audio.segmenter import Utterance, UtteranceSegmenter
from translation.audio.turn import shared_judge
from translation.events import AudioEnd, AudioPiece, SessionEvent, UtteranceFailed
from translation.streaming.protocol import ProtocolError, SessionConfig, parse_control

# More utterances than this waiting for results: the client is sending faster than the
# workers translate; further utterances are refused with an error instead of piling up.
MAX_IN_FLIGHT = 32


@dataclass
class PendingUtterance:
    seq: int
    utterance: Utterance
    config: SessionConfig
    timings: dict[str, float]


@dataclass
class LiveSession:
    """Audio in, utterances out, results re-ordered by seq."""

    config: SessionConfig | None = None
    stream: PcmStream | None = None
    segmenter: UtteranceSegmenter = field(default_factory=lambda: new_segmenter())
    next_seq: int = 0
    next_to_send: int = 0
    held: dict[int, list[SessionEvent]] = field(default_factory=dict)
    headed: set[int] = field(default_factory=set)  # seqs whose result (or error) came
    ended: set[int] = field(default_factory=set)  # ... and whose audio has ended
    pieces: dict[int, int] = field(default_factory=dict)  # audio pieces accepted per seq
    attempts: dict[int, int | None] = field(default_factory=dict)  # the task run whose result came
    deadlines: dict[int, float] = field(default_factory=dict)
    timeouts: dict[int, float] = field(default_factory=dict)
    last_frame_at: float = field(default_factory=time.monotonic)
    warned_no_control: bool = False
    submit_ms: dict[int, float] = field(default_factory=dict)
    max_loop_lag_ms: float = 0.0

    # --- client → server -----------------------------------------------------------------------

    def configure(self, raw: str) -> tuple[SessionConfig, list[PendingUtterance]]:
        """Apply a control message. An utterance in progress is ended first, under the old
        settings, so a mode change never splits a sentence between two directions."""
        config = parse_control(raw)
        ended = self.flush("control") if self.config is not None else []
        if (
            self.stream is None
            or self.config is None
            or (
                self.config.sample_rate,
                self.config.channels,
            )
            != (
                config.sample_rate,
                config.channels,
            )
        ):
            self.stream = PcmStream(
                config.sample_rate, config.channels, max_frame_bytes=settings.MAX_FRAME_BYTES
            )
        self.config = config
        self.warned_no_control = False
        return config, ended

    def ingest(self, frame: bytes) -> list[PendingUtterance]:
        """One binary frame. Raises ProtocolError/AudioFormatError for a frame to drop."""
        if self.config is None or self.stream is None:
            raise ProtocolError("send a control message (JSON) before audio frames")
        audio = self.stream.feed(frame)  # validates the frame against MAX_FRAME_BYTES
        self.last_frame_at = time.monotonic()
        return [self._pending(u) for u in self.segmenter.feed(audio)]

    def flush(self, reason: str = "flush") -> list[PendingUtterance]:
        utterance = self.segmenter.flush(reason)
        return [self._pending(utterance)] if utterance is not None else []

    def idle_due(self, now: float) -> bool:
        """No frame for the silence window while speech is open: end the utterance."""
        silence_s = settings.UTTERANCE_SILENCE_MS / 1000.0
        return self.segmenter.has_speech and now - self.last_frame_at >= silence_s

    def _pending(self, utterance: Utterance) -> PendingUtterance:
        seq = self.next_seq
        self.next_seq += 1
        assert self.config is not None
        endpoint_ms = 0.0
        if utterance.reason in ("silence", "pause", "turn"):
            endpoint_ms = (self.segmenter.stream_time_s - utterance.speech_end_s) * 1000.0
        elif utterance.reason == "idle":
            endpoint_ms = (time.monotonic() - self.last_frame_at) * 1000.0
        timings = {
            "endpoint_ms": round(endpoint_ms, 2),
            "audio_s": round(utterance.duration_s, 3),
            "loop_lag_ms": round(self.max_loop_lag_ms, 2),
        }
        self.max_loop_lag_ms = 0.0
        return PendingUtterance(seq, utterance, self.config, timings)

    # --- server → client -----------------------------------------------------------------------
    #
    # Per seq the worker sends a head (`UtteranceResult`, or `UtteranceFailed`), then for a
    # result zero or more `AudioPiece`s and an `AudioEnd`. The seq being delivered streams
    # through at once; later seqs wait here until it has ended, so the client sees each seq
    # whole and in order. An error ends its seq by itself.

    @property
    def in_flight(self) -> int:
        return self.next_seq - self.next_to_send

    def expect(self, seq: int, timeout_s: float, *, submit_ms: float | None = None) -> None:
        """A submitted utterance whose result must come back within `timeout_s`."""
        self.deadlines[seq] = time.monotonic() + timeout_s
        self.timeouts[seq] = timeout_s
        if submit_ms is not None:
            self.submit_ms[seq] = submit_ms

    def note_loop_lag(self, lag_ms: float) -> None:
        """The worst event-loop delay seen during the current utterance (reported with it)."""
        self.max_loop_lag_ms = max(self.max_loop_lag_ms, lag_ms)

    def accept(self, event: SessionEvent) -> list[SessionEvent]:
        """Take a worker's event for a seq (head, audio piece or end); return the events now
        deliverable, in order."""
        seq = event.seq
        if seq < self.next_to_send or seq in self.ended:
            return []  # late (already timed out or ended) or duplicate
        if isinstance(event, AudioPiece | AudioEnd):
            if seq not in self.headed or event.attempt != self.attempts.get(seq):
                return []  # no result before it, or another run of the task (redelivered)
            if isinstance(event, AudioEnd):
                return self._end(seq, event)
            self.pieces[seq] = self.pieces.get(seq, 0) + 1
            self._refresh_deadline(seq)
            return self._hold(seq, event)
        if seq in self.headed:
            return []  # a second head: duplicate
        self.headed.add(seq)
        self.attempts[seq] = event.attempt
        if seq in self.submit_ms:
            event = dataclasses.replace(event, submit_ms=self.submit_ms.pop(seq))
        if isinstance(event, UtteranceFailed):  # an error ends its seq
            self.deadlines.pop(seq, None)
            self.ended.add(seq)
            return self._hold(seq, event)
        self._refresh_deadline(seq)
        return self._hold(seq, event)

    def expire(self, now: float) -> list[SessionEvent]:
        """Seqs overdue by RESULT_TIMEOUT_S are ended (an error, or an audio end saying the
        rest did not come), so later ones are not held back."""
        ready: list[SessionEvent] = []
        for seq, deadline in sorted(self.deadlines.items()):
            if now < deadline:
                continue
            if seq in self.headed:
                ready += self._end(
                    seq,
                    AudioEnd(
                        seq=seq,
                        pieces=self.pieces.get(seq, 0),
                        attempt=self.attempts.get(seq),
                        error="the rest of this translation's audio did not arrive in time "
                        "(the worker may have stopped while speaking it)",
                    ),
                )
            else:
                ready += self.accept(
                    UtteranceFailed(
                        seq=seq,
                        error="no result in time: the translation worker may be down or "
                        "overloaded (check the worker and Flower)",
                    )
                )
        return ready

    def _refresh_deadline(self, seq: int) -> None:
        """While a result's audio keeps coming, it is not overdue."""
        if seq in self.deadlines:
            self.deadlines[seq] = time.monotonic() + self.timeouts.get(seq, 0.0)

    def _end(self, seq: int, event: AudioEnd) -> list[SessionEvent]:
        """The end of a result's audio, counting the pieces that really passed through here."""
        self.deadlines.pop(seq, None)
        self.timeouts.pop(seq, None)
        self.ended.add(seq)
        sent = self.pieces.pop(seq, 0)
        end = dataclasses.replace(event, pieces=sent)
        if event.pieces > sent and not event.error:
            lost = f"{event.pieces - sent} of {event.pieces} audio pieces were lost"
            end = dataclasses.replace(end, error=lost)
        return self._hold(seq, end)

    def _hold(self, seq: int, event: SessionEvent) -> list[SessionEvent]:
        """Queue an event of `seq`; release what may go out now (the current seq streams)."""
        self.held.setdefault(seq, []).append(event)
        ready: list[SessionEvent] = []
        while self.next_to_send in self.held:
            current = self.next_to_send
            ready += self.held.pop(current)
            if current not in self.ended:
                break
            self.ended.discard(current)
            self.headed.discard(current)
            self.attempts.pop(current, None)
            self.next_to_send += 1
        return ready


def new_segmenter() -> UtteranceSegmenter:
    """A session's segmenter from the settings. With TURN_DETECTION, the process's one
    end-of-turn model (loaded by the first session; None, and a log line, if it cannot be)."""
    turn = None
    if settings.TURN_DETECTION:
        turn = shared_judge(settings.TURN_MODEL_PATH, max_pending=settings.TURN_MAX_PENDING)
    return UtteranceSegmenter(
        turn=turn,
        turn_pause_ms=settings.TURN_PAUSE_MS,
        turn_threshold=settings.TURN_THRESHOLD,
        silence_ms=settings.UTTERANCE_SILENCE_MS,
        min_silence_ms=min(settings.UTTERANCE_MIN_SILENCE_MS, settings.UTTERANCE_SILENCE_MS),
        shrink_after_s=settings.UTTERANCE_SHRINK_AFTER_S,
        shrink_over_s=settings.UTTERANCE_SHRINK_OVER_S,
        max_s=settings.UTTERANCE_MAX_S,
        min_speech_ms=settings.UTTERANCE_MIN_SPEECH_MS,
        threshold=settings.VAD_THRESHOLD,
    )


__all__ = ["AudioFormatError", "LiveSession", "PendingUtterance", "ProtocolError"]
