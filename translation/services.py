"""Writes of the translation history, and delivery of results to live sessions."""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import PurePath
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from translation import liveness, storage, transient_audio
from translation.audio import (
    decode_audio_file,
    resample_float32,
    wav_bytes_from_float32,
)
from translation.constants import MODEL_SAMPLE_RATE
from translation.delivery import deliver_result, notify_job_status
from translation.dispatch import enqueue_translation
from translation.limits import quotas
from translation.limits.clients import Client
from translation.models import Translation
from translation.protocol import SessionConfig
from translation.vad import require_speech

logger = logging.getLogger(__name__)


# Channel-layer events to a live session, all handled by TranslateConsumer.translation_result:
# per utterance one result (or error), then audio frames, then an audio end.
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


def keeps_audio(config: SessionConfig) -> bool:
    """Are this session's (or upload's) recordings written to disk? Not when the server keeps
    none (STORE_AUDIO=0) or the client asked for none (`store_audio: false`)."""
    return bool(settings.STORE_AUDIO) and config.store_audio is not False


def submit_utterance(
    *,
    session_id: str,
    seq: int,
    reply_channel: str,
    audio: np.ndarray,
    config: SessionConfig,
    stream_start_s: float | None = None,
    stream_end_s: float | None = None,
    timings: dict[str, float] | None = None,
    client: Client | None = None,
) -> Translation:
    """Store a live utterance (16 kHz mono float32) and queue its translation. The stream
    times say where it lies in the session's audio (seconds since the session began).

    Its seconds count against the client's audio quota (LimitExceeded, nothing stored); a
    nearly full disk refuses it (MediaFull) when its recording would be kept."""
    row_id = uuid.uuid4()
    store = keeps_audio(config)
    if store:
        storage.require_free_space()
    duration_s = round(len(audio) / MODEL_SAMPLE_RATE, 3)
    charge = quotas.charge_audio(client, duration_s) if client else quotas.AudioCharge(None, 0)
    wav = wav_bytes_from_float32(audio, MODEL_SAMPLE_RATE)
    try:
        with transaction.atomic():
            row = Translation(
                id=row_id,
                source=Translation.Source.LIVE,
                session_id=session_id,
                seq=seq,
                reply_channel=reply_channel,
                client=client.key if client else "",
                store_audio=store,
                requested_src=config.src,
                requested_tgt=config.tgt or "",
                duration_s=duration_s,
                stream_start_s=stream_start_s,
                stream_end_s=stream_end_s,
                timings=dict(timings or {}),
                meta={"voices": dict(config.voices), "submitted_at": time.time()},
            )
            _keep_input(row, wav)
            row.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    except BaseException:
        charge.refund()
        raise
    return row


def _keep_input(row: Translation, wav: bytes) -> None:
    """The models' input: a file beside the row, or, keeping no audio, the cache."""
    if row.store_audio:
        row.input_audio.save(f"{row.id}.wav", ContentFile(wav), save=False)
    else:
        transient_audio.put_input(row.id, wav)


def submit_upload(
    *,
    data: bytes,
    filename: str,
    config: SessionConfig,
    max_duration_s: float | None = None,
    client: Client | None = None,
) -> Translation:
    """Store an uploaded recording and queue its translation.

    The file is decoded here (AudioFormatError for anything unusable, before anything is
    stored), kept as uploaded for staff, and stored as the models' input: a 16 kHz mono
    PCM_16 WAV, like a live utterance, so the worker reads it with `load_input_audio`.
    The models' input holds only the recording's speech (the VAD's spans, longer silences
    cut short); a recording with less speech than UTTERANCE_MIN_SPEECH_MS (silence, noise, a
    few milliseconds) raises NoSpeechFound, and nothing is stored or queued.

    Keeping no audio (`keeps_audio`), nothing is written to disk: the models' input waits in
    the cache. The recording's seconds count against the client's audio quota once decoded
    (LimitExceeded); a nearly full disk refuses it first (MediaFull).
    """
    store = keeps_audio(config)
    if store:
        storage.require_free_space()
    audio, sample_rate = decode_audio_file(data, max_duration_s=max_duration_s)
    duration_s = round(len(audio) / sample_rate, 3)
    model_input, speech = require_speech(
        resample_float32(audio, sample_rate),
        min_speech_ms=settings.UTTERANCE_MIN_SPEECH_MS,
        threshold=settings.VAD_THRESHOLD,
    )
    charge = quotas.charge_audio(client, duration_s) if client else quotas.AudioCharge(None, 0)
    wav = wav_bytes_from_float32(model_input, MODEL_SAMPLE_RATE)
    row_id = uuid.uuid4()
    original_name = _storage_name(filename)
    stored: list[str] = []
    try:
        with transaction.atomic():
            row = Translation(
                id=row_id,
                source=Translation.Source.UPLOAD,
                client=client.key if client else "",
                store_audio=store,
                requested_src=config.src,
                requested_tgt=config.tgt or "",
                duration_s=duration_s,
                meta={
                    "voices": dict(config.voices),
                    "submitted_at": time.time(),
                    "upload": {
                        "filename": original_name,
                        "bytes": len(data),
                        "sample_rate": sample_rate,
                    },
                    "speech": {
                        "speech_ms": round(speech.speech_ms),
                        "spans": len(speech.spans),
                        "model_input_s": round(len(model_input) / MODEL_SAMPLE_RATE, 3),
                    },
                },
            )
            if store:
                original = default_storage.save(
                    f"uploads/{row_id}/{_generated_upload_name(filename)}", ContentFile(data)
                )
                stored.append(original)
                row.meta["upload"]["stored_as"] = original
            _keep_input(row, wav)
            if row.input_audio:
                stored.append(str(row.input_audio.name))
            row.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_translation(str(row_id)))
    except BaseException:
        charge.refund()
        for name in stored:  # no row, no files
            default_storage.delete(name)
        raise
    return row


