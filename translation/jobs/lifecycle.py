"""Writes of a job's run: a worker starts it, finishes it or fails it; and telling whoever
waits for a row that failed outside its own run."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from translation.events import Outcome
from translation.jobs import liveness
from translation.jobs.delivery import deliver_result, notify_job_status
from translation.models import Translation

logger = logging.getLogger(__name__)

WORKER_LOST_REASON = (
    "the worker translating this stopped (it was killed or lost its connection) on each of "
    "{attempts} attempts; it was not tried again: send it again, or check the worker logs if "
    "it keeps happening"
)


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
                lost = mark_failed(row, WORKER_LOST_REASON.format(attempts=row.attempts))
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
        tell_waiters(lost)
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
            row.output_audio.save(f"{row.id}.wav", ContentFile(outcome.wav), save=False)
        row.save()
    notify_job_status(row)
    return row


def fail_translation(
    translation_id: str, error: str, *, worker: str | None = None
) -> Translation | None:
    """Record that a translation failed, with a reason a person can act on. With `worker`,
    only while that worker's run is the row's current one; None when unknown or not."""
    with transaction.atomic():
        row = Translation.objects.select_for_update().filter(pk=translation_id).first()
        if row is None or (worker is not None and not _owned_by(row, worker)):
            return None
        mark_failed(row, error)
    notify_job_status(row)
    return row


def mark_failed(row: Translation, error: str) -> Translation:
    row.status = Translation.Status.FAILED
    row.error = error
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "error", "finished_at"])
    return row


def tell_waiters(row: Translation) -> None:
    """A row that failed outside its own run: its upload watchers and live session learn it."""
    notify_job_status(row)
    deliver_result(row, wav=None)
