"""The worker process's engines: built once from settings, reused by every task.

A failed load is not cached for ever: the next task tries again (after a short back-off), so a
worker recovers once the model can load, and meanwhile each utterance gets a clear error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from workers.batch_jobs import BatchLimits, BatchReport, Lane
from workers.batcher import BatchedSynthesizer, BatchedTranslator, Batcher
from workers.engines.base import (
    EngineUnavailable,
    LanguageGuess,
    LanguageIdentifier,
    SpeechSynthesizer,
    SpeechTranslator,
)
from workers.pipeline import TranslationPipeline

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 10.0

_lock = threading.Lock()
Engine = SpeechTranslator | SpeechSynthesizer | LanguageIdentifier

_engines: dict[str, Engine] = {}
_failures: dict[str, tuple[float, str]] = {}

# Each role: the setting naming its class (a dotted path with `from_settings`), and the
# Protocol (workers/engines/base.py) the loaded engine must implement.
ENGINE_SETTINGS = {
    "translator": "RUTRANS_TRANSLATOR",
    "synthesizer": "RUTRANS_SYNTHESIZER",
    "identifier": "RUTRANS_LANGUAGE_IDENTIFIER",
}
ENGINE_PROTOCOLS: dict[str, type] = {
    "translator": SpeechTranslator,
    "synthesizer": SpeechSynthesizer,
    "identifier": LanguageIdentifier,
}


def translator() -> SpeechTranslator:
    engine = get_engine("translator")
    assert isinstance(engine, SpeechTranslator)  # checked at load
    return engine


def synthesizer() -> SpeechSynthesizer:
    engine = get_engine("synthesizer")
    assert isinstance(engine, SpeechSynthesizer)  # checked at load
    return engine


def identifier() -> LanguageIdentifier:
    engine = get_engine("identifier")
    assert isinstance(engine, LanguageIdentifier)  # checked at load
    return engine


def get_engine(role: str) -> Engine:
    """The loaded engine for a role ("translator", "synthesizer", "identifier")."""
    with _lock:
        if role in _engines:
            return _engines[role]
        failed = _failures.get(role)
        if failed and time.monotonic() - failed[0] < RETRY_AFTER_S:
            raise EngineUnavailable(failed[1])
        dotted = getattr(settings, ENGINE_SETTINGS[role])
        _limit_torch_threads()
        started = time.perf_counter()
        try:
            loaded = import_string(dotted).from_settings(settings)
            if not isinstance(loaded, ENGINE_PROTOCOLS[role]):
                raise EngineUnavailable(
                    f"{dotted} is not a {role}: it lacks the methods of "
                    f"{ENGINE_PROTOCOLS[role].__name__} (workers/engines/base.py)"
                )
        except EngineUnavailable as exc:
            _failures[role] = (time.monotonic(), str(exc))
            logger.error("could not load %s %s: %s", role, dotted, exc)
            raise
        except Exception as exc:
            message = f"could not load the {role} model ({dotted}): {type(exc).__name__}: {exc}"
            _failures[role] = (time.monotonic(), message)
            logger.exception("could not load %s %s", role, dotted)
            raise EngineUnavailable(message) from exc
        engine = cast(Engine, loaded)  # its role's Protocol, checked above
        _failures.pop(role, None)
        _engines[role] = engine
        logger.info("loaded %s %s in %.0f ms", role, dotted, (time.perf_counter() - started) * 1e3)
        return engine


def _limit_torch_threads() -> None:
    """TORCH_NUM_THREADS > 0 caps torch's CPU threads: several solo workers (or a worker
    beside the web tier) on one machine must not each claim every core."""
    threads = getattr(settings, "TORCH_NUM_THREADS", 0)
    if threads > 0:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


class _LazyIdentifier:
    """Loads language ID only when an utterance asks for `auto`."""

    def identify(self, audio: np.ndarray) -> LanguageGuess:
        return identifier().identify(audio)


# Per device, from benchmarks/canary_batch.py and live_latency.py (docs/PERFORMANCE.md): the
# batch size past which throughput stops growing, a wait short beside a live answer's budget,
# and audio per batch well inside the device's memory.
BATCH_DEFAULTS: dict[str, BatchLimits] = {
    # CPU: a batch of 8 takes ~3x a batch of 1, so a partial in a final's batch delays it.
    "cpu": BatchLimits(max_items=8, wait_s=0.005, max_audio_s=120.0, partials_with_finals=False),
    # H200, full-size Canary in bf16 (docs/PERFORMANCE.md, "GPU"): latency flat (0.40-0.43 s)
    # from 1 to 64 rows while throughput grows 72x; 128 adds 1.8x more at a longer batch.
    "cuda": BatchLimits(max_items=64, wait_s=0.010, max_audio_s=600.0),
}

_batcher: Batcher | None = None
_batch_listeners: list[Callable[[BatchReport], None]] = []


def batch_limits(device: str) -> BatchLimits:
    """BATCH_MAX / BATCH_WAIT_MS / BATCH_MAX_AUDIO_S, each 0 (the default) meaning the value
    measured for `device` ("cuda…" or "cpu")."""
    default = BATCH_DEFAULTS["cuda" if device.startswith("cuda") else "cpu"]
    wait_ms = settings.BATCH_WAIT_MS
    return BatchLimits(
        max_items=settings.BATCH_MAX or default.max_items,
        wait_s=default.wait_s if wait_ms < 0 else wait_ms / 1000.0,
        max_audio_s=settings.BATCH_MAX_AUDIO_S or default.max_audio_s,
        partials_with_finals=default.partials_with_finals,
        answer_within_s=float(settings.CELERY_TASK_TIME_LIMIT),
    )


# SPEECH_THREADS = 0: one on a CPU (the speech threads share its cores with Canary: more only
# split them), two on a GPU (one sentence's CPU part, espeak-ng and resampling, beside
# another's model call; not measured on a GPU yet).
SPEECH_THREADS_DEFAULTS = {"cpu": 1, "cuda": 2}


def speech_threads(device: str) -> int:
    """SPEECH_THREADS, 0 (the default) meaning the value for `device` ("cuda…" or "cpu")."""
    chosen = int(getattr(settings, "SPEECH_THREADS", 0) or 0)
    return chosen or SPEECH_THREADS_DEFAULTS["cuda" if device.startswith("cuda") else "cpu"]


def batcher() -> Batcher:
    """This process's model thread and speech stage (built on first use, after the translator
    has loaded)."""
    global _batcher
    engine = translator()
    with _lock:
        if _batcher is None:
            device = str(getattr(engine, "device", "cpu"))
            limits = batch_limits(device)
            _batcher = Batcher(
                translator=translator,
                synthesizer=synthesizer,
                limits=limits,
                on_batch=_tell_listeners,
                speech_threads=speech_threads(device),
            )
            logger.info(
                "batching: at most %d utterances or %.0f s of audio per batch, waiting up to "
                "%.0f ms; %d speech thread(s)",
                limits.max_items,
                limits.max_audio_s,
                limits.wait_s * 1000,
                _batcher.speech.threads,
            )
        return _batcher


def on_batch(listener: Callable[[BatchReport], None]) -> None:
    """Call `listener` after every model call of the batcher (the worker-rate measurement):
    from the model thread after a batch, from a speech thread after a sentence."""
    _batch_listeners.append(listener)


def _tell_listeners(report: BatchReport) -> None:
    for listener in list(_batch_listeners):
        listener(report)


def get_pipeline(*, lane: Lane = Lane.LIVE) -> TranslationPipeline:
    """A pipeline for ONE utterance whose model calls go through the batcher (`lane`: LIVE
    for a final, PARTIAL for a live caption). The engines load here, so a load failure is
    this utterance's clear error."""
    synthesizer()
    shared = batcher()
    arrival = time.monotonic()
    return TranslationPipeline(
        translator=BatchedTranslator(shared, lane=lane, arrival=arrival),
        synthesizer=BatchedSynthesizer(shared, arrival=arrival),
        identifier=_LazyIdentifier(),
        with_source_text=settings.SOURCE_TRANSCRIPT,
    )


def preload(*, calibrate: bool = False) -> None:
    """Load translator and synthesizer now (worker start-up), then time a full batch when
    `calibrate` (a worker process of its own: its rate is what admission counts on); failures
    are logged, not fatal."""
    loaded = []
    for role in ("translator", "synthesizer"):
        try:
            get_engine(role)
            loaded.append(role)
        except EngineUnavailable:
            pass
    if "translator" in loaded and calibrate:
        calibrate_capacity()
    logger.info("models preloaded: %s", ", ".join(loaded) or "none")


def calibrate_capacity() -> None:
    """One full batch, timed: the capacity the web tier admits against from the start
    (workers/calibration.py). A failure is logged: admission then waits for measured rows."""
    from translation.jobs import liveness
    from workers import calibration

    try:
        shared = batcher()
        rate = calibration.calibrate(shared, rows=shared.limits.max_items)
        liveness.publish_capacity(rate)
    except Exception:
        logger.exception("calibration failed: admission uses the measured rate only")


def reset() -> None:
    """Forget loaded engines (tests, or after settings change)."""
    global _batcher
    with _lock:
        _engines.clear()
        _failures.clear()
        _batcher = None
