"""Writes of the translation history, and delivery of results to live sessions."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from translation.audio import wav_bytes_from_float32
from translation.dispatch import embedded_event_loop, enqueue_translation
from translation.models import Translation
from translation.protocol import SessionConfig, result_payload

logger = logging.getLogger(__name__)

MODEL_SAMPLE_RATE = 16_000
RESULT_EVENT = "translation.result"  # handled by TranslateConsumer.translation_result


@dataclass(frozen=True)
class Outcome:
    """What the worker produced for one row (the pipeline's result, Django-free)."""

    src: str
    tgt: str
    text: str
    source_text: str | None
    wav: bytes | None
    tts_failed: bool
    timings: dict[str, float]
    meta: dict[str, Any]
    voice: str = ""
    error: str = ""


def submit_utterance(
    *,
    session_id: str,
    seq: int,
    reply_channel: str,
    audio: np.ndarray,
    config: SessionConfig,
    timings: dict[str, float] | None = None,
) -> Translation:
    """Store a live utterance (16 kHz mono float32) and queue its translation."""
    row_id = uuid.uuid4()
    wav = wav_bytes_from_float32(audio, MODEL_SAMPLE_RATE)
    with transaction.atomic():
        row = Translation(
            id=row_id,
            source=Translation.Source.LIVE,
            session_id=session_id,
            seq=seq,
            reply_channel=reply_channel,
            requested_src=config.src,
            requested_tgt=config.tgt or "",
            duration_s=round(len(audio) / MODEL_SAMPLE_RATE, 3),
            timings=dict(timings or {}),
            meta={"voices": dict(config.voices), "submitted_at": time.time()},
        )
        row.input_audio.save(f"{row_id}.wav", ContentFile(wav), save=False)
        row.save(force_insert=True)
        transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    return row


def start_translation(translation_id: str, *, worker: str) -> Translation | None:
    """Mark a row running. None when it is unknown or already finished (a redelivered task)."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().filter(pk=translation_id).first()
        if row is None or row.is_terminal:
            return None
        row.status = Translation.Status.RUNNING
        row.worker = worker[:200]
        row.attempts += 1
        row.started_at = timezone.now()
        submitted_at = row.meta.get("submitted_at")
        if submitted_at:
            row.timings["queue_ms"] = round((time.time() - submitted_at) * 1000.0, 2)
        row.save(update_fields=["status", "worker", "attempts", "started_at", "timings"])
    return row


def finish_translation(translation_id: str, outcome: Outcome) -> Translation:
    """Record a finished translation (text, audio, timings) as done."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().get(pk=translation_id)
        row.status = Translation.Status.DONE
        row.src_lang, row.tgt_lang = outcome.src, outcome.tgt
        row.text = outcome.text
        row.source_text = outcome.source_text or ""
        row.tts_failed = outcome.tts_failed
        row.error = outcome.error
        row.voice = outcome.voice
        row.timings = {**row.timings, **outcome.timings}
        row.meta = {**row.meta, **outcome.meta}
        row.finished_at = timezone.now()
        if outcome.wav:
            row.output_audio.save(f"{row.id}.wav", ContentFile(outcome.wav), save=False)
        row.save()
    return row


def fail_translation(translation_id: str, error: str) -> Translation | None:
    """Record that a translation failed, with a reason a person can act on."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().filter(pk=translation_id).first()
        if row is None:
            return None
        row.status = Translation.Status.FAILED
        row.error = error
        row.finished_at = timezone.now()
        row.save(update_fields=["status", "error", "finished_at"])
    return row


def deliver_result(row: Translation, *, wav: bytes | None) -> bool:
    """Push a finished row to its live session. A session that has gone away is not an error:
    the row is already complete; the push is simply dropped."""
    if not row.reply_channel:
        return False
    if row.status == Translation.Status.FAILED:
        event = {"type": RESULT_EVENT, "seq": row.seq, "error": row.error}
    else:
        event = {
            "type": RESULT_EVENT,
            "seq": row.seq,
            "result": result_payload(
                seq=row.seq or 0,
                translation_id=str(row.id),
                src=row.src_lang,
                tgt=row.tgt_lang,
                text=row.text,
                source_text=row.source_text or None,
                tts_failed=row.tts_failed,
                timings=row.timings,
                error=row.error,
            ),
            "wav": wav if not row.tts_failed else None,
        }
    event["sent_at"] = time.time()
    return send_to_channel(row.reply_channel, event)


def send_to_channel(channel: str, event: dict[str, Any]) -> bool:
    layer = get_channel_layer()
    try:
        loop = embedded_event_loop()
        if loop is not None:
            # The in-memory layer belongs to the server's event loop.
            asyncio.run_coroutine_threadsafe(layer.send(channel, event), loop).result(timeout=10)
        else:
            async_to_sync(layer.send)(channel, event)
    except Exception as exc:  # noqa: BLE001 - ChannelFull, Redis down, loop gone: log, go on
        logger.warning("could not push to %s: %s: %s", channel, type(exc).__name__, exc)
        return False
    return True
