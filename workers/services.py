"""The worker's side of a translation: run the pipeline for a queued row, record, deliver."""

from __future__ import annotations

import logging
import time
from typing import Any

from translation.audio.pcm import AudioFormatError
from translation.audio.wav import wav_bytes_from_float32
from translation.events import Outcome
from translation.jobs import delivery, lifecycle, selectors
from translation.jobs.transient_audio import AudioUnavailable
from workers import runtime
from workers.engines.base import EngineError
from workers.pipeline import NO_SPEECH, SpokenTranslation, TextResult, speech_pieces_of

logger = logging.getLogger(__name__)


def complete_translation(translation_id: str, *, worker: str) -> None:
    """Translate one history row and push the result to its session, if it still listens:
    the text as soon as the translator is done, then each spoken piece as soon as it is
    synthesized, then the end of the audio. The row keeps the whole output WAV.

    Model errors fail this row only; the worker goes on. A row already finished (a redelivered
    task) is left alone.
    """
    row = lifecycle.start_translation(translation_id, worker=worker)
    if row is None:
        logger.info("translation %s is unknown or already finished; skipping", translation_id)
        return
    started = time.perf_counter()
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
        _fail(translation_id, str(exc), worker=worker)
        return
    except Exception as exc:
        logger.exception("translation %s failed", translation_id)
        _fail(translation_id, f"translation failed: {type(exc).__name__}: {exc}", worker=worker)
        return

    if text.no_speech:  # a clear status, not an error: no speech, so nothing to speak
        outcome = _outcome(text, tts_failed=False, error=NO_SPEECH)
        delivery.deliver_text(row, outcome)
        try:
            lifecycle.finish_translation(translation_id, outcome, worker=worker)
        finally:
            delivery.deliver_audio_end(row, pieces=0, timings={"total_ms": _ms(started)})
        return

    nothing_to_say = not speech_pieces_of(text.text)
    delivery.deliver_text(row, _outcome(text, tts_failed=nothing_to_say))
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
    wav = None
    if spoken.audio is not None and spoken.sample_rate:
        wav = wav_bytes_from_float32(spoken.audio, spoken.sample_rate)
    outcome = _outcome(
        text,
        tts_failed=spoken.audio is None,
        wav=wav,
        timings=timings,
        meta={"tts": {**spoken.meta, "pieces": spoken.pieces}} if spoken.pieces else {},
        error=spoken.error,
    )
    try:  # None: recovery gave the row to another run meanwhile (its events carry a newer
        # attempt number, so the session keeps only one run's result)
        lifecycle.finish_translation(translation_id, outcome, worker=worker)
    finally:  # even if the row cannot be written now (the task is retried): end this run
        delivery.deliver_audio_end(row, pieces=frames_sent, error=spoken.error, timings=timings)


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
        delivery.deliver_result(row, wav=None)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 2)
