"""workers/calibration.py: a full batch through the batcher, timed, gives the worker's rate."""

from __future__ import annotations

import time

import numpy as np
import pytest

from workers import calibration
from workers.batch_jobs import BatchLimits
from workers.batcher import Batcher
from workers.engines.base import SpeechTranslation


class TimedTranslator:
    """Takes 50 ms per batch, whatever its size (a GPU far from full), and says what it saw."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def translate(self, audio, *, src, tgt, with_source_text=True):
        return self.translate_batch([audio])[0]

    def translate_batch(self, requests):
        self.batches.append(len(requests))
        time.sleep(0.05)
        return [SpeechTranslation(text="x", source_text="y") for _ in requests]


def test_speech_like_audio_is_16k_float_at_a_speaking_level():
    audio = calibration.speech_like(4.0)
    assert audio.dtype == np.float32 and audio.size == 64_000
    rms = float(np.sqrt(np.mean(audio**2)))
    assert 0.03 < rms < 0.3
    assert not np.array_equal(audio, calibration.speech_like(4.0, seed=1))


def test_one_full_batch_is_timed_after_a_warm_up():
    translator = TimedTranslator()
    batcher = Batcher(
        translator=lambda: translator,
        synthesizer=lambda: pytest.fail("calibration speaks nothing"),
        limits=BatchLimits(max_items=8, wait_s=0.02, max_audio_s=120.0, answer_within_s=30.0),
    )
    rate = calibration.calibrate(batcher, rows=8, seconds=4.0)
    assert translator.batches == [1, 8]  # the warm-up alone, then the 8 together
    assert 8 * 4.0 / 0.5 < rate < 8 * 4.0 / 0.05  # 32 audio-s in a bit over one 50 ms batch