def _storage_name(filename: str) -> str:
    """A safe file name from a client's (possibly absent or hostile) upload name."""
    try:
        return get_valid_filename(PurePath(filename or "").name)[-100:]
    except SuspiciousFileOperation:
        return "upload"


def start_translation(translation_id: str, *, worker: str) -> Translation | None:
    """Mark a row running on `worker` (its identity, `liveness.this_worker`). None when the
    row is unknown, finished, or running on another live worker: a duplicate or redelivered
    message (that worker finishes it). A row whose worker died is taken over, or failed once it
    has had TRANSLATION_MAX_ATTEMPTS runs."""
    lost: Translation | None = None
    with transaction.atomic():
        row = Translation.objects.select_for_update().filter(pk=translation_id).first()
        if row is None or row.is_terminal:
            return None
        if row.status == Translation.Status.RUNNING and row.worker != worker:
            try:
                alive = row.worker in liveness.live_workers([row.worker])
            except liveness.LivenessUnknown:
                alive = True  # cannot tell: leave it to its worker or to recovery
            if alive:
                logger.info("translation %s runs on %s; skipping a duplicate", row.id, row.worker)
                return None
            if row.attempts >= settings.TRANSLATION_MAX_ATTEMPTS:
                lost = _mark_failed(row, WORKER_LOST_REASON.format(attempts=row.attempts))
        if lost is None:
            row.status = Translation.Status.RUNNING
            row.worker = worker[:200]
            row.attempts += 1
            row.started_at = timezone.now()
            submitted_at = row.meta.get("submitted_at")
            if submitted_at:
                row.timings["queue_ms"] = round((time.time() - submitted_at) * 1000.0, 2)
            row.save(update_fields=["status", "worker", "attempts", "started_at", "timings"])
    if lost is not None:
        _tell_waiters(lost)
        return None
    notify_job_status(row)
    return row


def _owned_by(row: Translation, worker: str | None) -> bool:
    """May `worker` record the end of this row? Yes while the run it started is the current one,
    or when recovery re-queued the row and nobody has started it again (the re-queued message
    then finds it finished). No once it is finished or another worker has started it."""
    if worker is None:  # a caller outside a worker's run (tests, tools): as before
        return True
    if row.status == Translation.Status.QUEUED:
        return True
    return row.status == Translation.Status.RUNNING and row.worker == worker


def finish_translation(
    translation_id: str, outcome: Outcome, *, worker: str | None = None
) -> Translation | None:
    """Record a finished translation (text, audio, timings) as done. With `worker`, only while
    that worker's run is the row's current one (`_owned_by`); None otherwise: the outcome of a
    run that was superseded is dropped, so no translation ever produces two results."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().get(pk=translation_id)
        if not _owned_by(row, worker):
            logger.info("translation %s: dropping the outcome of %s (%s)", row.id, worker, row)
            return None
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
            _keep_output(row, outcome.wav)
        row.save()
    if not row.store_audio:
        transient_audio.forget_input(row.id)
    notify_job_status(row)
    return row


def _keep_output(row: Translation, wav: bytes) -> None:
    """The translated WAV: a file beside the row; keeping no audio, an upload's waits in the
    cache for its one download, and a live utterance's (already sent) is not kept."""
    if row.store_audio:
        row.output_audio.save(f"{row.id}.wav", ContentFile(wav), save=False)
    elif row.source == Translation.Source.UPLOAD:
        transient_audio.put_output(row.id, wav)


