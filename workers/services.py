"""The worker's side of a translation: run the pipeline for a queued row, record, deliver."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError

from translation import metrics
from translation.audio.pcm import AudioFormatError
from translation.audio.wav import wav_bytes_from_float32
from translation.events import Outcome
from translation.jobs import delivery, lifecycle, selectors, transient_audio
from translation.jobs.transient_audio import AudioUnavailable
from translation.models import Translation
from workers import runtime
from workers.engines.base import EngineError
from workers.pipeline import (
    NO_SPEECH,
    SpokenTranslation,
    TextResult,
    TranslationPipeline,
    speech_pieces_of,
)

logger = logging.getLogger(__name__)

_running: set[str] = set()  # rows this process's task threads are running now
_running_lock = threading.Lock()


def complete_translation(translation_id: str, *, worker: str) -> None:
    """Translate one history row and push the result to its session, if it still listens:
    the text as soon as the translator is done, then each spoken piece as soon as it is
    synthesized, then the end of the audio. The row keeps the whole output WAV.

    Three steps: `translate_row` (the text), `stream_speech` (the spoken pieces, sent as they
    come) and `record_outcome` (the row, then the end of this run). Model errors fail this row
    only; the worker goes on. A row already finished (a redelivered task) is left alone.
    """
    with _run_here(translation_id) as first:
        if not first:  # a second message for a row one of this process's threads is running
            logger.info("translation %s already runs in this worker; skipping", translation_id)
            return
        _complete(translation_id, worker=worker)


@contextmanager
def _run_here(translation_id: str) -> Iterator[bool]:
    """True for the first of this process's task threads to take the row, until it ends.
    `start_translation` tells workers apart by their process identity, and every thread of a
    threads pool shares it: without this, two copies of a message (recovery re-queues from
    several processes) could both run."""
    with _running_lock:
        first = translation_id not in _running
        _running.add(translation_id)
    try:
        yield first
    finally:
        if first:
            with _running_lock:
                _running.discard(translation_id)


def _complete(translation_id: str, *, worker: str) -> None:
    row = lifecycle.start_translation(translation_id, worker=worker)
    if row is None:
        logger.info("translation %s is unknown or already finished; skipping", translation_id)
        return
    release_pooled_connection()
    started = time.perf_counter()
    translated = translate_row(row, worker=worker)
    if translated is None:
        return
    text, pipeline = translated
    if text.no_speech:  # a clear status, not an error: no speech, so nothing to speak
        outcome = _outcome(text, tts_failed=False, error=NO_SPEECH)
        delivery.deliver_text(row, outcome)
        ended = {"total_ms": _ms(started)}
        record_outcome(row, outcome, frames_sent=0, speech_error="", timings=ended, worker=worker)
        return
    delivery.deliver_text(row, _outcome(text, tts_failed=not speech_pieces_of(text.text)))
    spoken = stream_speech(row, text, pipeline, started=started)
    wav = None
    if spoken.speech.audio is not None and spoken.speech.sample_rate:
        wav = wav_bytes_from_float32(spoken.speech.audio, spoken.speech.sample_rate)
    pieces = spoken.speech.pieces
    outcome = _outcome(
        text,
        tts_failed=spoken.speech.audio is None,
        wav=wav,
        timings=spoken.timings,
        meta={"tts": {**spoken.speech.meta, "pieces": pieces}} if pieces else {},
        error=spoken.speech.error,
    )
    record_outcome(
        row,
        outcome,
        frames_sent=spoken.frames_sent,
        speech_error=spoken.speech.error,
        timings=spoken.timings,
        worker=worker,
    )


def release_pooled_connection() -> None:
    """Hand this thread's database connection back to the pool (DB_POOL_MAX_SIZE) while the
    models run: a task thread waits seconds for its batch, and WORKER_CONCURRENCY threads must
    not each hold one of the pool's few connections meanwhile (the others would wait for one,
    and batches would not fill). The outcome's write takes one again. Without a pool, or inside
    a transaction (a test's), the connection stays."""
    from django.db import connection

    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def translate_row(
    row: Translation, *, worker: str
) -> tuple[TextResult, TranslationPipeline] | None:
    """The row's text (language ID + Canary, in the batcher's next batch), or None when the
    row failed (recorded on it and told to its session)."""
    try:
        audio = selectors.load_input_audio(row)
        pipeline = runtime.get_pipeline()
        text = pipeline.translate(
            audio,
            src=row.requested_src,
            tgt=row.requested_tgt or None,
            voices=row.meta.get("voices") or {},
        )
    except (EngineError, AudioFormatError, AudioUnavailable) as exc:
        _fail(str(row.id), str(exc), worker=worker)
        return None
    except Exception as exc:
        logger.exception("translation %s failed", row.id)
        _fail(str(row.id), f"translation failed: {type(exc).__name__}: {exc}", worker=worker)
        return None
    return text, pipeline


@dataclass
class StreamedSpeech:
    """The speech of one row: all its pieces joined, the frames sent, and the timings."""

    speech: SpokenTranslation
    frames_sent: int
    timings: dict[str, float]


def stream_speech(
    row: Translation, text: TextResult, pipeline: TranslationPipeline, *, started: float
) -> StreamedSpeech:
    """Speak the translation piece by piece; each piece goes to a listening session as WAV
    frames the moment it exists."""
    spoken = SpokenTranslation()
    frames_sent = 0
    first_audio_ms: float | None = None
    t0 = time.perf_counter()
    for piece in pipeline.speak(text.text, lang=text.tgt, voice=text.voice):
        spoken.add(piece)
        if piece.audio is None or piece.sample_rate is None or not row.reply_channel:
            continue
        for frame in delivery.wav_frames_of(piece.audio, piece.sample_rate):
            frames_sent += delivery.deliver_audio(row, wav=frame)
        if first_audio_ms is None:
            first_audio_ms = _ms(started)
    spoken.finish()
    timings = {"tts_ms": _ms(t0), "total_ms": _ms(started)}
    if first_audio_ms is not None:
        timings["first_audio_ms"] = first_audio_ms
    return StreamedSpeech(spoken, frames_sent, timings)


def record_outcome(
    row: Translation,
    outcome: Outcome,
    *,
    frames_sent: int,
    speech_error: str,
    timings: dict[str, float],
    worker: str,
) -> None:
    """Write the row, then end this run for its session, even if the row cannot be written
    now (the task is retried). `finish_translation` gives None when recovery gave the row to
    another run meanwhile: that run's events carry a newer attempt number, so the session
    keeps only one run's result. A deferred row (cut while the database was away) ends its
    run first: the session hears it while the write waits for the database."""
    deferred = transient_audio.is_deferred(row)
    if deferred:
        delivery.deliver_audio_end(row, pieces=frames_sent, error=speech_error, timings=timings)
    try:
        if lifecycle.finish_translation(str(row.id), outcome, worker=worker) is not None:
            metrics.UTTERANCES_DONE.labels(source=metrics.source_label(row.source)).inc()
    except DatabaseError:
        if not deferred:
            raise
        # Answered, but the database stayed away past DB_OUTAGE_HOLD_S: running it again
        # would answer twice; its history row is what is lost, and the log says which.
        logger.error(
            "session %s utterance %s: translated, but not kept in the history: the database "
            "was unreachable for longer than DB_OUTAGE_HOLD_S",
            row.session_id,
            row.seq,
        )
        delivery.tell_history_lost(row)
    finally:
        if not deferred:
            delivery.deliver_audio_end(row, pieces=frames_sent, error=speech_error, timings=timings)


def _outcome(
    text: TextResult,
    *,
    tts_failed: bool,
    wav: bytes | None = None,
    timings: dict[str, float] | None = None,
    meta: dict[str, Any] | None = None,
    error: str = "",
) -> Outcome:
    return Outcome(
        src=text.src,
        tgt=text.tgt,
        text=text.text,
        source_text=text.source_text,
        wav=wav,
        tts_failed=tts_failed,
        timings={**text.timings, **(timings or {})},
        meta={**text.meta, **(meta or {})},
        voice=text.voice or "",
        error=error,
    )


def _fail(translation_id: str, reason: str, *, worker: str) -> None:
    row = lifecycle.fail_translation(translation_id, reason, worker=worker)
    if row is not None:
        metrics.UTTERANCES_FAILED.labels(source=metrics.source_label(row.source)).inc()
        delivery.deliver_result(row, wav=None)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)
