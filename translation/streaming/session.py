"""One live session's ingest: control and audio frames in, utterances out (its results are
put back in order by `translation.streaming.sequencer`).

Synchronous and free of I/O, so the consumer stays a thin async shell and this is testable on
its own. All of it runs on the event loop: it must stay cheap (a 20 ms frame costs a resample
and at most one VAD window, scored with other sessions' windows by streaming/ingest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from django.conf import settings

from translation import metrics
from translation.audio.clock import StreamClock
from translation.audio.pcm import AudioFormatError, PcmStream
from translation.audio.segmenter import Utterance, UtteranceSegmenter
from translation.audio.turn import shared_judge
from translation.constants import MODEL_SAMPLE_RATE
from translation.protocol.control import ProtocolError, SessionConfig, parse_control
from translation.protocol.messages import HistoryNotice
from translation.streaming.sequencer import ResultSequencer

_NO_AUDIO = np.zeros(0, dtype=np.float32)

# More utterances than this waiting for results: the client is sending faster than the
# workers translate; further utterances are refused with an error instead of piling up.
MAX_IN_FLIGHT = 32


@dataclass
class PendingUtterance:
    seq: int
    utterance: Utterance
    config: SessionConfig
    timings: dict[str, float]


@dataclass(eq=False)  # a session is itself: hashable by identity (streaming/ingest.py)
class LiveSession:
    """Audio in, utterances out (the ingest); `results` puts what comes back in seq order.
    `clock` (monotonic seconds) is injected so tests control time."""

    clock: Callable[[], float] = time.monotonic
    config: SessionConfig | None = None
    stream: PcmStream | None = None
    segmenter: UtteranceSegmenter = field(default_factory=lambda: new_segmenter())
    next_seq: int = 0
    last_frame_at: float | None = None
    warned_no_control: bool = False
    max_loop_lag_ms: float = 0.0
    opened_at: float | None = None  # when its connection opened (default: now, on `clock`)
    results: ResultSequencer = field(init=False)
    # Utterances are placed on the wall clock (since the first control), not by the samples
    # before them: a client that sends nothing while quiet (push-to-talk) keeps its times.
    wall: StreamClock = field(default_factory=StreamClock)
    history_state: HistoryNotice | None = (
        None  # what its last utterance's history lacked (a notice)
    )

    def history_notice(self, state: HistoryNotice | None) -> HistoryNotice | None:
        """The `HistoryStatus` state to tell the session now, if any: a notice of this
        utterance (`submit.history_notice`) told at its first utterance, once while it lasts."""
        tell = state if state is not None and state != self.history_state else None
        self.history_state = state
        return tell

    def __post_init__(self) -> None:
        self.results = ResultSequencer(clock=self.clock)
        # Audio the client held while it connected is no older than this (audio/clock.py).
        self.wall.opened = self.clock() if self.opened_at is None else self.opened_at
        if self.last_frame_at is None:
            self.last_frame_at = self.clock()

    @property
    def in_flight(self) -> int:
        """Utterances cut whose results have not all gone out yet."""
        return self.next_seq - self.results.next_to_send

    # --- client → server -----------------------------------------------------------------------

    def configure(self, raw: str) -> tuple[SessionConfig, list[PendingUtterance]]:
        """Apply a control message. An utterance in progress is ended first, under the old
        settings, so a mode change never splits a sentence between two directions."""
        config = parse_control(raw)
        self.wall.start(self.clock())
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
        """One binary frame, scored now. Raises ProtocolError/AudioFormatError for a frame
        to drop."""
        self.take_frame(frame)
        return self.score_queued()

    def take_frame(self, frame: bytes) -> None:
        """One binary frame validated (against MAX_FRAME_BYTES) and resampled; its audio
        waits in the segmenter to be scored, by `score_queued` or together with other
        sessions' (translation/streaming/ingest.py). Raises as `ingest`."""
        if self.config is None or self.stream is None:
            raise ProtocolError("send a control message (JSON) before audio frames")
        audio = self.stream.feed(frame)
        self.last_frame_at = self.clock()
        self.wall.frame(audio.size / MODEL_SAMPLE_RATE, self.last_frame_at)
        self.segmenter.queue(audio)
        metrics.FRAMES.inc()
        metrics.STREAM_SECONDS.inc(audio.size / MODEL_SAMPLE_RATE)

    def score_queued(self) -> list[PendingUtterance]:
        """Score the audio still waiting with this session's own detector."""
        return [self._pending(u) for u in self.segmenter.feed(_NO_AUDIO)]

    def scored(self, probability: float) -> list[PendingUtterance]:
        """The VAD's probability for the window `segmenter.next_window()` gave."""
        utterance = self.segmenter.take_score(probability)
        return [self._pending(utterance)] if utterance is not None else []

    def flush(self, reason: str = "flush") -> list[PendingUtterance]:
        """End the open utterance (after the audio still waiting is scored)."""
        done = self.score_queued()
        utterance = self.segmenter.flush(reason)
        return done + ([self._pending(utterance)] if utterance is not None else [])

    def idle_due(self) -> bool:
        """No frame for the silence window while speech is open: end the utterance."""
        silence_s = settings.UTTERANCE_SILENCE_MS / 1000.0
        return self.segmenter.has_speech and self._since_last_frame() >= silence_s

    def note_loop_lag(self, lag_ms: float) -> None:
        """The worst event-loop delay seen during the current utterance (reported with it)."""
        self.max_loop_lag_ms = max(self.max_loop_lag_ms, lag_ms)

    def _since_last_frame(self) -> float:
        return self.clock() - (self.last_frame_at or 0.0)

    def _pending(self, utterance: Utterance) -> PendingUtterance:
        seq = self.next_seq
        self.next_seq += 1
        assert self.config is not None
        endpoint_ms = 0.0
        if utterance.reason in ("silence", "pause", "turn"):
            endpoint_ms = (self.segmenter.stream_time_s - utterance.speech_end_s) * 1000.0
        elif utterance.reason == "idle":
            endpoint_ms = self._since_last_frame() * 1000.0
        timings = {
            "endpoint_ms": round(endpoint_ms, 2),
            "audio_s": round(utterance.duration_s, 3),
            "loop_lag_ms": round(self.max_loop_lag_ms, 2),
        }
        self.max_loop_lag_ms = 0.0
        start_s = self.wall.wall_s(utterance.start_s)  # its run's offset holds for all of it
        placed = replace(utterance, start_s=start_s, end_s=start_s + utterance.duration_s)
        return PendingUtterance(seq, placed, self.config, timings)


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