def fail_translation(
    translation_id: str, error: str, *, worker: str | None = None
) -> Translation | None:
    """Record that a translation failed, with a reason a person can act on. With `worker`,
    only while that worker's run is the row's current one; None when unknown or not."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().filter(pk=translation_id).first()
        if row is None or (worker is not None and not _owned_by(row, worker)):
            return None
        _mark_failed(row, error)
    if not row.store_audio:
        transient_audio.forget_input(row.id)
    notify_job_status(row)
    return row


def _mark_failed(row: Translation, error: str) -> Translation:
    row.status = Translation.Status.FAILED
    row.error = error
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "error", "finished_at"])
    return row


def _tell_waiters(row: Translation) -> None:
    """A row that failed outside its own run: its upload watchers and live session learn it."""
    notify_job_status(row)
    deliver_result(row, wav=None)


STALE_REASON = (
    "no worker finished this translation in time (the worker may have died or the task been "
    "lost); it was marked failed after {age:.0f} s: send it again"
)


def fail_stale_translations(*, older_than_s: float) -> list[Translation]:
    """Mark rows stuck in `queued`/`running` for longer than `older_than_s` as failed, and tell
    whoever waits for them (upload watchers, the live session). Returns the rows it failed.

    A running row's age counts from its (latest) start, a queued row's from its creation.
    Rows locked by someone else right now are skipped (another sweeper, or a worker finishing
    them), so several workers may sweep at once.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_s)
    stuck = Q(status=Translation.Status.QUEUED, created_at__lt=cutoff) | Q(
        status=Translation.Status.RUNNING, started_at__lt=cutoff
    )
    failed: list[Translation] = []
    with transaction.atomic():
        rows = Translation.objects.select_for_update(skip_locked=True).filter(stuck)
        for row in rows:
            since = row.started_at if row.status == Translation.Status.RUNNING else row.created_at
            since = since or row.created_at  # a running row always has started_at
            row.error = STALE_REASON.format(age=(now - since).total_seconds())
            row.status = Translation.Status.FAILED
            row.finished_at = now
            row.save(update_fields=["status", "error", "finished_at"])
            failed.append(row)
    for row in failed:
        logger.warning("translation %s was stuck; marked failed: %s", row.id, row.error)
        notify_job_status(row)
        deliver_result(row, wav=None)
    return failed


WORKER_LOST_REASON = (
    "the worker translating this stopped (it was killed or lost its connection) on each of "
    "{attempts} attempts; it was not tried again: send it again, or check the worker logs if "
    "it keeps happening"
)


@dataclass(frozen=True)
class Recovery:
    """What one recovery pass did: rows re-queued, rows failed after their last attempt, and
    ids of queued rows whose lost task was sent again."""

    requeued: list[Translation]
    failed: list[Translation]
    resent: list[str] = field(default_factory=list)


def recover_translations() -> Recovery:
    """Re-queue every `running` row whose worker is dead (its heartbeat expired, see
    `translation.liveness`), or fail it with a clear error once it has had
    TRANSLATION_MAX_ATTEMPTS runs; tell the failed rows' waiters. Nothing happens while the
    heartbeats cannot be read. Rows locked by someone else are skipped (several processes
    recover at once), and a re-queued row's old message, should the broker deliver it again,
    finds the row taken or finished (`start_translation`)."""
    running = Translation.objects.filter(status=Translation.Status.RUNNING)
    workers = set(running.values_list("worker", flat=True).distinct())
    try:
        dead = workers - liveness.live_workers(workers)
    except liveness.LivenessUnknown as exc:
        logger.warning("recovery skipped: worker heartbeats unreadable: %s", exc)
        return Recovery([], [])
    requeued: list[Translation] = []
    failed: list[Translation] = []
    with transaction.atomic():
        rows = running.select_for_update(skip_locked=True).filter(worker__in=dead)
        for row in rows:
            if row.attempts >= settings.TRANSLATION_MAX_ATTEMPTS:
                failed.append(_mark_failed(row, WORKER_LOST_REASON.format(attempts=row.attempts)))
                continue
            row.meta = {**row.meta, "recovered": [*row.meta.get("recovered", []), row.worker]}
            row.status = Translation.Status.QUEUED
            row.save(update_fields=["status", "meta"])
            transaction.on_commit(partial(enqueue_translation, str(row.id)))
            requeued.append(row)
    resent = _resend_lost_tasks()
    for row in requeued:
        logger.warning(
            "translation %s: worker %s is gone; re-queued (attempt %d of %d next)",
            row.id,
            row.worker,
            row.attempts + 1,
            settings.TRANSLATION_MAX_ATTEMPTS,
        )
    for row in failed:
        logger.warning(
            "translation %s: worker %s is gone; failed: %s", row.id, row.worker, row.error
        )
        _tell_waiters(row)
    return Recovery(requeued, failed, resent)


def _resend_lost_tasks() -> list[str]:
    """Send the task again for every row `queued` for over WORKER_DEAD_AFTER_S whose message no
    longer waits in the broker: a worker took it and died before starting it, or the broker
    lost it. If a live worker does hold it after all, the copy is skipped (`start_translation`).
    Returns the ids sent again."""
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_S)
    old = Translation.objects.filter(status=Translation.Status.QUEUED, created_at__lt=cutoff)
    ids = [str(pk) for pk in old.values_list("pk", flat=True)]
    if not ids:
        return []
    try:
        waiting = liveness.waiting_translations()
    except liveness.LivenessUnknown:
        return []
    lost = [pk for pk in ids if pk not in waiting]
    for pk in lost:
        logger.warning("translation %s: queued, but its task is gone; sending it again", pk)
        enqueue_translation(pk)
    return lost


def _generated_upload_name(filename: str) -> str:
    """The stored name of an upload's original file: generated, never the client's. Only a
    short alphanumeric extension of the client's name is kept, for people browsing the files."""
    suffix = PurePath(_storage_name(filename)).suffix.lower()
    return "original" + (suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else "")
