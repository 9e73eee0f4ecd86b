"""Rows whose run was lost: stale ones failed (`fail_stale_translations`), those of dead
workers re-queued or failed after their last attempt, and queued rows whose task is gone sent
again (`recover_translations`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from translation.jobs import liveness
from translation.jobs.delivery import deliver_result, notify_job_status
from translation.jobs.lifecycle import WORKER_LOST_REASON, mark_failed, tell_waiters
from translation.messaging.dispatch import enqueue_translation
from translation.models import Translation

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Recovery:
    """What one recovery pass did: rows re-queued, rows failed after their last attempt, and
    ids of queued rows whose lost task was sent again."""

    requeued: list[Translation]
    failed: list[Translation]
    resent: list[str] = field(default_factory=list)


def recover_translations() -> Recovery:
    """Re-queue every `running` row whose worker is dead (its heartbeat expired, see
    `translation.jobs.liveness`), or fail it with a clear error once it has had
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
                failed.append(mark_failed(row, WORKER_LOST_REASON.format(attempts=row.attempts)))
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
        tell_waiters(row)
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
