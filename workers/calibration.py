"""A worker's capacity, known when it starts: one full batch of speech-like utterances through
its model thread, timed, gives the audio seconds it translates per second (published with its
heartbeat, `translation.jobs.liveness.publish_capacity`). The web tier admits live sessions
against it until the worker has been busy long enough for its measured rate to say more
(`translation.jobs.backlog.workers_rate`): a freshly started stack no longer refuses talkers
it can serve because its first, small batches look slow.

The utterances are a synthetic voice (a gliding harmonic tone in syllable-long bursts, at a
speaking level): it exercises the encoder as speech does; its decoding may be shorter than a
real sentence's, so the figure leans high, and ADMISSION_MAX_LOAD (0.7) keeps the margin.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from workers.batch_jobs import Lane
from workers.batcher import Batcher
from workers.engines.base import TranslationRequest

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
UTTERANCE_S = 4.0
"""About a spoken sentence; a live final is typically 2-6 s."""
ANSWER_WITHIN_S = 300.0


def speech_like(seconds: float, *, seed: int = 0) -> np.ndarray:
    """16 kHz float32: voiced bursts of ~200 ms (a 110-220 Hz glide with harmonics) and short
    gaps, at about -20 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 110 + 110 * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = (np.sin(2 * np.pi * 2.5 * t) > -0.3).astype(np.float32)
    noise = rng.normal(0, 0.02, t.size)
    audio = 0.1 * voiced * syllables + noise
    return audio.astype(np.float32)


def calibrate(batcher: Batcher, *, rows: int, seconds: float = UTTERANCE_S) -> float:
    """Audio seconds per second of `rows` utterances of `seconds` submitted at once (after one
    alone, which warms up the kernels and is not counted)."""
    request = TranslationRequest(speech_like(seconds), "en", "ru", True)
    batcher.submit_translation(request, lane=Lane.LIVE, arrival=time.monotonic()).result(
        ANSWER_WITHIN_S
    )
    requests = [
        TranslationRequest(speech_like(seconds, seed=i), "en", "ru", True) for i in range(rows)
    ]
    started = time.monotonic()  # all submitted at once: they wait together for one batch
    futures = [batcher.submit_translation(r, lane=Lane.LIVE, arrival=started) for r in requests]
    for future in futures:
        future.result(ANSWER_WITHIN_S)
    elapsed = time.monotonic() - started
    rate = rows * seconds / elapsed
    logger.info(
        "calibrated: %d utterances of %.0f s in %.2f s: %.1f audio s per s",
        rows,
        seconds,
        elapsed,
        rate,
    )
    return rate
