"""The worker's side of a translation: run the pipeline for a queued row, record, deliver."""

from __future__ import annotations

import logging

from translation import selectors, services
from translation.audio import AudioFormatError, wav_bytes_from_float32
from workers import runtime
from workers.engines.base import EngineError

logger = logging.getLogger(__name__)


def complete_translation(translation_id: str, *, worker: str) -> None:
    """Translate one history row and push the result to its session, if it still listens.

    Model errors fail this row only; the worker goes on. A row already finished (a redelivered
    task) is left alone.
    """
    row = services.start_translation(translation_id, worker=worker)
    if row is None:
        logger.info("translation %s is unknown or already finished; skipping", translation_id)
        return
    voices = row.meta.get("voices") or {}
    try:
        audio = selectors.load_input_audio(row)
        pipeline = runtime.get_pipeline()
        result = pipeline.run(
            audio, src=row.requested_src, tgt=row.requested_tgt or None, voices=voices
        )
    except (EngineError, AudioFormatError) as exc:
        row = services.fail_translation(translation_id, str(exc), worker=worker)
        if row is not None:
            services.deliver_result(row, wav=None)
        return
    except Exception as exc:
        logger.exception("translation %s failed", translation_id)
        reason = f"translation failed: {type(exc).__name__}: {exc}"
        row = services.fail_translation(translation_id, reason, worker=worker)
        if row is not None:
            services.deliver_result(row, wav=None)
        return

    wav = None
    if result.audio is not None and result.sample_rate:
        wav = wav_bytes_from_float32(result.audio, result.sample_rate)
    outcome = services.Outcome(
        src=result.src,
        tgt=result.tgt,
        text=result.text,
        source_text=result.source_text,
        wav=wav,
        tts_failed=result.tts_failed,
        timings=result.timings,
        meta=result.meta,
        voice=result.voice or "",
        error=result.tts_error,
    )
    row = services.finish_translation(translation_id, outcome, worker=worker)
    if row is not None:  # None: recovery gave the row to another run meanwhile
        services.deliver_result(row, wav=wav)
