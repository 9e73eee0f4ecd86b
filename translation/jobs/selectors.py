"""Reads of the translation jobs: one row, a filtered list, its input audio, its state."""

from __future__ import annotations

import uuid
from typing import cast

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from translation.audio.files import load_audio_16k
from translation.jobs import liveness, transient_audio
from translation.models import Translation
from translation.protocol.messages import JobMessage, JobSource, JobStatusName

NO_WORKER = "no worker is consuming the gpu queue"


def not_ready_reason() -> str | None:
    """Why nothing would translate work sent now, or None: a worker process beats (it consumes
    the `gpu` queue while it does). Embedded: always ready (this process is the worker)."""
    try:
        return NO_WORKER if liveness.live_worker_count() == 0 else None
    except liveness.LivenessUnknown as exc:
        return f"the broker (Redis) cannot be read: {exc}"


def get_translation(translation_id: str | uuid.UUID) -> Translation | None:
    try:
        return Translation.objects.filter(pk=translation_id).first()
    except (ValueError, TypeError, ValidationError):  # not a UUID
        return None


def list_translations(*, status: str | None = None, source: str | None = None) -> QuerySet:
    rows = Translation.objects.all()
    if status:
        rows = rows.filter(status=status)
    if source:
        rows = rows.filter(source=source)
    return rows


def load_input_audio(row: Translation) -> np.ndarray:
    """The input as 16 kHz mono float32 (the models' format): its file, or, for a row that
    keeps no audio, the cache (`transient_audio.AudioUnavailable` once it has expired)."""
    if not row.store_audio or not row.input_audio:  # no file (yet: a deferred row)
        return load_audio_16k(transient_audio.get_input(row.id))
    with row.input_audio.open("rb") as fh:
        return load_audio_16k(fh.read())


def job_state(row: Translation) -> JobMessage:
    """A job's state as `/ws/jobs/<id>` sends it and the API returns it (`JobMessage.state()`:
    one shape for both). The row's status and source are its choices' values (checked here)."""
    return JobMessage(
        id=str(row.id),
        status=cast(JobStatusName, row.status),
        source=cast(JobSource, row.source),
        src=row.src_lang or row.requested_src,
        tgt=row.tgt_lang or row.requested_tgt or None,
        voice=row.voice or None,
        source_text=row.source_text,
        text=row.text,
        tts_failed=row.tts_failed,
        error=row.error,
        timings=dict(row.timings),
        duration_s=row.duration_s,
        has_audio=row.status == Translation.Status.DONE
        and (
            bool(row.output_audio) or (not row.store_audio and transient_audio.has_output(row.id))
        ),
        created_at=row.created_at.isoformat() if row.created_at else None,
        finished_at=row.finished_at.isoformat() if row.finished_at else None,
    )
